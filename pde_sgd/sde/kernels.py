"""Numba ensemble integrators with counter-based noise (see :mod:`.rng`).

:func:`integrate` advances dX = b(X, t) dt + sqrt(2 beta^-1) S(X, t) dW, S S^T = D, for every path with

* ``EULER`` (Euler-Maruyama): strong order 1/2, weak order 1 (strong order 1 for additive noise);
* ``MILSTEIN``: the derivative-free (Runge-Kutta) Milstein scheme of Kloeden & Platen (11.1.7),
  X' = X + b dt + sigma dW + (2 sqrt(dt))^-1 sum_{j,k} [sigma_k(Y_j) - sigma_k(X)] (dW_j dW_k - delta_jk dt),
  Y_j = X + b dt + sigma_j sqrt(dt), sigma = sqrt(2 beta^-1) S. Strong order 1 for commutative noise (scalar,
  diagonal D_ii(x_i), additive), weak order 1 always; it equals Euler-Maruyama for constant D.

Brownian increments of a step are sums of ``substeps`` finer Gaussian increments, so runs with the same seed
and the same ``dt / substeps`` share their Brownian paths (this is how strong errors are measured).
It runs one small kernel per (drift mode, D mode, scheme, 2-D or not; in 2-D with D(x), a fast-path-only
variant first, see :func:`variant`), compiled on first use and cached, on
blocks of LANES paths stored by lanes (:mod:`.blocks`, the path loop innermost), the blocks shared out among
Python threads (the kernels release the GIL), in chunks of steps and blocks (:mod:`.chunks`). Each path only reads
its own key and does the same arithmetic wherever it runs, so results do not depend on the number of threads or
on how the paths and steps are split.
"""
from __future__ import annotations

import math
import numpy as np
from numba import njit

from ..schemes import Scheme
from ..validation import NumericalInstability
from .blocks import (NON_FINITE, brownian, cells_2d, commit, factor, factor_2d, gather, gather_symmetric,
                     increment, increment_const, interp_lanes, mark_points, milstein_correct, normals, precondition,
                     record_failures, support)
from .fields import (D_NON_FINITE, D_NOT_PSD, D_NOT_SYMMETRIC, D_OK, DIFF_CALLABLE, DIFF_CONST, DRIFT_CALLABLE,
                     DRIFT_LANDSCAPE)
from .chunks import run_blocks

EULER, MILSTEIN = 0, 1
SCHEMES = {"euler": EULER, "milstein": MILSTEIN}
SCHEME_TABLE = {
    "euler": Scheme("euler", 0.5, "strong order 1 for additive noise", weak_order=1.0),
    "milstein": Scheme("milstein", 1.0, "commutative noise (scalar, diagonal D_ii(x_i), additive) for strong order 1",
                       weak_order=1.0),
}


LANES = 256  # paths per block: one thread advances them together, the path loop innermost (vectorised)
UNDECIDED = -1  # status of a block's first path where a fast-path variant met a D(x) that needs chol_psd


class Integrate:
    """:func:`integrate`: runs the kernel variant of the drift mode x D mode x scheme on blocks of paths.

    Each variant is compiled on its first use only, with its modes as compile-time constants (small kernels:
    a first call compiles one of them, not every branch), and cached on disk. All variants take the same
    argument types, so :attr:`signatures` (their union) has one entry whatever the landscape or D.
    The blocks are shared out among Python threads (:func:`.chunks.run_blocks`; the kernels release the GIL);
    a block's paths do not depend on which thread runs it.
    """

    def __call__(self, b0, b1, threads, x, keys, t0, k0, dt, n_steps, save_every, scheme, substeps, noise_scale,
                 drift, diff, out):
        """Advance the blocks b0 .. b1 - 1 of LANES paths of the state ``x`` (n_paths, dim) in place over steps
        k0 .. k0 + n_steps - 1 of a run started at t0 (step k at t0 + k dt, its noise addressed by k: a run split
        into chunks of steps and blocks gives the same paths bit for bit; ``drift``, ``diff``: the argument packs
        of :meth:`.fields.KernelDrift.kernel_args` and :meth:`.fields.KernelDiffusion.kernel_args`).
        ``out`` = (trajectory (n_saves + 1, n_paths, dim): the state after step k goes to row (k + 1) / save_every
        where that is whole, status (n_paths,), fail_step (n_paths,), fail_x (n_paths, dim): the point where D was
        evaluated when a path failed), written for these blocks' paths."""
        milstein = scheme == MILSTEIN and diff[0] != DIFF_CONST
        d = x.shape[1]
        fast = d == 2 and diff[0] != DIFF_CONST
        args = (x, keys, t0, k0, dt, n_steps, save_every, substeps, noise_scale) + tuple(drift[1:]) + \
            tuple(diff[1:]) + tuple(out)
        run_blocks(variant(drift[0], diff[0], milstein, d, fast), b0, b1, threads, args)
        if fast:  # rare: a block met a D(x) that needs chol_psd; rerun it with the full variant (same paths)
            status, fail_step, fail_x = out[1:]
            firsts = np.arange(b0, b1) * LANES
            for blk in np.flatnonzero(status[firsts] == UNDECIDED) + b0:
                p = slice(blk * LANES, (blk + 1) * LANES)
                status[p], fail_step[p], fail_x[p] = 0, -1, np.nan
                run_blocks(variant(drift[0], diff[0], milstein, d, False), blk, blk + 1, 1, args)

    @property
    def signatures(self) -> list:
        sigs = []
        for kernel in _VARIANTS.values():
            sigs += [s for s in kernel.signatures if s not in sigs]
        return sigs


integrate = Integrate()
_VARIANTS: dict = {}


def variant(drift_mode: int, diff_mode: int, milstein: bool, dim: int, fast: bool = False):
    """The ensemble kernel for one (drift mode, D mode, Milstein or not, 2-D or not, fast path only or not),
    built once per process, compiled on first use and cached on disk (the modes are closure constants: one cache
    entry each). A fast-path-only variant (2-D, D not constant) factors D with :func:`.blocks.factor_2d` alone,
    without compiling chol_psd: where a lane needs chol_psd (D singular or invalid there) it stops, leaving
    status ``UNDECIDED`` at its block's first path and that block's state unchanged, and :class:`Integrate` reruns
    that block with the full variant; where it does not stop, its paths are those of the full variant bit for
    bit."""
    key = (int(drift_mode), int(diff_mode), int(bool(milstein)), int(dim) == 2, bool(fast))
    if key not in _VARIANTS:
        _VARIANTS[key] = _make_variant(*key)
    return _VARIANTS[key]


def _make_variant(DRIFT, DIFF, MIL, DIM2, FAST):
    @njit(cache=True, nogil=True, no_cfunc_wrapper=True, error_model="numpy")
    def kernel(b0, b1, x, keys, t0, k0, dt, n_steps, save_every, substeps, noise_scale, params, grad_lanes, M,
               d_lower, d_h, d_shape, d_per, d_vals, drift_lanes, S_const, s_lower, s_h, s_shape, s_per, s_vals,
               diff_lanes, traj, status, fail_step, fail_x):
        """Blocks b0 .. b1 - 1 of LANES paths over the steps, each stored by lanes (:mod:`.blocks`) and written
        back to ``x`` at the end (not where a fast variant stops), one phase of a step for the whole block at a time: noise, drift, factor of D (and at the Milstein support points),
        increment, commit, save. DRIFT, DIFF, MIL, DIM2, FAST are compile-time constants (a variant compiles its own
        phases only). A path does exactly the arithmetic of a path advanced alone, so results depend neither on
        LANES nor on the path's block or thread."""
        n, d = x.shape
        m = S_const.shape[1] if DIFF == DIFF_CONST else d
        sub_scale = math.sqrt(dt / substeps)
        for blk in range(b0, b1):
            p0 = blk * LANES
            nb = min(LANES, n - p0)
            X, Xn, B, G, Y = (np.empty((d, nb)), np.empty((d, nb)), np.empty((d, nb)), np.empty((d, nb)),
                              np.empty((d, nb)))
            S, Sy, Dm = np.empty((d, m, nb)), np.empty((d, m, nb)), np.empty((d, d, nb))
            R, C = np.empty((4, nb), dtype=np.int64), np.empty((4, nb))
            Z, dW, acc = np.empty((m * substeps, nb)), np.empty((m, nb)), np.empty(nb)
            code, code_y = np.empty(nb, dtype=np.int64), np.empty(nb, dtype=np.int64)
            ok, alive = np.empty(nb, dtype=np.bool_), np.empty(nb, dtype=np.bool_)
            xb, W = np.empty(d), np.empty(nb, dtype=np.uint64)
            for q in range(nb):  # filled here, not by np.zeros / np.ones: fewer overloads to compile
                code[q], code_y[q], ok[q], alive[q] = D_OK, D_OK, True, True
                for i in range(d):
                    X[i, q] = x[p0 + q, i]
            n_alive = nb
            undecided = False
            for k in range(k0, k0 + n_steps):
                if n_alive == 0:
                    break
                t = t0 + k * dt
                normals(keys, p0, k * m * substeps, Z, W)
                brownian(Z, m, substeps, sub_scale, dW)
                if DRIFT == DRIFT_CALLABLE:
                    drift_lanes(X, t, B)
                else:
                    if DRIFT == DRIFT_LANDSCAPE:
                        grad_lanes(X, params, G)
                    elif DIM2:
                        cells_2d(d_lower, d_h, d_shape, d_per, X, R, C)
                        gather(d_vals, R, C, G)
                    else:
                        interp_lanes(d_lower, d_h, d_shape, d_per, d_vals, X, xb, G)
                    precondition(M, G, B)
                if DIFF == DIFF_CONST:
                    increment_const(X, B, S_const, dW, dt, noise_scale, acc, Xn)
                else:
                    # stage 0: the factor at X; stage 1 + j (Milstein): at the support point of noise column j
                    for stage in range(1 + MIL * m):
                        P, F, cp = X, S, code
                        if MIL and stage > 0:
                            P, F, cp = Y, Sy, code_y
                            support(X, B, S, stage - 1, dt, noise_scale, Y)
                        if DIFF == DIFF_CALLABLE:
                            diff_lanes(P, t, Dm)
                        elif DIM2:
                            cells_2d(s_lower, s_h, s_shape, s_per, P, R, C)
                            gather_symmetric(s_vals, R, C, Dm)
                        else:
                            interp_lanes(s_lower, s_h, s_shape, s_per, s_vals, P, xb, Dm.reshape(d * d, nb))
                        if FAST:
                            undecided = factor_2d(Dm, F, cp) > 0
                            if undecided:
                                break
                            bad = 0
                        else:
                            bad = factor(Dm, F, cp)
                        if MIL and stage > 0:
                            milstein_correct(stage - 1, Y, Sy, code_y, S, dW, dt, noise_scale, Xn, code, alive,
                                             fail_x, p0)
                        else:
                            if bad:
                                mark_points(X, code, alive, fail_x, p0)
                            increment(X, B, S, dW, dt, noise_scale, acc, Xn)
                    if FAST and undecided:
                        break
                if commit(X, Xn, code, ok):
                    n_alive -= record_failures(code, ok, alive, status, fail_step, p0, k)
                if (k + 1) % save_every == 0:
                    row = (k + 1) // save_every
                    for q in range(nb):
                        if alive[q]:
                            for i in range(d):
                                traj[row, p0 + q, i] = X[i, q]
            if FAST and undecided:
                status[p0] = UNDECIDED
                continue
            for q in range(nb):
                for i in range(d):
                    x[p0 + q, i] = X[i, q]

    return kernel


_D_PROBLEMS = {D_NOT_PSD: "not positive semi-definite", D_NOT_SYMMETRIC: "not symmetric",
               D_NON_FINITE: "non-finite (NaN or inf)"}


def raise_on_failure(status: np.ndarray, fail_step: np.ndarray, dt: float, fail_x: np.ndarray | None = None, *,
                     first_path: int = 0) -> None:
    """Turn a kernel's per-path status into a ValueError (D not PSD / non-finite) or :class:`NumericalInstability`
    (paths non-finite): never a silent NaN. ``first_path``: the number of the first path of these arrays."""
    bad = np.flatnonzero(status)
    if bad.size == 0:
        return
    p = int(bad[0])
    if int(status[p]) in _D_PROBLEMS:
        where = f" at x={np.asarray(fail_x[p]).tolist()}" if fail_x is not None else ""
        raise ValueError(f"D(x) is {_D_PROBLEMS[int(status[p])]}{where} (path {first_path + p}, step {int(fail_step[p])}): "
                         f"D must be a finite symmetric positive semi-definite matrix at every x")
    raise NumericalInstability(f"{bad.size} path(s) became non-finite (first: path {first_path + p} at step {int(fail_step[p])}); "
                     f"dt={dt:g} is too large for this drift: reduce dt")
