"""Counter-based Gaussian streams for Numba kernels: the same seed gives the same paths for any thread count.

Path ``p`` of a run with seed ``s`` owns the 64-bit key ``keys[p]`` (from ``numpy.random.SeedSequence(s)``, a
prefix-stable sequence: path ``p`` does not depend on how many paths are run). Its uniforms are
``u_n = splitmix64(key + (n + 1) * golden)`` (the SplitMix64 stream started at ``key``, which passes BigCrush)
and its normals are Box-Muller pairs ``(z_{2i}, z_{2i+1})`` built from ``(u_{2i}, u_{2i+1})``. A normal is a pure
function of ``(key, index)``, so no generator state is shared between threads.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..validation import positive_int

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_ONE = np.uint64(1)
_TWO_PI = 2.0 * math.pi
_INV_2_53 = 1.0 / 9007199254740992.0


def path_keys(seed: int, n_paths: int) -> np.ndarray:
    """Per-path 64-bit keys for ``seed`` (prefix-stable in ``n_paths``)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    n_paths = positive_int("n_paths", n_paths)
    return np.random.SeedSequence(int(seed)).generate_state(n_paths, dtype=np.uint64)


@njit(cache=True, inline="always")
def uniform(key, n):
    """The ``n``-th uniform in (0, 1) of the stream ``key``."""
    z = key + (np.uint64(n) + _ONE) * _GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    z = z ^ (z >> _S31)
    return (float(z >> _S11) + 0.5) * _INV_2_53


@njit(cache=True, inline="always")
def _pair(key, i):
    r = math.sqrt(-2.0 * math.log(uniform(key, 2 * i)))
    a = _TWO_PI * uniform(key, 2 * i + 1)
    return r * math.cos(a), r * math.sin(a)


@njit(cache=True, inline="always")
def fill_normals(key, start, buf):
    """Write the standard normals ``z_start, ..., z_{start+len(buf)-1}`` of stream ``key`` into ``buf``."""
    n = buf.shape[0]
    k = start
    j = 0
    if n > 0 and k % 2 == 1:
        buf[0] = _pair(key, k // 2)[1]
        j, k = 1, k + 1
    while j + 1 < n:
        z0, z1 = _pair(key, k // 2)
        buf[j], buf[j + 1] = z0, z1
        j, k = j + 2, k + 2
    if j < n:
        buf[j] = _pair(key, k // 2)[0]
