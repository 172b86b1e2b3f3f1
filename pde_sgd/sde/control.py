"""Stochastic control view of local entropy (THEORY.md section 1), in 1-D.

Controlled SGD: dx = (-f'(x) - alpha) ds + sqrt(2 beta^-1) dW on [0, T], cost J(alpha) = E[V(x(T)) + 1/2 ∫ alpha^2 ds].
The value function solves the HJB equation -u_s = -f' u_x - 1/2 u_x^2 + beta^-1 u_xx, u(., T) = V, and the
optimal feedback is alpha* = u_x. With w = exp(-beta u / 2) the equation becomes linear,
-w_s = -f' w_x + beta^-1 w_xx (the backward Kolmogorov equation of uncontrolled SGD), hence Feynman-Kac:
u(x, 0) = -2 beta^-1 log E[exp(-beta V(X_T) / 2)] with X uncontrolled, J(alpha*) = u(x, 0) and
E V(x_controlled(T)) <= E V(x_sgd(T)) - 1/2 E ∫ |alpha*|^2.

:func:`hjb_value` solves the linear equation for w on a :class:`~pde_sgd.grid.Grid` with the transpose of the
Fokker-Planck generator of :mod:`pde_sgd.fokker_planck` (the adjoint of the forward operator is the backward
one), Crank-Nicolson in time after two backward-Euler start-up steps, w rescaled every step (log scale kept)
so it never underflows. :func:`simulate_controlled` runs controlled and uncontrolled SGD on common noise.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from numba import njit, prange
from scipy.sparse.linalg import splu

from ..grid import Grid
from ..jitfuncs import jit_call
from ..landscapes import Landscape, as_landscape, jit_grad
from ..results import Result
from ..validation import finite_array, positive, positive_int
from .common import initial_states
from .kernels import raise_on_failure
from .rng import fill_normals, path_keys


def _check_1d(landscape: Landscape, grid: Grid) -> None:
    as_landscape(landscape, dim=1)
    if not isinstance(grid, Grid) or grid.ndim != 1:
        raise ValueError("grid must be a 1-D pde_sgd Grid")


def _terminal(V, x: np.ndarray) -> np.ndarray:
    vals = V.value(x) if isinstance(V, Landscape) else np.asarray(V(x), dtype=float)
    return finite_array("V", vals, shape=x.shape)


def hjb_value(landscape: Landscape, V, beta: float, *, T: float, grid: Grid, n_steps: int = 200) -> Result:
    """Value function u(x, s) and optimal control alpha*(x, s) = u_x on ``grid`` at n_steps + 1 times in [0, T].

    ``V`` is a 1-D Landscape or a vectorised callable x -> V(x). Returns a Result ``"sde.control.hjb"`` with
    ``times`` (n_steps + 1,), ``x`` (cell centres), ``u`` and ``alpha`` (n_steps + 1, n_cells); n_steps
    Crank-Nicolson steps (the first as two backward-Euler half steps).
    """
    from ..fokker_planck import FokkerPlanck  # the forward generator; its transpose is the backward one

    _check_1d(landscape, grid)
    beta, T = positive("beta", beta), positive("T", T)
    n_steps = positive_int("n_steps", n_steps, minimum=4)
    x = grid.axes[0]
    Lb = FokkerPlanck(landscape, grid, 1.0, beta).generator.T.tocsc()
    I = sp.identity(grid.size, format="csc")
    dtau = T / n_steps
    # one factorisation of I - dtau/2 Lb: a backward-Euler half step (twice: Rannacher start-up) and the CN lhs
    lhs = splu((I - 0.5 * dtau * Lb).tocsc())
    cn_rhs = (I + 0.5 * dtau * Lb).tocsr()
    logw = np.empty((n_steps + 1, grid.size))
    lw = -0.5 * beta * _terminal(V, x)
    shift = lw.max()
    w = np.exp(lw - shift)
    logw[n_steps] = lw
    for k in range(n_steps):  # tau = T - s runs forward
        if k == 0:
            w = lhs.solve(lhs.solve(w))
        else:
            w = lhs.solve(cn_rhs @ w)
        if not np.all(w > 0):
            raise ValueError("w lost positivity: refine grid or n_steps")
        m = w.max()
        w /= m
        shift += math.log(m)
        logw[n_steps - 1 - k] = np.log(w) + shift
    u = -2.0 / beta * logw
    alpha = np.gradient(u, x, axis=1)
    return Result("sde.control.hjb", {"times": np.linspace(0.0, T, n_steps + 1), "x": x, "u": u, "alpha": alpha},
                  {"landscape": landscape, "beta": beta, "T": T, "grid": grid, "n_steps": n_steps})


@njit(cache=True, parallel=True)
def _controlled_kernel(x0, keys, lf, beta, dt, n_steps, xs, alpha, dtau, scale):
    """EM for dx = (-f' - scale alpha(x, s)) ds + sqrt(2/beta) dW, alpha bilinear in (x, s) from a table.

    Returns final states (n,), the control costs 1/2 ∫ alpha^2 ds (n,), status and fail step.
    """
    n = x0.shape[0]
    nx, nt = xs.shape[0], alpha.shape[0]
    h = xs[1] - xs[0]
    out = np.empty(n)
    cost = np.zeros(n)
    status = np.zeros(n, dtype=np.int64)
    fail = np.full(n, -1, dtype=np.int64)
    c = math.sqrt(2.0 * dt / beta)
    for p in prange(n):
        x = np.empty(1)
        g = np.empty(1)
        z = np.empty(1)
        x[0] = x0[p]
        for k in range(n_steps):
            a = 0.0
            if scale != 0.0:
                s = min((x[0] - xs[0]) / h, nx - 1.0)
                s = max(s, 0.0)
                i = min(int(s), nx - 2)
                wx = s - i
                r = min(k * dt / dtau, nt - 1.0)
                j = min(int(r), nt - 2)
                wt = r - j
                a = scale * ((1 - wt) * ((1 - wx) * alpha[j, i] + wx * alpha[j, i + 1])
                             + wt * ((1 - wx) * alpha[j + 1, i] + wx * alpha[j + 1, i + 1]))
            jit_grad(lf, x, g)
            fill_normals(keys[p], k, z)
            cost[p] += 0.5 * a * a * dt
            x[0] += (-g[0] - a) * dt + c * z[0]
            if not math.isfinite(x[0]):
                status[p], fail[p] = 1, k
                break
        out[p] = x[0]
    return out, cost, status, fail


def simulate_controlled(landscape: Landscape, hjb: Result, V, x0: float, *, n_steps: int, n_paths: int, seed: int,
                        control_scale: float = 1.0) -> Result:
    """Controlled SGD with feedback ``control_scale * alpha*`` from :func:`hjb_value`, and uncontrolled SGD on
    the same Brownian paths (common random numbers), from ``x0`` over [0, T] with ``n_steps`` Euler steps.

    Returns a Result ``"sde.control"`` with per-path ``x_controlled``, ``x_sgd``, ``V_controlled``, ``V_sgd``,
    ``control_cost`` (1/2 ∫ alpha^2) and ``J`` = V_controlled + control_cost; params hold ``u0`` = u(x0, 0).
    """
    as_landscape(landscape, dim=1)
    if not isinstance(hjb, Result) or hjb.kind != "sde.control.hjb":
        raise TypeError(f"hjb must be the Result of hjb_value (kind 'sde.control.hjb'), got "
                        f"{getattr(hjb, 'kind', type(hjb).__name__)!r}")
    beta, T = hjb.params["beta"], hjb.params["T"]
    n_steps = positive_int("n_steps", n_steps)
    xs, alpha, times = hjb["x"], hjb["alpha"], hjb["times"]
    x = initial_states([float(x0)], n_paths, 1)[:, 0]
    if not xs[0] <= x0 <= xs[-1]:
        raise ValueError(f"x0={x0} must lie inside the HJB grid [{xs[0]:.3g}, {xs[-1]:.3g}]")
    scale = finite_array("control_scale", control_scale).item()
    dt = T / n_steps
    keys = path_keys(seed, n_paths)
    args = (landscape.jit, beta, dt, n_steps, xs, alpha, times[1] - times[0])
    xc, cost, st, fl = jit_call(_controlled_kernel, x, keys, *args, scale)
    raise_on_failure(st, fl, dt)
    xu, _, st, fl = jit_call(_controlled_kernel, x, keys, *args, 0.0)
    raise_on_failure(st, fl, dt)
    Vc, Vu = _terminal(V, xc), _terminal(V, xu)
    u0 = float(np.interp(x0, xs, hjb["u"][0]))
    return Result("sde.control", {"x_controlled": xc, "x_sgd": xu, "V_controlled": Vc, "V_sgd": Vu,
                                  "control_cost": cost, "J": Vc + cost},
                  {"beta": beta, "T": T, "x0": float(x0), "n_steps": n_steps, "n_paths": n_paths, "seed": seed,
                   "control_scale": scale, "u0": u0})


def feynman_kac_value(V_T: np.ndarray, beta: float) -> tuple[float, float]:
    """u(x, 0) = -2 beta^-1 log mean exp(-beta V(X_T) / 2) from uncontrolled samples V(X_T), and its standard
    error by the delta method, SE = 2 beta^-1 std(e) / (sqrt(n) mean(e)), e = exp(-beta (V - min V) / 2)."""
    v = finite_array("V_T", V_T)
    if v.size < 2:
        raise ValueError(f"V_T must hold at least 2 samples (the standard error needs them), got {v.size}")
    beta = positive("beta", beta)
    e = np.exp(-0.5 * beta * (v - v.min()))
    m = e.mean()
    return float(v.min() - 2.0 / beta * math.log(m)), float(2.0 / beta * e.std(ddof=1) / (math.sqrt(v.size) * m))
