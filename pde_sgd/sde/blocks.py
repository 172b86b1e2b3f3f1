"""Block helpers of the SDE ensemble kernel: one phase of a step for a block of paths stored by lanes.

A block holds ``nb`` paths in structure-of-arrays form: coordinate i of lane q is ``X[i, q]`` (the path loop
innermost, so LLVM vectorises it). Each helper does, lane by lane, exactly the arithmetic that the scalar
point functions of :mod:`pde_sgd.sde.fields` and :mod:`pde_sgd.sde.rng` do for one path, in the same order and without fast-math or
fused multiply-adds, so a path's values do not depend on its lane, its block, the block size or the thread
count; whatever a vectorised fast path cannot decide (ziggurat tails, a D(x) that is singular or invalid) falls
back to the scalar point function for that lane.
Helpers use ``error_model="numpy"``: a division in a lane whose result is discarded must not raise.
They are called from the kernels only, so they are compiled without the cfunc and CPython wrappers (Numba
``no_cfunc_wrapper``, ``no_cpython_wrapper``: a quicker first call; not callable from Python).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..gridfields import _axis_weight, interp_field
from .fields import D_OK, chol_psd
from .rng import _KN, _LOW7, _S32, _WN, _WORDS, _ziggurat_slow, raw_word

NON_FINITE = 1  # per-path status: the state became NaN or inf (fields.D_* are the D(x) failures)


@njit(cache=True, error_model="numpy", no_cfunc_wrapper=True, no_cpython_wrapper=True)
def normals(keys, p0, start, Z, W):
    """Z[j, q] = standard normal number ``start + j`` of the stream of path ``p0 + q`` (:func:`pde_sgd.sde.rng.normal`): the
    raw words of all lanes first (vectorised), then the one-word fast path lane by lane (scalar on purpose: the
    table lookups would become gathers, slower than scalar loads), the rare rejections finishing as rng.normal does
    (its slow branch called, not inlined: quicker to compile).
    ``W``: (nb,) uint64 work buffer."""
    nz, nb = Z.shape
    for j in range(nz):
        c = np.uint64(start + j) * np.uint64(_WORDS)
        for q in range(nb):
            W[q] = raw_word(keys[p0 + q], c)
        for q in range(nb):
            w = W[q]
            hz = np.int64(np.int32(np.uint32(w >> _S32)))
            iz = np.int64(w & _LOW7)
            if abs(hz) < _KN[iz]:
                Z[j, q] = hz * _WN[iz]
            else:
                Z[j, q] = _ziggurat_slow(keys[p0 + q], c + np.uint64(1), hz, iz)  # the rest of rng.normal


@njit(cache=True, error_model="numpy", no_cfunc_wrapper=True, no_cpython_wrapper=True)
def brownian(Z, m, substeps, scale, dW):
    """dW[j, q] = scale * sum_r Z[r m + j, q]: the increments of a step as sums of ``substeps`` finer ones."""
    nb = dW.shape[1]
    for j in range(m):
        if substeps == 1:
            for q in range(nb):
                dW[j, q] = Z[j, q] * scale
        else:
            for q in range(nb):
                dW[j, q] = 0.0
            for r in range(substeps):
                for q in range(nb):
                    dW[j, q] += Z[r * m + j, q]
            for q in range(nb):
                dW[j, q] *= scale


@njit(cache=True, error_model="numpy", no_cfunc_wrapper=True, no_cpython_wrapper=True)
def precondition(M, G, B):
    """B[:, q] = -M G[:, q], summed in the order of the scalar drift: 0 - M_i0 g_0 - M_i1 g_1 - ..."""
    d, nb = G.shape
    for i in range(d):
        mi0 = M[i, 0]
        for q in range(nb):
            B[i, q] = 0.0 - mi0 * G[0, q]
        for j in range(1, d):
            mij = M[i, j]
            for q in range(nb):
                B[i, q] -= mij * G[j, q]


@njit(cache=True, error_model="numpy", no_cfunc_wrapper=True, no_cpython_wrapper=True)
def cells_2d(lower, h, shape, periodic, X, R, C):
    """Bilinear stencil of every lane: rows R[c, q] and weights C[c, q] of the corners c = 00, 01, 10, 11 (the
    order and arithmetic of :func:`pde_sgd.gridfields.interp_field` in 2-D)."""
    lo0, lo1, h0, h1, n0, n1 = lower[0], lower[1], h[0], h[1], shape[0], shape[1]
    per0, per1 = periodic[0], periodic[1]  # in locals: the stores below could alias the grid arrays
    for q in range(X.shape[1]):
        i0, i1, w = _axis_weight(lo0, h0, n0, per0, X[0, q])
        j0, j1, v = _axis_weight(lo1, h1, n1, per1, X[1, q])
        R[0, q], R[1, q], R[2, q], R[3, q] = i0 * n1 + j0, i0 * n1 + j1, i1 * n1 + j0, i1 * n1 + j1
        C[0, q], C[1, q], C[2, q], C[3, q] = (1.0 - w) * (1.0 - v), (1.0 - w) * v, w * (1.0 - v), w * v


@njit(cache=True, inline="always")
def _corners(values, j, r0, r1, r2, r3, c0, c1, c2, c3):
    """Column j of the 2-D field at a point: the corners 00, 01, 10, 11 summed in order (as interp_field)."""
    return c0 * values[r0, j] + c1 * values[r1, j] + c2 * values[r2, j] + c3 * values[r3, j]


@njit(cache=True, error_model="numpy", no_cfunc_wrapper=True, no_cpython_wrapper=True)
def gather(values, R, C, out):
    """out[j, q] = column j of the 2-D field ``values`` (cells, k) at the stencil R[:, q], C[:, q] of
    :func:`cells_2d`; lane by lane, reading each corner's row contiguously (quicker than gathers)."""
    for q in range(R.shape[1]):
        r0, r1, r2, r3 = R[0, q], R[1, q], R[2, q], R[3, q]
        c0, c1, c2, c3 = C[0, q], C[1, q], C[2, q], C[3, q]
        for j in range(values.shape[1]):
            out[j, q] = _corners(values, j, r0, r1, r2, r3, c0, c1, c2, c3)


@njit(cache=True, error_model="numpy", no_cfunc_wrapper=True, no_cpython_wrapper=True)
def gather_symmetric(values, R, C, Dm):
    """Dm[:, :, q] = the symmetric 2 x 2 D field at the stencil of lane q, ``values`` (cells, 3) holding the columns
    D_00, D_01, D_11 (:meth:`pde_sgd.sde.fields.KernelDiffusion.kernel_args`); D_10 = D_01, as interpolating it would give."""
    for q in range(R.shape[1]):
        r0, r1, r2, r3 = R[0, q], R[1, q], R[2, q], R[3, q]
        c0, c1, c2, c3 = C[0, q], C[1, q], C[2, q], C[3, q]
        a01 = _corners(values, 1, r0, r1, r2, r3, c0, c1, c2, c3)
        Dm[0, 0, q] = _corners(values, 0, r0, r1, r2, r3, c0, c1, c2, c3)
        Dm[0, 1, q], Dm[1, 0, q] = a01, a01
        Dm[1, 1, q] = _corners(values, 2, r0, r1, r2, r3, c0, c1, c2, c3)


@njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def interp_lanes(lower, h, shape, periodic, values, X, xb, out):
    """out[:, q] = :func:`pde_sgd.gridfields.interp_field` at X[:, q], lane by lane (the dimensions other than 2)."""
    d, nb = X.shape
    ob = np.empty(values.shape[1])
    for q in range(nb):
        for i in range(d):
            xb[i] = X[i, q]
        interp_field(lower, h, shape, periodic, values, xb, ob)
        for j in range(ob.shape[0]):
            out[j, q] = ob[j]


@njit(cache=True, error_model="numpy", no_cfunc_wrapper=True, no_cpython_wrapper=True)
def factor_2d(Dm, S, code):
    """The fast path of :func:`pde_sgd.sde.fields.chol_psd` (same operations) across the lanes of 2 x 2 matrices
    Dm[:, :, q]: S[:, :, q] = the lower Cholesky factor and ``code[q] = D_OK`` where D is finite, symmetric and
    clear of singular, ``code[q] = -1`` (S undefined) where chol_psd must decide; returns the number of those."""
    nb = Dm.shape[2]
    slow = 0
    for q in range(nb):
        a00, a01, a10, a11 = Dm[0, 0, q], Dm[0, 1, q], Dm[1, 0, q], Dm[1, 1, q]
        amax = max(max(abs(a00), abs(a01)), max(abs(a10), abs(a11)))
        tol = (abs(a00) + abs(a11)) * 1e-14
        l00 = np.sqrt(a00)
        l10 = a10 / l00
        s = a11 - l10 * l10
        fast = amax < np.inf and abs(a10 - a01) <= 1e-10 * amax and a00 > tol and s > tol
        S[0, 0, q], S[0, 1, q], S[1, 0, q], S[1, 1, q] = l00, 0.0, l10, np.sqrt(s)
        code[q] = D_OK if fast else -1
        slow += not fast
    return slow


@njit(cache=True, error_model="numpy", no_cfunc_wrapper=True, no_cpython_wrapper=True)
def factor(Dm, S, code):
    """S[:, :, q] = lower Cholesky factor of D = Dm[:, :, q] (:func:`pde_sgd.sde.fields.chol_psd`), status into ``code[q]``;
    returns the number of lanes with a nonzero status. In 2-D, :func:`factor_2d` runs across the lanes first,
    chol_psd itself on the lanes it leaves undecided."""
    d, nb = Dm.shape[1], Dm.shape[2]
    slow = nb
    if d == 2:
        slow = factor_2d(Dm, S, code)
    else:
        for q in range(nb):
            code[q] = -1
    bad = 0
    if slow:
        A, L = np.empty((d, d)), np.empty((d, d))
        for q in range(nb):
            if code[q] == -1:
                for i in range(d):
                    for j in range(d):
                        A[i, j] = Dm[i, j, q]
                code[q] = chol_psd(A, L)
                for i in range(d):
                    for j in range(d):
                        S[i, j, q] = L[i, j]
                bad += code[q] != D_OK
    return bad


@njit(cache=True, error_model="numpy", no_cfunc_wrapper=True, no_cpython_wrapper=True)
def support(X, B, S, j, dt, noise_scale, Y):
    """Y[:, q] = X + B dt + noise_scale S[:, j] sqrt(dt): the Milstein support point of noise column j."""
    sq = math.sqrt(dt)
    for i in range(X.shape[0]):
        for q in range(X.shape[1]):
            Y[i, q] = X[i, q] + B[i, q] * dt + noise_scale * S[i, j, q] * sq


@njit(cache=True, error_model="numpy", no_cfunc_wrapper=True, no_cpython_wrapper=True)
def milstein_correct(j, Y, Sy, code_y, S, dW, dt, noise_scale, Xn, code, alive, fail_x, p0):
    """Add the derivative-free Milstein term of noise column j (module :mod:`.kernels`),
    sum_k noise_scale (dW_j dW_k - delta_jk dt) / (2 sqrt(dt)) [S_k(Y_j) - S_k(X)], to Xn for the live lanes
    whose D was fine so far; a lane whose D fails at its support point Y_j (status ``code_y``) takes that status
    and ``fail_x[p0 + q] = Y_j``. Returns the number of lanes that failed."""
    d, m, nb = S.shape
    sq = math.sqrt(dt)
    bad = 0
    for q in range(nb):
        if code[q] != D_OK or not alive[q]:
            continue
        if code_y[q] != D_OK:
            code[q] = code_y[q]
            for i in range(d):
                fail_x[p0 + q, i] = Y[i, q]
            bad += 1
            continue
        for kk in range(m):
            w = dW[j, q] * dW[kk, q] - (dt if j == kk else 0.0)
            cw = noise_scale * w / (2.0 * sq)
            for i in range(d):
                Xn[i, q] += cw * (Sy[i, kk, q] - S[i, kk, q])
    return bad


@njit(cache=True, error_model="numpy", no_cfunc_wrapper=True, no_cpython_wrapper=True)
def increment(X, B, S, dW, dt, noise_scale, acc, Xn):
    """Xn[i, q] = X[i, q] + B[i, q] dt + noise_scale sum_j S[i, j, q] dW[j, q] (the Euler-Maruyama step; the sum
    is 0.0 plus the columns in order, as in the scalar step, the last column added in the final pass; ``acc``:
    (nb,) work buffer)."""
    d, m, nb = S.shape
    for i in range(d):
        for q in range(nb):
            acc[q] = 0.0
        for j in range(m - 1):
            for q in range(nb):
                acc[q] += S[i, j, q] * dW[j, q]
        for q in range(nb):
            Xn[i, q] = X[i, q] + B[i, q] * dt + noise_scale * (acc[q] + S[i, m - 1, q] * dW[m - 1, q])


@njit(cache=True, error_model="numpy", no_cfunc_wrapper=True, no_cpython_wrapper=True)
def increment_const(X, B, S, dW, dt, noise_scale, acc, Xn):
    """:func:`increment` for a constant factor S (d, m)."""
    d, m = S.shape
    nb = X.shape[1]
    for i in range(d):
        for q in range(nb):
            acc[q] = 0.0
        for j in range(m - 1):
            sij = S[i, j]
            for q in range(nb):
                acc[q] += sij * dW[j, q]
        sim = S[i, m - 1]
        for q in range(nb):
            Xn[i, q] = X[i, q] + B[i, q] * dt + noise_scale * (acc[q] + sim * dW[m - 1, q])


@njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def mark_points(X, code, alive, fail_x, p0):
    """fail_x[p0 + q] = X[:, q] for the live lanes whose D(x) failed at X (status in ``code``)."""
    for q in range(X.shape[1]):
        if alive[q] and code[q] != D_OK:
            for i in range(X.shape[0]):
                fail_x[p0 + q, i] = X[i, q]


@njit(cache=True, error_model="numpy", no_cfunc_wrapper=True, no_cpython_wrapper=True)
def commit(X, Xn, code, ok):
    """X[:, q] = Xn[:, q] where code[q] is D_OK and Xn[:, q] is finite (ok[q] true), else X is kept (a lane
    that failed stays finite); returns the number of lanes not committed."""
    d, nb = X.shape
    for q in range(nb):
        ok[q] = code[q] == D_OK
    for i in range(d):
        for q in range(nb):
            ok[q] = ok[q] & math.isfinite(Xn[i, q])
    bad = 0
    for q in range(nb):
        bad += 1 - ok[q]
    for i in range(d):
        for q in range(nb):
            X[i, q] = Xn[i, q] if ok[q] else X[i, q]
    return bad


@njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def record_failures(code, ok, alive, status, fail_step, p0, step):
    """For each live lane not committed: its status (its D(x) code, else NON_FINITE) and step; the lane dies
    (it is still computed, frozen at its last finite state, but never saved). Returns the number that died."""
    died = 0
    for q in range(ok.shape[0]):
        if alive[q] and not ok[q]:
            p = p0 + q
            status[p] = NON_FINITE if code[q] == D_OK else code[q]
            fail_step[p] = step
            alive[q] = False
            died += 1
    return died
