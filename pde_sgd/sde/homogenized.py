"""The homogenized limit of Entropy-SGD and Elastic-SGD (THEORY.md section 4).

As eps -> 0 both fast/slow systems converge to the deterministic dynamics

    dX/ds = -gamma^-1 (X - <y>(X)) = -grad f_gamma(X),

where <y>(X) is the mean of rho_inf(y; X) ∝ exp(-beta f(y) - beta |X - y|^2 / (2 gamma)): gradient descent on the
local entropy f_gamma, i.e. on the viscous HJ solution u(., t = gamma). <y> is computed by quadrature on a
uniform grid with log-sum-exp weights (exp(-beta f) underflows for realistic beta); trapezoidal quadrature of a
smooth, rapidly decaying integrand converges spectrally, so the grid only has to resolve the width
1 / sqrt(beta (f'' + 1/gamma)) of rho_inf (:func:`max_quadrature_spacing`; the default grid is refined until it
does, a user grid that does not is rejected) and to contain the mass (checked). The ODE is integrated with RK4.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..grid import Grid
from ..landscapes import Landscape, as_landscape
from ..results import Result
from ..validation import finite_array, positive, positive_int, require_instance
from .chunks import drive_blocks, run_blocks
from .common import check_output_fits, equal_saves, initial_states, round_to_saves

_DEFAULT_POINTS = {1: 1201, 2: 161, 3: 41}


@njit(cache=True)
def _gibbs_mean(X, pts, fvals, beta, gamma, out):
    """<y> of rho_inf(.; X) by log-sum-exp quadrature; returns the largest log-weight (for the boundary check).

    One streaming pass, no allocation: the running sums are kept relative to the largest log-weight seen so far
    and rescaled by exp(old max - new max) when a larger one appears.
    """
    n, d = pts.shape
    lmax = -np.inf
    tot = 0.0
    out[:] = 0.0
    for k in range(n):
        r2 = 0.0
        for i in range(d):
            r2 += (X[i] - pts[k, i]) ** 2
        lw = -beta * fvals[k] - beta * r2 / (2.0 * gamma)
        if lw > lmax:
            c = math.exp(lmax - lw)
            tot *= c
            for i in range(d):
                out[i] *= c
            lmax = lw
        w = math.exp(lw - lmax)
        tot += w
        for i in range(d):
            out[i] += w * pts[k, i]
    for i in range(d):
        out[i] /= tot
    return lmax


@njit(cache=True)
def _boundary_weight(X, bpts, bf, beta, gamma, lmax):
    worst = 0.0
    for k in range(bpts.shape[0]):
        r2 = 0.0
        for i in range(bpts.shape[1]):
            r2 += (X[i] - bpts[k, i]) ** 2
        worst = max(worst, math.exp(-beta * bf[k] - beta * r2 / (2.0 * gamma) - lmax))
    return worst


@njit(cache=True)
def _rhs(X, pts, fvals, bpts, bf, beta, gamma, out):
    lmax = _gibbs_mean(X, pts, fvals, beta, gamma, out)
    for i in range(X.shape[0]):
        out[i] = -(X[i] - out[i]) / gamma
    return _boundary_weight(X, bpts, bf, beta, gamma, lmax)


@njit(cache=True, nogil=True, no_cfunc_wrapper=True)
def _rk4_paths(b0, b1, X, pts, fvals, bpts, bf, beta, gamma, dt, k0, n_steps, save_every, out, worst):
    """Paths b0 .. b1 - 1 of the state X (n, dim), advanced in place over steps k0 .. k0 + n_steps - 1 of RK4
    (the state after step k saved into row (k + 1) / save_every of ``out`` where that is whole); ``worst[p]``:
    the largest relative boundary weight met (:func:`_boundary_weight`)."""
    d = X.shape[1]
    k1, k2, k3, k4, tmp = np.empty(d), np.empty(d), np.empty(d), np.empty(d), np.empty(d)
    for p in range(b0, b1):
        x = X[p]
        for s in range(k0, k0 + n_steps):
            w = _rhs(x, pts, fvals, bpts, bf, beta, gamma, k1)
            for i in range(d):
                tmp[i] = x[i] + 0.5 * dt * k1[i]
            w = max(w, _rhs(tmp, pts, fvals, bpts, bf, beta, gamma, k2))
            for i in range(d):
                tmp[i] = x[i] + 0.5 * dt * k2[i]
            w = max(w, _rhs(tmp, pts, fvals, bpts, bf, beta, gamma, k3))
            for i in range(d):
                tmp[i] = x[i] + dt * k3[i]
            w = max(w, _rhs(tmp, pts, fvals, bpts, bf, beta, gamma, k4))
            for i in range(d):
                x[i] += dt * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]) / 6.0
            worst[p] = max(worst[p], w)
            if (s + 1) % save_every == 0:
                for i in range(d):  # not out[row, p] = x: an array assignment takes ~2 s more to compile
                    out[(s + 1) // save_every, p, i] = x[i]


def max_quadrature_spacing(landscape: Landscape, pts: np.ndarray, beta: float, gamma: float) -> float:
    """Largest spacing that resolves rho_inf on ``pts``: 0.5 / sqrt(beta (max(lambda_max(Hess f), 0) + 1/gamma)).

    rho_inf(y; X) ∝ exp(-beta f(y) - beta |X - y|^2 / (2 gamma)) has local width 1 / sqrt(beta (f'' + 1/gamma)),
    narrower than the coupling's sqrt(gamma / beta) wherever f is sharply curved; the max runs over ``pts``.
    """
    lam = float(np.linalg.eigvalsh(landscape.hessian(pts)).max())
    return 0.5 / math.sqrt(beta * (max(lam, 0.0) + 1.0 / gamma))


class _Quadrature:
    """Quadrature points, f values there, and the boundary layer of the box (for the mass check)."""

    def __init__(self, landscape: Landscape, grid: Grid, beta: float, gamma: float) -> None:
        if grid.ndim != landscape.dim:
            raise ValueError(f"grid has {grid.ndim} dimension(s) but the landscape has dim={landscape.dim}")
        self.pts = np.ascontiguousarray(grid.points())
        h_max = max_quadrature_spacing(landscape, self.pts, beta, gamma)
        if max(grid.spacing) > h_max:
            raise ValueError(f"quadrature grid spacing {max(grid.spacing):.3g} must be <= 0.5 / sqrt(beta (max "
                             f"lambda_max(Hess f) + 1/gamma)) = {h_max:.3g} (the width of rho_inf): refine grid")
        self.f = landscape.value(self.pts if landscape.dim > 1 else self.pts[:, 0])
        idx = np.stack(np.meshgrid(*[np.arange(n) for n in grid.shape], indexing="ij"), -1).reshape(-1, grid.ndim)
        on_edge = np.any((idx == 0) | (idx == np.array(grid.shape) - 1), axis=1)
        self.bpts = np.ascontiguousarray(self.pts[on_edge])
        self.bf = self.f[on_edge]


def default_quadrature_grid(x0: np.ndarray, beta: float, gamma: float, n_points: int | None = None,
                            landscape: Landscape | None = None) -> Grid:
    """The box [min x0 - R, max x0 + R]^d, R = 3 + 10 sqrt(gamma/beta), with 1201 / 161 / 41 points per axis.

    With ``landscape`` (and no ``n_points``) the point count is raised until the spacing is at most
    :func:`max_quadrature_spacing` over the grid's own points (so sharp wells are resolved automatically).
    """
    d = x0.shape[1]
    R = 3.0 + 10.0 * math.sqrt(gamma / beta)
    lo, hi = x0.min(0) - R, x0.max(0) + R
    n = _DEFAULT_POINTS[d] if n_points is None else positive_int("n_points", n_points, minimum=3)
    grid = Grid(lo, hi, [n] * d)
    if landscape is None or n_points is not None:
        return grid
    for _ in range(8):  # converges in one or two rounds: the max curvature seen only grows as the grid refines
        h_max = max_quadrature_spacing(landscape, np.ascontiguousarray(grid.points()), beta, gamma)
        if max(grid.spacing) <= h_max:
            break
        n = math.ceil(1.05 * n * max(grid.spacing) / h_max)
        grid = Grid(lo, hi, [n] * d)
    return grid


def gibbs_mean(landscape: Landscape, X, gamma: float, beta: float, grid: Grid | None = None) -> np.ndarray:
    """<y>(X), the mean of rho_inf(y; X), at points X (n, dim); grad f_gamma(X) = (X - <y>) / gamma."""
    landscape = as_landscape(landscape)
    gamma, beta = positive("gamma", gamma), positive("beta", beta)
    X = initial_states(X, np.atleast_2d(X).shape[0], landscape.dim) if np.ndim(X) > 1 else \
        initial_states(X, 1, landscape.dim)
    q = _Quadrature(landscape, grid or default_quadrature_grid(X, beta, gamma, landscape=landscape), beta, gamma)
    out = np.empty_like(X)
    for p in range(X.shape[0]):  # a handful of query points: no hot loop
        lmax = _gibbs_mean(X[p], q.pts, q.f, beta, gamma, out[p])
        _check_mass(_boundary_weight(X[p], q.bpts, q.bf, beta, gamma, lmax))
    return out


def _check_mass(worst: float) -> None:
    if worst > 1e-12:
        raise ValueError(f"rho_inf has relative weight {worst:.2g} on the quadrature box boundary: enlarge grid")


def homogenized(landscape: Landscape, beta: float, x0, *, gamma: float, T: float | None = None,
                n_saves: int | None = None, times=None, dt: float | None = None, grid: Grid | None = None,
                progress: bool | None = None, threads: int | None = None) -> Result:
    """Integrate dX/ds = -gamma^-1 (X - <y>(X)) from each row of ``x0`` (dim,) or (n, dim) up to time ``T``.

    Output times: ``T`` with ``n_saves`` (default 100) equally spaced saves, or ``times`` (starting at 0,
    equally spaced; :func:`pde_sgd.sde.common.equal_saves`). ``dt`` (default min(gamma, 1) / 20, rounded so that n_saves divides the step count) is the RK4 step;
    ``grid`` the quadrature grid (default :func:`default_quadrature_grid`). ``progress``, ``threads``: progress
    bar (None: on a terminal) and thread count (None: the current Numba count), see :mod:`pde_sgd.driver`; the
    paths run in chunks of steps and paths (:mod:`.chunks`; Ctrl-C between chunks), the same whatever the chunks
    or threads. Returns a Result of kind ``"sde.homogenized"`` with ``times`` (n_saves + 1,) and ``x``
    (n_saves + 1, n, dim), and ``stats`` (steps, substeps = 4 steps: the RK4 stages, wall_time, threads).
    """
    landscape = as_landscape(landscape)
    gamma, beta = positive("gamma", gamma), positive("beta", beta)
    T, n_saves = equal_saves(times, T, n_saves)
    X0 = finite_array("x0", x0)
    X0 = initial_states(X0, 1 if X0.ndim < 2 else X0.shape[0], landscape.dim)
    dt = positive("dt", dt) if dt is not None else min(gamma, 1.0) / 20.0
    dt, per_save = round_to_saves(T, n_saves, dt)
    grid = grid or default_quadrature_grid(X0, beta, gamma, landscape=landscape)
    q = _Quadrature(landscape, grid, beta, gamma)
    n_steps = n_saves * per_save
    check_output_fits(n_saves + 2, X0.shape[0], landscape.dim)
    traj = np.empty((n_saves + 1,) + X0.shape)
    traj[0] = X0
    X, worst = X0.copy(), np.zeros(X0.shape[0])
    args = (X, q.pts, q.f, q.bpts, q.bf, beta, gamma, dt)

    def chunk(b0, b1, k0, n, threads):
        run_blocks(_rk4_paths, b0, b1, threads, args + (k0, n, per_save, traj, worst))

    # a path is its own block; one quadrature point costs about one SGD path-step, four stages per step
    stats = drive_blocks(chunk, X0.shape[0], n_steps, lanes=1, cost=4.0 * (q.pts.shape[0] + q.bpts.shape[0]),
                         substeps=4, desc="homogenized", progress=progress, threads=threads)
    _check_mass(float(worst.max()))
    return Result("sde.homogenized", {"times": np.linspace(0.0, T, n_saves + 1), "x": traj},
                  {"landscape": landscape, "gamma": gamma, "beta": beta, "T": T, "dt": dt,
                   "grid": grid}, stats)
