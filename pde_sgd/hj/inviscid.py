"""Inviscid Hamilton-Jacobi equation, Moreau envelope and proximal point (THEORY.md section 2).

    u_t = -1/2 |grad u|^2,  u(x, 0) = f(x);   Hopf-Lax: u(x, t) = min_y f(y) + |x - y|^2 / (2t),

the Moreau envelope of f with parameter t; the minimiser is prox_{t f}(x) and grad u = (x - prox) / t.

* :func:`moreau_envelope`: the exact minimum over the grid, O(N) per axis (lower envelope of parabolas).
* :func:`solve_inviscid`: Numba time stepper (Godunov / Lax-Friedrichs with upwind1, ENO2 or WENO5
  derivatives, TVD-RK3, CFL-controlled).
* :func:`proximal_point`: the iteration x_{k+1} = prox_{t f}(x_k) on a landscape.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

from ..driver import output_times
from ..jitfuncs import jit_call
from ..landscapes import Landscape, as_landscape, jit_grad, jit_hess, jit_value, values_on_grid
from ..results import Result
from ..validation import finite_array, positive, positive_int
from .hamiltonians import Hamiltonian, as_hamiltonian as _as_hamiltonian
from .schemes import integrate, numerical_hamiltonian
from ..grid import require_grid
from .separable import parabola_envelope_sweep


def moreau_envelope(f_values, grid, t: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact Hopf-Lax minimum on the grid: u(x) = min_y f(y) + |x - y|^2 / (2t) over the cell centres y.

    One lower-envelope-of-parabolas sweep per axis, O(N) per line (the d-dimensional minimum separates over
    axes). Periodic axes include the periodic images of f within reach; on Neumann axes the minimum is over the
    box (mirror images are never closer, so this is also the even extension's minimum).
    Exact invariants on the grid: u <= f, u non-increasing in t, min u = min f, second differences <= 1/t.

    Returns (u of shape grid.shape, prox of shape grid.shape + (ndim,)), prox in unfolded coordinates
    (a periodic image may lie outside the box), so that grad u ≈ (x - prox) / t.
    """
    f = values_on_grid(f_values, require_grid(grid))
    t = positive("t", t)
    scale = float(np.max(np.abs(f))) * t + max(u - l for l, u in zip(grid.lower, grid.upper)) ** 2
    if not np.isfinite(2.0 * scale):
        raise ValueError(f"moreau_envelope: 2 t max|f_values| + box size^2 overflows (t = {t:.3g}, max|f_values| = "
                         f"{float(np.max(np.abs(f))):.3g}); rescale f_values or reduce t")
    return parabola_envelope_sweep(f, grid, t)


def solve_inviscid(f_values, grid, *, times: float | Sequence[float] | None = None, T: float | None = None,
                   n_saves: int | None = None, scheme: str = "weno5", H: Hamiltonian | None = None,
                   hamiltonian: str | None = None, cfl: float = 0.5, max_dt: float | None = None,
                   progress: bool | None = None, threads: int | None = None) -> Result:
    """Integrate u_t + H(x, grad u) = 0, by default H = 1/2 |p|^2, from u(., 0) = f to the requested ``times``.

    ``f_values``: values on the grid or a Landscape. ``H``: a :class:`~pde_sgd.hj.hamiltonians.Hamiltonian`
    (its bound on |dH/dp| sets the dissipation and the step). ``scheme`` in {"weno5", "eno2", "upwind1"} gives
    the one-sided derivatives, ``hamiltonian`` in {"godunov", "lax_friedrichs"} the monotone numerical
    Hamiltonian (default: Godunov where H is |p|^2/2 or declared convex and separable), time is TVD-RK3 with
    dt = cfl / sum_a (max |p_a| / h_a) chosen every step (capped by ``max_dt``) and shortened to land on each
    requested time (see :mod:`pde_sgd.hj.schemes`). Boundaries: periodic, or mirror ghost cells (Neumann).

    Output times: ``times`` (>= 0, non-decreasing) or ``T`` with ``n_saves`` (see
    :func:`pde_sgd.driver.output_times`). ``progress``, ``threads``: see :mod:`pde_sgd.driver`.

    Returns a :class:`pde_sgd.Result` (kind ``"hj.inviscid"``) with arrays ``times`` and ``u``
    (n_times, *grid.shape), params (grid, scheme, hamiltonian, cfl, max_dt, steps) and stats.
    """
    if scheme in ("central", "central4"):
        raise ValueError(f"scheme {scheme!r} is unstable without viscosity; allowed: 'weno5', 'eno2', 'upwind1'")
    f = values_on_grid(f_values, require_grid(grid))
    times = output_times(times, T, n_saves)
    hamiltonian = numerical_hamiltonian(hamiltonian, _as_hamiltonian(H))
    times, snaps, stats = integrate(f, grid, times, 0.0, scheme, hamiltonian, cfl, max_dt, progress, H, threads)
    return Result("hj.inviscid", {"times": times, "u": snaps},
                  {"grid": grid, "scheme": scheme, "hamiltonian": hamiltonian, "cfl": cfl, "max_dt": max_dt,
                   "steps": stats["steps"], "H": "|p|^2/2" if H is None else H.describe()}, stats)


@njit(cache=True)
def _newton_step(H, g, out, L):
    """out = H^-1 g by Cholesky (H is small and symmetric); returns False if H is not positive definite.

    ``L`` (d, d) is caller-owned scratch for the Cholesky factor (only its lower triangle is written and read,
    so it needs no initialisation)."""
    d = H.shape[0]
    for j in range(d):
        s = H[j, j]
        for k in range(j):
            s -= L[j, k] * L[j, k]
        if s <= 0.0:
            return False
        L[j, j] = np.sqrt(s)
        for i in range(j + 1, d):
            s = H[i, j]
            for k in range(j):
                s -= L[i, k] * L[j, k]
            L[i, j] = s / L[j, j]
    for i in range(d):  # forward then backward substitution
        s = g[i]
        for k in range(i):
            s -= L[i, k] * out[k]
        out[i] = s / L[i, i]
    for i in range(d - 1, -1, -1):
        s = out[i]
        for k in range(i + 1, d):
            s -= L[k, i] * out[k]
        out[i] = s / L[i, i]
    return True


@njit(cache=True)
def _prox_iterations(lf, pts, fvals, x0, t, n_steps, newton, path):
    """path[k, n] = prox_{t f}^k(x0[n]): grid search over ``pts`` then safeguarded Newton steps."""
    n_paths, d = x0.shape
    x = np.empty(d)  # scratch shared by all paths and iterations: no allocation inside the loops
    y = np.empty(d)
    g = np.empty(d)
    hess = np.empty((d, d))
    chol = np.empty((d, d))
    step = np.empty(d)
    y_new = np.empty(d)
    for n in range(n_paths):
        x[:] = x0[n]
        path[0, n] = x
        for k in range(n_steps):
            best, jbest = np.inf, 0
            for j in range(pts.shape[0]):
                c = fvals[j]
                for i in range(d):
                    c += (pts[j, i] - x[i]) ** 2 / (2.0 * t)
                if c < best:
                    best, jbest = c, j
            y[:] = pts[jbest]
            for _ in range(newton):  # Newton on f(y) + |y - x|^2 / (2t); keep only steps that decrease it
                jit_grad(lf, y, g)
                jit_hess(lf, y, hess)
                for i in range(d):
                    g[i] += (y[i] - x[i]) / t
                    hess[i, i] += 1.0 / t
                if not _newton_step(hess, g, step, chol):
                    break
                size = 0.0
                for i in range(d):
                    y_new[i] = y[i] - step[i]
                    size = max(size, abs(step[i]))
                c_new = jit_value(lf, y_new)
                for i in range(d):
                    c_new += (y_new[i] - x[i]) ** 2 / (2.0 * t)
                if not c_new < best:
                    break
                best = c_new
                y[:] = y_new
                if size < 1e-14:
                    break
            x[:] = y
            path[k + 1, n] = x


def proximal_point(landscape: Landscape, grid, x0, t: float, n_steps: int, newton_steps: int = 20) -> Result:
    """The proximal point iteration x_{k+1} = prox_{t f}(x_k) = argmin_y f(y) + |y - x_k|^2 / (2t).

    Each prox is the global minimum over the cell centres of ``grid`` (a brute-force search, O(N) per step and
    path), refined by up to ``newton_steps`` Newton steps on f(y) + |y - x_k|^2 / (2t) with the landscape's
    gradient and Hessian, each accepted only if it lowers the objective. ``x0`` has shape (n_paths, dim) or
    (dim,). Returns a :class:`pde_sgd.Result` (kind ``"hj.proximal_point"``) with arrays ``path``
    (n_steps + 1, n_paths, dim) and ``f`` (n_steps + 1, n_paths).
    """
    as_landscape(landscape)._check_grid(require_grid(grid))
    x = finite_array("x0", x0)
    x = np.ascontiguousarray(x.reshape(1, -1) if x.ndim == 1 else x)
    if x.ndim != 2 or x.shape[1] != grid.ndim:
        raise ValueError(f"x0 must have shape (n_paths, {grid.ndim}) or ({grid.ndim},), got {np.shape(x0)}")
    t = positive("t", t)
    n_steps = positive_int("n_steps", n_steps, minimum=0)
    newton_steps = positive_int("newton_steps", newton_steps, minimum=0)
    pts = np.ascontiguousarray(grid.points())
    path = np.empty((n_steps + 1,) + x.shape)
    jit_call(_prox_iterations, landscape.jit, pts, landscape.value(pts), x, t, n_steps, newton_steps,
                     path)
    return Result("hj.proximal_point", {"path": path, "f": landscape.value(path)},
                  {"landscape": landscape, "grid": grid, "t": t, "n_steps": n_steps, "newton_steps": newton_steps})
