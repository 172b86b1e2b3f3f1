"""Counter-based Gaussian streams for Numba kernels: the same seed gives the same paths for any thread count.

Path ``p`` of a run with seed ``s`` owns the 64-bit key ``keys[p]`` (from ``numpy.random.SeedSequence(s)``, a
prefix-stable sequence: path ``p`` does not depend on how many paths are run). Its raw 64-bit words are
``r_c = splitmix64(key + (c + 1) * golden)`` (the SplitMix64 stream started at ``key``, which passes BigCrush).
Normal number ``n`` of the stream is drawn by the 128-layer ziggurat of Marsaglia & Tsang (2000) from the words
``c = 8 n, 8 n + 1, ...`` (one word in ~99% of cases; exact tail and wedge rejection otherwise), so a normal is
a pure function of ``(key, n)``: no generator state is shared between threads, and a kernel can jump to any
normal (the Brownian increments of a step are addressed by the step index).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..validation import positive_int, seed_int

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11, _S32 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11), np.uint64(32)
_ONE = np.uint64(1)
_LOW7 = np.uint64(127)
_INV_2_53 = 1.0 / 9007199254740992.0
_WORDS = 8  # raw words reserved per normal
_R = 3.442619855899  # start of the tail (128 layers)


def _ziggurat_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Marsaglia-Tsang tables kn (int64 thresholds), wn (layer widths / 2^31), fn (densities at the edges)."""
    m1, dn, tn, vn = 2147483648.0, _R, _R, 9.91256303526217e-3
    kn, wn, fn = np.zeros(128, np.int64), np.zeros(128), np.zeros(128)
    q = vn / math.exp(-0.5 * dn * dn)
    kn[0], kn[1] = int((dn / q) * m1), 0
    wn[0], wn[127] = q / m1, dn / m1
    fn[0], fn[127] = 1.0, math.exp(-0.5 * dn * dn)
    for i in range(126, 0, -1):
        dn = math.sqrt(-2.0 * math.log(vn / dn + math.exp(-0.5 * dn * dn)))
        kn[i + 1] = int((dn / tn) * m1)
        tn = dn
        fn[i] = math.exp(-0.5 * dn * dn)
        wn[i] = dn / m1
    return kn, wn, fn


_KN, _WN, _FN = _ziggurat_tables()


def path_keys(seed: int, n_paths: int) -> np.ndarray:
    """Per-path 64-bit keys for ``seed`` (prefix-stable in ``n_paths``)."""
    seed = seed_int(seed)
    n_paths = positive_int("n_paths", n_paths)
    return np.random.SeedSequence(seed).generate_state(n_paths, dtype=np.uint64)


@njit(cache=True, inline="always")
def raw_word(key, n):
    """The ``n``-th 64-bit word of the stream ``key``."""
    z = key + (np.uint64(n) + _ONE) * _GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def uniform(key, n):
    """The ``n``-th uniform in (0, 1) of the stream ``key``."""
    return (float(raw_word(key, n) >> _S11) + 0.5) * _INV_2_53


@njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)  # called from compiled code only
def _ziggurat_slow(key, c, hz, iz):
    """Tail and wedge branches of the ziggurat (rare); uses the words c, c + 1, ... of the normal's block."""
    while True:
        x = hz * _WN[iz]
        if iz == 0:  # tail beyond r: Marsaglia's exponential rejection
            while True:
                xt = -math.log(uniform(key, c)) / _R
                y = -math.log(uniform(key, c + 1))
                c += 2
                if y + y >= xt * xt:
                    break
            return _R + xt if hz > 0 else -_R - xt
        if _FN[iz] + uniform(key, c) * (_FN[iz - 1] - _FN[iz]) < math.exp(-0.5 * x * x):
            return x
        w = raw_word(key, c + 1)
        c += 2
        hz = np.int64(np.int32(np.uint32(w >> _S32)))
        iz = np.int64(w & _LOW7)
        if abs(hz) < _KN[iz]:
            return hz * _WN[iz]


@njit(cache=True, inline="always")
def normal(key, n):
    """Standard normal number ``n`` of the stream ``key`` (ziggurat; fast path: one word)."""
    c = np.uint64(n) * np.uint64(_WORDS)
    w = raw_word(key, c)
    hz = np.int64(np.int32(np.uint32(w >> _S32)))
    iz = np.int64(w & _LOW7)
    if abs(hz) < _KN[iz]:
        return hz * _WN[iz]
    return _ziggurat_slow(key, c + np.uint64(1), hz, iz)


@njit(cache=True, inline="always")
def fill_normals(key, start, buf):
    """Write the standard normals ``z_start, ..., z_{start+len(buf)-1}`` of stream ``key`` into ``buf``."""
    for j in range(buf.shape[0]):
        buf[j] = normal(key, start + j)
