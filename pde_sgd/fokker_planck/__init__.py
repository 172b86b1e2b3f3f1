"""Fokker-Planck evolution with anisotropic, space-dependent diffusion D(x) (THEORY.md section 3).

    rho_t = div( grad f rho + beta^-1 div(D rho) )

:class:`FokkerPlanck` is the solver (finite volume, exponential fitting, cross-diffusion stencil; explicit
Numba, implicit sparse and exact-in-time stepping; steady state by a sparse solve; potential Phi, current J,
leftover field j, free energy). :mod:`.exact` holds the exact references (OU Gaussians, Lyapunov covariance,
the linear recipe U, Q, G, 1-D space-dependent D, D = 1 + a f, the OU steady current).
"""
from . import exact
from .operator import FPOperator, explicit_dt_limit
from .solver import FokkerPlanck

__all__ = ["FokkerPlanck", "FPOperator", "explicit_dt_limit", "exact"]
