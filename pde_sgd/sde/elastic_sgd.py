"""Elastic-SGD and Entropy-SGD as fast/slow SDE systems with time-scale separation eps (THEORY.md section 4).

    dx    = -gamma^-1 (x - (1/n) sum_k y^k) ds
    dy^k  = -eps^-1 [grad f(y^k) + gamma^-1 (y^k - x)] ds + sqrt(2 beta^-1 / eps) dW^k,   k = 1..n

(Entropy-SGD is n = 1.) The fast variables see the invariant measure rho_inf(y; x) ∝ exp(-beta f(y) -
beta |x-y|^2 / (2 gamma)); as eps -> 0 the reference x follows the homogenized ODE of :mod:`.homogenized`.
Euler-Maruyama with step ``dt`` (in slow time s); the explicit limit dt (rho(Hess f(x0)) + 1/gamma) / eps < 2 is
checked at x0 and paths that become non-finite raise. The kernel advances blocks of LANES paths stored by lanes
(:mod:`.blocks`), in chunks of steps and blocks (:mod:`.chunks`: Ctrl-C between chunks, a progress bar, blocks
shared among threads); step k of path p uses the normals k n d .. (k + 1) n d - 1 of its stream, so the paths
are the same bit for bit whatever the chunks or the thread count.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..jitfuncs import lanes_cfunc
from ..landscapes import Landscape, as_landscape
from ..results import Result
from ..validation import positive, positive_int
from .blocks import NON_FINITE, normals
from .chunks import drive_blocks, run_blocks
from .common import (check_explicit_stability, check_output_fits, distinct_starts, equal_saves, initial_states,
                     round_to_saves)
from .kernels import LANES, raise_on_failure
from .rng import path_keys


@njit(cache=True, nogil=True, no_cfunc_wrapper=True, error_model="numpy")
def elastic_kernel(b0, b1, x, y, keys, k0, n_steps, save_every, params, grad_lanes, beta, gamma, eps, h, xs, ys,
                   status, fail_step):
    """Blocks b0 .. b1 - 1 of LANES paths over steps k0 .. k0 + n_steps - 1 of Euler-Maruyama for the system
    above, the state x (n, dim) and y (n, n_rep, dim) updated in place, the saves (step k + 1 a multiple of
    ``save_every``) written into row (k + 1) / save_every of ``xs`` (x) and ``ys`` (replica mean):
    y^k += -h/eps [grad f(y^k) + (y^k - x) / gamma] + sqrt(2 h / (beta eps)) z^k (the old y^k in x's update),
    x -= h / gamma (x - mean_k y^k). A path that becomes non-finite gets status NON_FINITE and its step."""
    n, n_rep, d = y.shape
    c = math.sqrt(2.0 * h / (beta * eps))
    a = h / eps
    inv_g = 1.0 / gamma
    for blk in range(b0, b1):
        p0 = blk * LANES
        nb = min(LANES, n - p0)
        X, Ym, G = np.empty((d, nb)), np.empty((d, nb)), np.empty((d, nb))
        Y, Z = np.empty((n_rep, d, nb)), np.empty((n_rep * d, nb))
        W, alive = np.empty(nb, dtype=np.uint64), np.empty(nb, dtype=np.bool_)
        for q in range(nb):
            alive[q] = True
            for i in range(d):
                X[i, q] = x[p0 + q, i]
                for r in range(n_rep):
                    Y[r, i, q] = y[p0 + q, r, i]
        n_alive = nb
        for k in range(k0, k0 + n_steps):
            if n_alive == 0:
                break
            normals(keys, p0, k * n_rep * d, Z, W)
            _replica_mean(Y, Ym)
            for r in range(n_rep):
                grad_lanes(Y[r], params, G)
                for i in range(d):
                    for q in range(nb):
                        Y[r, i, q] += -a * (G[i, q] + inv_g * (Y[r, i, q] - X[i, q])) + c * Z[r * d + i, q]
            for i in range(d):
                for q in range(nb):
                    X[i, q] -= h * inv_g * (X[i, q] - Ym[i, q])
            for q in range(nb):
                finite = True
                for i in range(d):
                    finite = finite and math.isfinite(X[i, q])
                if alive[q] and not finite:
                    status[p0 + q], fail_step[p0 + q], alive[q] = NON_FINITE, k, False
                    n_alive -= 1
            if (k + 1) % save_every == 0:
                row = (k + 1) // save_every
                _replica_mean(Y, Ym)
                for q in range(nb):
                    if alive[q]:
                        for i in range(d):
                            xs[row, p0 + q, i] = X[i, q]
                            ys[row, p0 + q, i] = Ym[i, q]
        for q in range(nb):
            for i in range(d):
                x[p0 + q, i] = X[i, q]
                for r in range(n_rep):
                    y[p0 + q, r, i] = Y[r, i, q]


@njit(cache=True, error_model="numpy", no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _replica_mean(Y, Ym):
    """Ym[i, q] = 0.0 + Y[0, i, q] / n_rep + Y[1, i, q] / n_rep + ... (in this order)."""
    n_rep, d, nb = Y.shape
    for i in range(d):
        for q in range(nb):
            Ym[i, q] = 0.0
        for r in range(n_rep):
            for q in range(nb):
                Ym[i, q] += Y[r, i, q] / n_rep


def elastic_sgd(landscape: Landscape, beta: float, x0, *, gamma: float, eps: float, dt: float, n_paths: int,
                seed: int, T: float | None = None, n_saves: int | None = None, times=None,
                n_replicas: int = 8, progress: bool | None = None, threads: int | None = None) -> Result:
    """Ensemble of Elastic-SGD with ``n_replicas`` replicas coupled to the reference x (all started at x0).

    Output times: ``T`` with ``n_saves`` (default 100) equally spaced saves, or ``times`` (starting at 0,
    equally spaced; :func:`pde_sgd.sde.common.equal_saves`). ``dt`` is rounded down so that n_saves divides the
    step count T / dt. ``progress``, ``threads``: progress bar (None: on a terminal) and thread count (None: the
    current Numba count), see :mod:`pde_sgd.driver`; neither changes the paths. Returns a Result of kind
    ``"sde.elastic_sgd"`` with ``times`` (n_saves + 1,), ``x`` and ``y_mean`` (n_saves + 1, n_paths, dim), and
    ``stats`` (steps, substeps = steps * n_replicas, wall_time, threads).
    """
    landscape = as_landscape(landscape)
    gamma, beta, eps = positive("gamma", gamma), positive("beta", beta), positive("eps", eps)
    T, n_saves = equal_saves(times, T, n_saves)
    n_replicas = positive_int("n_replicas", n_replicas)
    dt = positive("dt", dt)
    x = initial_states(x0, n_paths, landscape.dim)
    dt, per_save = round_to_saves(T, n_saves, dt)
    check_explicit_stability(landscape, np.eye(landscape.dim), distinct_starts(x), dt, 1.0 / gamma, eps)
    n_steps = n_saves * per_save
    check_output_fits(2 * (n_saves + 1) + n_replicas + 1, n_paths, landscape.dim)
    xs, ys = np.empty((2, n_saves + 1) + x.shape)
    xs[0], ys[0] = x, x
    y = np.repeat(x[:, None, :], n_replicas, axis=1)
    keys = path_keys(seed, n_paths)
    status, fail = np.zeros(n_paths, dtype=np.int64), np.full(n_paths, -1, dtype=np.int64)
    lf = landscape.jit
    args = (x, y, keys)
    tail = (per_save, lf[3], lanes_cfunc(lf[1]), beta, gamma, eps, dt, xs, ys, status, fail)

    def chunk(b0, b1, k0, n, threads):
        run_blocks(elastic_kernel, b0, b1, threads, args + (k0, n) + tail)
        a, b = b0 * LANES, min(b1 * LANES, n_paths)
        raise_on_failure(status[a:b], fail[a:b], dt, first_path=a)

    stats = drive_blocks(chunk, n_paths, n_steps, lanes=LANES, cost=n_replicas, substeps=n_replicas,
                         desc="Elastic-SGD" if n_replicas > 1 else "Entropy-SGD", progress=progress,
                         threads=threads)
    kind = "sde.entropy_sgd" if n_replicas == 1 else "sde.elastic_sgd"
    return Result(kind, {"times": np.linspace(0.0, T, n_saves + 1), "x": xs, "y_mean": ys},
                  {"landscape": landscape, "gamma": gamma, "beta": beta, "eps": eps, "T": T, "dt": dt,
                   "n_paths": n_paths, "seed": seed, "n_replicas": n_replicas}, stats)
