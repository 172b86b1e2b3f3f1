"""Exact separable sweeps over grid axes: Gaussian log-sum-exp convolution and lower envelope of parabolas.

Both exact HJ references reduce a d-dimensional problem to one sweep per axis, because the kernel
|x - y|^2 / (2t) is a sum over axes:

* Cole-Hopf (viscous): L(x) = log sum_y K(x - y) exp(L0(y)) with the Gaussian lattice kernel K of variance
  s = t / beta per axis, normalised so that its weights over the infinite lattice sum to one.
* Hopf-Lax (inviscid): u(x) = min_y f(y) + |x - y|^2 / (2t), by the lower envelope of parabolas
  (Felzenszwalb and Huttenlocher), O(N) per line.

Boundaries: the field is extended to the infinite lattice of cell centres, periodically (``"periodic"``) or
by mirror reflection about the outer faces (``"neumann"``: the even extension, which gives the exact solution
of the Neumann heat problem; for the inviscid minimum the mirror images are never closer than the originals,
so it equals the minimum over the box, the state-constrained Hopf-Lax formula).

Each sweep also carries the coordinates of the minimiser / the Gibbs mean: after the sweep along axis a,
the entries for the axes already swept are averaged (viscous) or gathered (inviscid) along that axis, and the
coordinate of axis a itself is appended. Coordinates are those of the *unfolded* lattice (a periodic image or
a mirror image may lie outside the box), so that x - <y> is the true displacement.

Threads: a sweep runs its lines on one thread, or, with several Numba threads and at least PARALLEL_MIN_WORK
operations, in blocks of lines in parallel. Both run the same line kernel, so the result does not depend on the
thread count; the parallel driver (a second or two to compile) is compiled only when a sweep first takes it.
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

PERIODIC, MIRROR = 0, 1
# Longest Gaussian kernel (in lattice shifts) a sweep builds: beyond it the kernel spans > 1e6 cells, far more
# than any grid this package handles, and the cost O(N * shifts) would be prohibitive.
MAX_SHIFTS = 10**6
# Sweeps of fewer operations (cells x kernel length) run on one thread: a parallel region does not pay below it,
# and its driver takes a second or two to compile.
PARALLEL_MIN_WORK = 2**22
_PARALLEL_BLOCKS = 256  # blocks of lines of a parallel sweep (each allocates its scratch once)


@njit(cache=True)
def _source(k, n, mode):
    """Index in [0, n) of the lattice cell k of the periodic or mirror extension of a line of n cells."""
    if mode == PERIODIC:
        return k % n
    r = k % (2 * n)
    return r if r < n else 2 * n - 1 - r


@njit(cache=True, error_model="numpy")
def _lse_lines(L, C, logk, lower, h, mode, out_L, out_C, l0, l1):
    """Gaussian log-sum-exp convolution of the lines l0 <= l < l1 of ``L`` (lines, n) with the kernel table ``logk``.

    ``logk[m]`` is the log weight of a lattice shift of m cells (m = 0..K; shifts beyond K are negligible).
    ``C`` (nc, lines, n) holds carried conditional means, averaged with the same weights into
    ``out_C[:nc]``; ``out_C[nc]`` receives the mean of this axis' unfolded coordinate.
    """
    n = L.shape[1]
    nc = C.shape[0]
    K = logk.shape[0] - 1
    ext = np.empty(n + 2 * K)
    src = np.empty(n + 2 * K, dtype=np.int64)
    acc = np.empty(nc + 1)
    for l in range(l0, l1):
        for j in range(n + 2 * K):
            s = _source(j - K, n, mode)
            src[j] = s
            ext[j] = L[l, s]
        for i in range(n):
            m = -np.inf
            for j in range(i, i + 2 * K + 1):
                v = ext[j] + logk[abs(j - K - i)]
                if v > m:
                    m = v
            tot = 0.0
            acc[:] = 0.0
            for j in range(i, i + 2 * K + 1):
                w = math.exp(ext[j] + logk[abs(j - K - i)] - m)
                tot += w
                for c in range(nc):
                    acc[c] += w * C[c, l, src[j]]
                acc[nc] += w * (lower + (j - K + 0.5) * h)
            out_L[l, i] = m + math.log(tot)
            for c in range(nc + 1):
                out_C[c, l, i] = acc[c] / tot


@njit(cache=True, error_model="numpy")
def _envelope_lines(F, C, t, lower, h, images, mode, out_F, out_C, l0, l1):
    """Lower envelope of the parabolas F[l, y] + (x - y)^2 / (2t) over the lines l0 <= l < l1, at the centres.

    ``images`` extra copies of the line on each side (periodic only) are included. ``C`` (nc, lines, n) holds
    carried minimiser coordinates, gathered at the argmin into ``out_C[:nc]``; ``out_C[nc]`` receives the
    unfolded argmin coordinate along this axis.
    """
    n = F.shape[1]
    nc = C.shape[0]
    m_tot = n * (2 * images + 1)
    two_t = 2.0 * t
    pos = np.empty(m_tot)
    val = np.empty(m_tot)
    src = np.empty(m_tot, dtype=np.int64)
    v = np.empty(m_tot, dtype=np.int64)  # indices of the parabolas on the envelope
    z = np.empty(m_tot + 1)  # breakpoints
    for l in range(l0, l1):
        for j in range(m_tot):
            k = j - images * n
            s = _source(k, n, mode)
            src[j] = s
            pos[j] = lower + (k + 0.5) * h
            val[j] = two_t * F[l, s] + pos[j] * pos[j]  # parabola (x - y)^2 + 2t f = x^2 - 2xy + val
        k_env = 0
        v[0] = 0
        z[0] = -np.inf
        z[1] = np.inf
        for q in range(1, m_tot):
            s = (val[q] - val[v[k_env]]) / (2.0 * (pos[q] - pos[v[k_env]]))
            while s <= z[k_env]:  # z[0] = -inf ends the loop
                k_env -= 1
                s = (val[q] - val[v[k_env]]) / (2.0 * (pos[q] - pos[v[k_env]]))
            k_env += 1
            v[k_env] = q
            z[k_env] = s
            z[k_env + 1] = np.inf
        k_env_q = 0
        for i in range(n):
            x = lower + (i + 0.5) * h
            while z[k_env_q + 1] < x:
                k_env_q += 1
            p = v[k_env_q]
            out_F[l, i] = ((x - pos[p]) ** 2 + two_t * F[l, src[p]]) / two_t
            for c in range(nc):
                out_C[c, l, i] = C[c, l, src[p]]
            out_C[nc, l, i] = pos[p]


@njit(cache=True, parallel=True)
def _lse_parallel(L, C, logk, lower, h, mode, out_L, out_C):
    """:func:`_lse_lines` over all lines, blocks of lines in parallel."""
    nl = L.shape[0]
    blocks = min(nl, _PARALLEL_BLOCKS)
    for b in prange(blocks):
        _lse_lines(L, C, logk, lower, h, mode, out_L, out_C, b * nl // blocks, (b + 1) * nl // blocks)


@njit(cache=True, parallel=True)
def _envelope_parallel(F, C, t, lower, h, images, mode, out_F, out_C):
    """:func:`_envelope_lines` over all lines, blocks of lines in parallel."""
    nl = F.shape[0]
    blocks = min(nl, _PARALLEL_BLOCKS)
    for b in prange(blocks):
        _envelope_lines(F, C, t, lower, h, images, mode, out_F, out_C, b * nl // blocks, (b + 1) * nl // blocks)


def _over_lines(serial, parallel, lines: np.ndarray, work: float, *args) -> None:
    """Run a line kernel over all of ``lines``: on one thread, or (several Numba threads and ``work`` >=
    PARALLEL_MIN_WORK operations) with blocks of lines in parallel. Each line is computed the same way by both,
    so the result does not depend on the choice; the parallel driver, slow to compile, compiles only when used."""
    if numba.get_num_threads() > 1 and work >= PARALLEL_MIN_WORK:
        parallel(*args)
    else:
        serial(*args, 0, lines.shape[0])


def _modes(grid) -> list[int]:
    return [PERIODIC if p else MIRROR for p in grid.periodic]


def _sweep(values: np.ndarray, grid, line_op) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``line_op(axis, lines, carried) -> (lines, carried)`` along every axis in turn.

    Returns the final field (grid.shape) and the carried coordinates (grid.shape + (ndim,)).
    """
    field = np.ascontiguousarray(values, dtype=np.float64)
    carried = np.empty((0,) + grid.shape)
    for a, n in enumerate(grid.shape):
        lines = np.ascontiguousarray(np.moveaxis(field, a, -1)).reshape(-1, n)
        moved_shape = np.moveaxis(field, a, -1).shape
        c_lines = np.ascontiguousarray(np.moveaxis(carried, a + 1, -1)).reshape(carried.shape[0], lines.shape[0], n)
        new_lines, new_c = line_op(a, lines, c_lines)
        field = np.moveaxis(new_lines.reshape(moved_shape), -1, a)
        carried = np.moveaxis(new_c.reshape((new_c.shape[0],) + moved_shape), -1, a + 1)
    return np.ascontiguousarray(field), np.ascontiguousarray(np.moveaxis(carried, 0, -1))


def gaussian_log_kernel(h: float, s: float, radius: float) -> np.ndarray:
    """log weights of the lattice Gaussian of variance ``s`` on spacing ``h`` for shifts 0..ceil(radius/h).

    Normalised over the infinite lattice (sum over all integer shifts of the weights = 1), so a constant field
    is reproduced exactly and the kernel is the same for every cell (the mirror and periodic extensions of a
    cell-centred line lie on the same lattice). At most ``MAX_SHIFTS`` shifts (ValueError beyond).
    """
    k_float = max(radius / h, math.sqrt(2.0 * s * 800.0) / h + 1.0)
    if not k_float <= MAX_SHIFTS:
        raise ValueError(f"radius / h = {radius / h:.3g} and sqrt(1600 s) / h = {math.sqrt(1600.0 * s) / h:.3g} "
                         f"must be <= {MAX_SHIFTS:.0e} lattice shifts")
    k = int(math.ceil(radius / h))
    k_norm = max(k, int(math.ceil(math.sqrt(2.0 * s * 800.0) / h)) + 1)
    m = np.arange(-k_norm, k_norm + 1, dtype=np.float64)
    logw = -(m * h) ** 2 / (2.0 * s)
    log_z = float(np.max(logw) + np.log(np.sum(np.exp(logw - np.max(logw)))))
    return -(np.arange(k + 1) * h) ** 2 / (2.0 * s) - log_z


def log_heat_sweep(log_mass: np.ndarray, grid, s: float, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Convolve exp(``log_mass``) with the Gaussian of variance ``s`` per axis, in log space.

    Shifts longer than ``radius`` are dropped (the caller chooses it so they weigh < e^-50 relative).
    Returns (log of the convolution, Gibbs mean of the unfolded coordinates, shape grid.shape + (ndim,)).
    """
    modes = _modes(grid)

    def op(a, lines, c_lines):
        logk = gaussian_log_kernel(grid.spacing[a], s, radius)
        out_l = np.empty_like(lines)
        out_c = np.empty((c_lines.shape[0] + 1,) + lines.shape)
        _over_lines(_lse_lines, _lse_parallel, lines, lines.size * (2 * logk.size - 1) * (2 + c_lines.shape[0]), lines,
                    c_lines, logk, grid.lower[a], grid.spacing[a], modes[a], out_l, out_c)
        return out_l, out_c

    return _sweep(log_mass, grid, op)


def parabola_envelope_sweep(f: np.ndarray, grid, t: float) -> tuple[np.ndarray, np.ndarray]:
    """min_y f(y) + |x - y|^2 / (2t) over the lattice, and its argmin (unfolded coordinates)."""
    modes = _modes(grid)

    def op(a, lines, c_lines):
        h = grid.spacing[a]
        # a periodic f repeats, so for each y only its image nearest to x (within half a period) can be the
        # minimiser: one image on each side always suffices, whatever t (no allocation growing with t)
        images = 1 if modes[a] == PERIODIC else 0
        out_f = np.empty_like(lines)
        out_c = np.empty((c_lines.shape[0] + 1,) + lines.shape)
        _over_lines(_envelope_lines, _envelope_parallel, lines, lines.size * (4.0 + c_lines.shape[0]), lines,
                    c_lines, t, grid.lower[a], h, images, modes[a], out_f, out_c)
        return out_f, out_c

    return _sweep(f, grid, op)
