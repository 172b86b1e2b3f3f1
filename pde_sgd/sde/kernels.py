"""Numba ensemble integrators, parallel over paths (``prange``), with counter-based noise (see :mod:`.rng`).

:func:`integrate` advances dX = b(X, t) dt + sqrt(2 beta^-1) S(X, t) dW, S S^T = D, for every path with

* ``EULER`` (Euler-Maruyama): strong order 1/2, weak order 1 (strong order 1 for additive noise);
* ``MILSTEIN``: the derivative-free (Runge-Kutta) Milstein scheme of Kloeden & Platen (11.1.7),
  X' = X + b dt + sigma dW + (2 sqrt(dt))^-1 sum_{j,k} [sigma_k(Y_j) - sigma_k(X)] (dW_j dW_k - delta_jk dt),
  Y_j = X + b dt + sigma_j sqrt(dt), sigma = sqrt(2 beta^-1) S. Strong order 1 for commutative noise (scalar,
  diagonal D_ii(x_i), additive), weak order 1 always; it equals Euler-Maruyama for constant D.

Brownian increments of a step are sums of ``substeps`` finer Gaussian increments, so runs with the same seed
and the same ``dt / substeps`` share their Brownian paths (this is how strong errors are measured).
:func:`elastic_kernel` integrates the Entropy-SGD / Elastic-SGD fast-slow system of THEORY.md section 4.
Each path only reads its own key, so results do not depend on the number of threads.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..landscapes import jit_grad
from .fields import D_NON_FINITE, D_NOT_PSD, D_NOT_SYMMETRIC, D_OK, DIFF_CONST, eval_drift, eval_factor
from .rng import fill_normals

EULER, MILSTEIN = 0, 1
SCHEMES = {"euler": EULER, "milstein": MILSTEIN}
OK, NON_FINITE = D_OK, 1  # the other per-path statuses are fields.D_NOT_PSD / D_NOT_SYMMETRIC / D_NON_FINITE


BLOCK = 4  # paths advanced together by one thread, step by step (see integrate)


@njit(cache=True, parallel=True)
def integrate(x0, keys, t0, k0, dt, n_steps, save_every, scheme, substeps, noise_scale,
              d_mode, kind, params, M, d_lower, d_h, d_shape, d_per, d_vals, d_fn,
              s_mode, S_const, s_lower, s_h, s_shape, s_per, s_vals, s_fn):
    """Integrate all paths over steps k0 .. k0 + n_steps - 1 of a run started at t0 (step k at t0 + k dt, its
    noise addressed by k: a run split into chunks gives the same paths bit for bit); returns (trajectory (n_saves, n_paths, dim), status (n_paths,), fail_step (n_paths,),
    fail_x (n_paths, dim): the point where D was evaluated when a path failed, NaN otherwise).

    Each thread advances a block of BLOCK paths together, one step of each in turn: a single path's step is a
    serial chain (x -> drift, D(x) -> Cholesky -> x'), so interleaving independent paths lets the CPU overlap
    their latencies. Every path does exactly the same arithmetic as alone (results do not depend on BLOCK).
    """
    n, d = x0.shape
    m = S_const.shape[1] if s_mode == DIFF_CONST else d
    n_saves = n_steps // save_every + 1
    traj = np.empty((n_saves, n, d))
    status = np.zeros(n, dtype=np.int64)
    fail_step = np.full(n, -1, dtype=np.int64)
    fail_x = np.full((n, d), np.nan)
    sq = math.sqrt(dt)
    sub_scale = math.sqrt(dt / substeps)
    milstein = scheme == MILSTEIN and s_mode != DIFF_CONST
    n_blocks = (n + BLOCK - 1) // BLOCK
    for blk in prange(n_blocks):
        p0 = blk * BLOCK
        nb = min(BLOCK, n - p0)
        X = np.empty((BLOCK, d))
        alive = np.zeros(BLOCK, dtype=np.bool_)
        xn = np.empty(d)
        b = np.empty(d)
        g = np.empty(d)
        ybar = np.empty(d)
        S = S_const.copy() if s_mode == DIFF_CONST else np.empty((d, m))
        Sb = np.empty((d, m))
        Dflat = np.empty(d * d)
        Dbuf = Dflat.reshape(d, d)
        z = np.empty(m * substeps)
        dW = np.empty(m)
        for q in range(nb):
            X[q] = x0[p0 + q]
            traj[0, p0 + q] = x0[p0 + q]
            alive[q] = True
        n_alive = nb
        to_save = save_every
        for k in range(n_steps):
            if n_alive == 0:
                break
            t = t0 + (k0 + k) * dt
            to_save -= 1
            for q in range(nb):
                if not alive[q]:
                    continue
                p = p0 + q
                x = X[q]
                eval_drift(d_mode, kind, params, M, d_lower, d_h, d_shape, d_per, d_vals, d_fn, x, t, g, b)
                code = D_OK
                if s_mode != DIFF_CONST:
                    code = eval_factor(s_mode, S_const, s_lower, s_h, s_shape, s_per, s_vals, s_fn, x, t, Dflat,
                                       Dbuf, S)
                    if code != D_OK:
                        fail_x[p] = x
                fill_normals(keys[p], (k0 + k) * m * substeps, z)
                if substeps == 1:
                    for j in range(m):
                        dW[j] = z[j] * sub_scale
                else:
                    for j in range(m):
                        s = 0.0
                        for r in range(substeps):
                            s += z[r * m + j]
                        dW[j] = s * sub_scale
                for i in range(d):
                    inc = 0.0
                    for j in range(m):
                        inc += S[i, j] * dW[j]
                    xn[i] = x[i] + b[i] * dt + noise_scale * inc
                if milstein and code == D_OK:
                    for j in range(m):
                        for i in range(d):
                            ybar[i] = x[i] + b[i] * dt + noise_scale * S[i, j] * sq
                        code = eval_factor(s_mode, S_const, s_lower, s_h, s_shape, s_per, s_vals, s_fn, ybar, t,
                                           Dflat, Dbuf, Sb)
                        if code != D_OK:  # D is also checked at the support points
                            fail_x[p] = ybar
                            break
                        for kk in range(m):
                            w = dW[j] * dW[kk] - (dt if j == kk else 0.0)
                            c = noise_scale * w / (2.0 * sq)
                            for i in range(d):
                                xn[i] += c * (Sb[i, kk] - S[i, kk])
                if code == D_OK:
                    for i in range(d):
                        x[i] = xn[i]
                        if not math.isfinite(xn[i]):
                            code = NON_FINITE
                if code != D_OK:
                    status[p], fail_step[p] = code, k0 + k
                    alive[q] = False
                    n_alive -= 1
                elif to_save == 0:
                    traj[(k + 1) // save_every, p] = x
            if to_save == 0:
                to_save = save_every
    return traj, status, fail_step, fail_x


@njit(cache=True, parallel=True)
def elastic_kernel(x0, keys, kind, params, beta, gamma, eps, h, n_steps, save_every, n_rep):
    """Euler-Maruyama for the Elastic-SGD system (n_rep = 1: Entropy-SGD), all replicas started at x0.

    dx = -gamma^-1 (x - mean_k y^k) ds,
    dy^k = -eps^-1 [grad f(y^k) + gamma^-1 (y^k - x)] ds + sqrt(2 / (beta eps)) dW^k.
    Returns (x trajectory, replica-mean trajectory), each (n_saves, n_paths, dim), and status/fail_step.
    """
    n, d = x0.shape
    n_saves = n_steps // save_every + 1
    xs = np.empty((n_saves, n, d))
    ys = np.empty((n_saves, n, d))
    status = np.zeros(n, dtype=np.int64)
    fail_step = np.full(n, -1, dtype=np.int64)
    c = math.sqrt(2.0 * h / (beta * eps))
    a = h / eps
    inv_g = 1.0 / gamma
    for p in prange(n):
        x = x0[p].copy()
        y = np.empty((n_rep, d))
        for r in range(n_rep):
            y[r] = x
        ym = np.empty(d)
        g = np.empty(d)
        z = np.empty(n_rep * d)
        key = keys[p]
        xs[0, p] = x
        ys[0, p] = x
        for k in range(n_steps):
            fill_normals(key, k * n_rep * d, z)
            ym[:] = 0.0
            for r in range(n_rep):
                for i in range(d):
                    ym[i] += y[r, i] / n_rep
            for r in range(n_rep):
                jit_grad(kind, params, y[r], g)
                for i in range(d):
                    y[r, i] += -a * (g[i] + inv_g * (y[r, i] - x[i])) + c * z[r * d + i]
            finite = True
            for i in range(d):
                x[i] -= h * inv_g * (x[i] - ym[i])
                if not math.isfinite(x[i]):
                    finite = False
            if not finite:
                status[p], fail_step[p] = NON_FINITE, k
                break
            if (k + 1) % save_every == 0:
                s = (k + 1) // save_every
                xs[s, p] = x
                for i in range(d):
                    ym[i] = 0.0
                    for r in range(n_rep):
                        ym[i] += y[r, i] / n_rep
                ys[s, p] = ym
    return xs, ys, status, fail_step


_D_PROBLEMS = {D_NOT_PSD: "not positive semi-definite", D_NOT_SYMMETRIC: "not symmetric",
               D_NON_FINITE: "non-finite (NaN or inf)"}


def raise_on_failure(status: np.ndarray, fail_step: np.ndarray, dt: float, fail_x: np.ndarray | None = None) -> None:
    """Turn a kernel's per-path status into a ValueError (never return silent NaN)."""
    bad = np.flatnonzero(status)
    if bad.size == 0:
        return
    p = int(bad[0])
    if int(status[p]) in _D_PROBLEMS:
        where = f" at x={np.asarray(fail_x[p]).tolist()}" if fail_x is not None else ""
        raise ValueError(f"D(x) is {_D_PROBLEMS[int(status[p])]}{where} (path {p}, step {int(fail_step[p])}): "
                         f"D must be a finite symmetric positive semi-definite matrix at every x")
    raise ValueError(f"{bad.size} path(s) became non-finite (first: path {p} at step {int(fail_step[p])}); "
                     f"dt={dt:g} is too large for this drift: reduce dt")
