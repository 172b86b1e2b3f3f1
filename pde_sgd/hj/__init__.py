"""Hamilton-Jacobi equations of SGD: local entropy (viscous) and Moreau envelope (inviscid).

    viscous    u_t = -1/2 |grad u|^2 + (1 / (2 beta)) Laplace u    (u(., t) = local entropy f_t)
    inviscid   u_t = -1/2 |grad u|^2                               (u(., t) = Moreau envelope of f)

Exact grid references (:func:`local_entropy`, :func:`moreau_envelope`), Numba time steppers
(:func:`solve_viscous`, :func:`solve_inviscid`; also for a user :class:`Hamiltonian` H(x, p), e.g. the HJB
equation of stochastic control), the proximal point iteration, and closed forms in :mod:`pde_sgd.hj.exact`.
"""
from . import exact
from .inviscid import moreau_envelope, proximal_point, solve_inviscid
from .hamiltonians import Hamiltonian
from .schemes import FLUX_TABLE, HAMILTONIANS, SCHEME_TABLE, SCHEMES
from .viscous import local_entropy, solve_viscous

__all__ = ["local_entropy", "solve_viscous", "moreau_envelope", "solve_inviscid", "proximal_point", "exact",
           "SCHEMES", "HAMILTONIANS", "Hamiltonian", "SCHEME_TABLE", "FLUX_TABLE"]
