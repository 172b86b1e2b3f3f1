"""Viscous Hamilton-Jacobi equation and local entropy (THEORY.md section 1).

    u_t = -1/2 |grad u|^2 + (1 / (2 beta)) Laplace u,   u(x, 0) = f(x),

whose solution u(x, t) = f_t(x) is the local entropy of f with scope t at inverse temperature beta.
Cole-Hopf: u = -beta^-1 log( G_{t/beta} * exp(-beta f) ) with G_s the Gaussian of variance s per axis.

* :func:`local_entropy` evaluates Cole-Hopf exactly on the grid, in log space, one axis at a time.
* :func:`solve_viscous` is the Numba time stepper (WENO5 / ENO2 / central gradients, Godunov or
  Lax-Friedrichs Hamiltonian, central Laplacian, TVD-RK3, automatic stable step; or ``time_stepper="etdrk4"``,
  the Laplacian exactly in its FFT / DCT eigenbasis and no diffusion limit, :mod:`pde_sgd.hj.etd`), for checking
  and for problems where the exact formula does not apply.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..driver import output_times
from ..landscapes import values_on_grid
from ..results import Result
from ..validation import choice, positive
from .hamiltonians import Hamiltonian, as_hamiltonian
from .etd import TIME_STEPPERS, integrate_etd
from .schemes import integrate, numerical_hamiltonian
from ..grid import require_grid
from .separable import MAX_SHIFTS, log_heat_sweep


def local_entropy(f_values, grid, t: float, beta: float) -> Result:
    """Exact Cole-Hopf solution u(., t) of the viscous HJ equation on ``grid`` (the local entropy f_t).

    u(x) = min f - beta^-1 log sum_y K(x - y) exp(-beta (f(y) - min f)), the sum over the lattice of cell
    centres with the Gaussian weights K of variance t / beta per axis, normalised to sum to one over the
    infinite lattice (the midpoint rule of the Cole-Hopf integral, spectrally accurate once the Gibbs measure
    below spans a few cells; a constant f is reproduced exactly). Computed in log space (log-sum-exp), so it
    stays finite for any beta (max f - min f); separable, one O(N R/h) sweep per axis, where shifts longer than
    R = sqrt(2 t (max f - min f + 50 / beta)) are dropped (relative weight < e^-50). The kernel is limited to
    :data:`pde_sgd.hj.separable.MAX_SHIFTS` = 1e6 cells: ValueError (naming t, beta and f_values) unless
    t (max f - min f + 800 / beta) <= ((1e6 - 2) h)^2 / 2, h the smallest grid spacing.

    Boundaries: f is extended periodically (``"periodic"``) or by mirror reflection about the outer faces
    (``"neumann"``: the exact solution of the Neumann heat problem for w = exp(-beta u)). To compare with a
    closed form on R^d, use a box large enough that the extension does not reach the region compared.

    Parameters
    ----------
    f_values : array of shape grid.shape (finite), or a :class:`~pde_sgd.landscapes.Landscape` sampled on the grid.
    grid : :class:`pde_sgd.Grid`.
    t : scope (HJ time) > 0.   beta : inverse temperature > 0.

    Returns
    -------
    Result ``"hj.local_entropy"`` with arrays ``u`` (grid.shape), ``mean_y``, the Gibbs mean <y> of
    rho(y; x) ∝ exp(-beta f(y) - beta |x - y|^2 / (2t)), and ``grad`` = grad u = (x - <y>) / t (each
    grid.shape + (ndim,)); params ``grid``, ``t``, ``beta``. <y> is in unfolded coordinates (a periodic or
    mirror image may lie outside the box), so that x - <y> is the true displacement.
    """
    f = values_on_grid(f_values, require_grid(grid))
    t, beta = positive("t", t), positive("beta", beta)
    fmin = float(f.min())
    spread = float(np.ptp(f))
    h = min(grid.spacing)
    # the kernel keeps ceil(R / h) shifts and sums ceil(sqrt(1600 t / beta) / h) + 1 for its normalisation;
    # both are < MAX_SHIFTS when 2 t (max f - min f + 800 / beta) <= ((MAX_SHIFTS - 2) h)^2
    allowed = 0.5 * ((MAX_SHIFTS - 2) * h) ** 2
    if not t * (spread + 800.0 / beta) <= allowed:
        raise ValueError(f"local_entropy: t * (max f_values - min f_values + 800 / beta) must be <= {allowed:.4g} "
                         f"(a Gaussian kernel of at most {MAX_SHIFTS:.0e} cells of size {h:.3g}); got t = {t:.4g}, "
                         f"beta = {beta:.4g}, max f_values - min f_values = {spread:.4g}: reduce t or the range of "
                         f"f_values, or increase beta")
    radius = math.sqrt(2.0 * t * (spread + 50.0 / beta))
    log_mass, mean_y = log_heat_sweep(-beta * (f - fmin), grid, t / beta, radius)
    u = fmin - log_mass / beta
    grad = (np.stack(grid.coords, axis=-1) - mean_y) / t
    return Result("hj.local_entropy", {"u": u, "mean_y": mean_y, "grad": grad},
                  {"grid": grid, "t": t, "beta": beta})


def solve_viscous(f_values, grid, beta: float, *, times: float | Sequence[float] | None = None,
                  T: float | None = None, n_saves: int | None = None, scheme: str = "weno5",
                  H: Hamiltonian | None = None, hamiltonian: str | None = None, cfl: float = 0.5,
                  max_dt: float | None = None, time_stepper: str = "rk3", progress: bool | None = None,
                  threads: int | None = None) -> Result:
    """Integrate u_t = -H(x, grad u) + (1/(2 beta)) Laplace u, by default H = 1/2 |p|^2, from u(., 0) = f.

    ``H``: a user :class:`~pde_sgd.hj.hamiltonians.Hamiltonian` (e.g. the HJB equation of stochastic control),
    with the same numerical Hamiltonians as :func:`~pde_sgd.hj.solve_inviscid`.

    Method of lines (see :mod:`pde_sgd.hj.schemes`): ``scheme`` in {"weno5", "eno2", "central", "central4",
    "upwind1"} for the gradients, ``hamiltonian`` in {"godunov", "lax_friedrichs"}, central Laplacian, TVD-RK3.
    The step is chosen every step from the Hamiltonian CFL condition and the diffusion limit,
    dt = cfl / (sum_a max|p_a| / h_a + c nu sum_a 1 / h_a^2), nu = 1 / (2 beta), c = 2 (8/3 for "central4"),
    capped by ``max_dt``, and shortened to land on each requested time. Smooth solutions converge at second order with
    every scheme but "central4" (the three-point Laplacian sets the order; "weno5" has the smallest error
    constant and stays robust for large beta, "central" is the cheapest per step); "central4" (five-point
    gradient and Laplacian) converges at fourth order, so a coarser grid reaches the same error.
    Boundaries: periodic, or mirror ghost cells (zero normal gradient) for Neumann.

    ``time_stepper``: ``"rk3"`` (default; the explicit TVD-RK3 above, held by the diffusion limit dt ~ h^2 beta)
    or ``"etdrk4"`` (:mod:`pde_sgd.hj.etd`: the same spatial discretisation, the Laplacian integrated exactly in
    its FFT / DCT eigenbasis, the Hamiltonian by fourth-order exponential Runge-Kutta, uniform steps between
    output times with dt = cfl / sum_a alpha_a / h_a capped by ``max_dt``: no diffusion limit, fourth order in
    time). "etdrk4" pays off where the diffusion limit holds "rk3" far below the Hamiltonian CFL step (fine
    grids, small beta, and "central4" on coarse grids at a given error); "rk3" stays the default because at
    cfl-limited steps it costs less per unit time (no transforms) and is TVD for non-smooth solutions.
    ``cfl`` for "etdrk4": in (0, 1000]; above 1 it leans on the diffusion for stability (see
    :mod:`pde_sgd.hj.etd`), and on smooth problems accuracy rather than stability sets it (error O(dt^4)).

    Output times: ``times`` (>= 0, non-decreasing) or ``T`` with ``n_saves`` (see
    :func:`pde_sgd.driver.output_times`). ``progress``, ``threads``: see :mod:`pde_sgd.driver`.

    Returns a :class:`pde_sgd.Result` (kind ``"hj.viscous"``) with arrays ``times`` (n_times,) and ``u``
    (n_times, *grid.shape), params (grid, beta, scheme, hamiltonian, cfl, max_dt, steps) and stats.
    """
    f = values_on_grid(f_values, require_grid(grid))
    beta = positive("beta", beta)
    times = output_times(times, T, n_saves)
    hamiltonian = numerical_hamiltonian(hamiltonian, as_hamiltonian(H))
    run = integrate if choice("time_stepper", time_stepper, TIME_STEPPERS) == "rk3" else integrate_etd
    times, snaps, stats = run(f, grid, times, 0.5 / beta, scheme, hamiltonian, cfl, max_dt, progress, H, threads)
    return Result("hj.viscous", {"times": times, "u": snaps},
                  {"grid": grid, "beta": beta, "scheme": scheme, "hamiltonian": hamiltonian, "cfl": cfl,
                   "max_dt": max_dt, "time_stepper": time_stepper, "steps": stats["steps"],
                   "H": "|p|^2/2" if H is None else H.describe()}, stats)
