"""Fields on a :class:`~pde_sgd.grid.Grid` in the form compiled code reads, and their multilinear interpolation.

A cell-centred field is flattened to (lower, spacing, shape, periodic flags, values (cells, k)) by
:class:`GridData`; :func:`interp_field` interpolates it at one point (allocation-free, inlined by the SDE
kernels), :func:`interp_points` at many. Outside the centres a value is held constant (Neumann axes) or wrapped
(periodic axes); the weights are a convex combination, so a field of PSD matrices stays PSD.

A ground-floor module: the drift and diffusion specs (:mod:`pde_sgd.drift`, :mod:`pde_sgd.diffusion`) and the
SDE kernels (:mod:`pde_sgd.sde`) all build on it, and it imports none of them.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .grid import Grid


class GridData:
    """A field on a Grid flattened for the kernels: lower, spacing, shape, periodic flags, values (cells, k)."""

    def __init__(self, grid: Grid, values: np.ndarray, value_shape: tuple) -> None:
        self.grid = grid
        self.lower = np.array(grid.lower)
        self.h = np.array(grid.spacing)
        self.shape = np.array(grid.shape, dtype=np.int64)
        self.periodic = np.array(grid.periodic, dtype=np.bool_)
        self.values = np.ascontiguousarray(values.reshape(grid.size, int(np.prod(value_shape))))

    @staticmethod
    def empty(dim: int, k: int) -> "tuple":
        return (np.zeros(dim), np.ones(dim), np.ones(dim, dtype=np.int64), np.zeros(dim, dtype=np.bool_),
                np.zeros((1, k)))

    def arrays(self) -> tuple:
        return self.lower, self.h, self.shape, self.periodic, self.values


@njit(cache=True, inline="always")
def _axis_weight(lower, h, n, periodic, xa):
    """(lower index, upper index, weight of the upper one) along one axis for multilinear interpolation."""
    s = (xa - lower) / h - 0.5
    if periodic:
        fl = math.floor(s)
        i0 = int(fl) % n
        return i0, (i0 + 1) % n, s - fl
    if s <= 0.0:
        return 0, 0, 0.0
    if s >= n - 1:
        return n - 1, n - 1, 0.0
    fl = math.floor(s)
    i = int(fl)
    return i, i + 1, s - fl


@njit(cache=True)
def interp_field(lower, h, shape, periodic, values, x, out):
    """Multilinear interpolation of a cell-centred field (values: (cells, k), C order) at ``x`` into ``out``.

    Allocation-free: the per-axis (index, index, weight) triples are kept in scalars; 1-D and 2-D unrolled.
    """
    d = x.shape[0]
    k = out.shape[0]
    i0, i1, w = _axis_weight(lower[0], h[0], shape[0], periodic[0], x[0])
    if d == 1:
        for j in range(k):
            out[j] = (1.0 - w) * values[i0, j] + w * values[i1, j]
        return
    j0, j1, v = _axis_weight(lower[1], h[1], shape[1], periodic[1], x[1])
    if d == 2:  # the common case, unrolled
        n1 = shape[1]
        r00, r01, r10, r11 = i0 * n1 + j0, i0 * n1 + j1, i1 * n1 + j0, i1 * n1 + j1
        c00, c01, c10, c11 = (1.0 - w) * (1.0 - v), (1.0 - w) * v, w * (1.0 - v), w * v
        for j in range(k):
            out[j] = c00 * values[r00, j] + c01 * values[r01, j] + c10 * values[r10, j] + c11 * values[r11, j]
        return
    a0, a1 = (i0, i1, w), (j0, j1, v)
    a2 = _axis_weight(lower[2], h[2], shape[2], periodic[2], x[2])
    out[:] = 0.0
    for corner in range(1 << d):
        w = 1.0
        idx = 0
        for a in range(d):
            i0, i1, w1 = a0 if a == 0 else (a1 if a == 1 else a2)
            if (corner >> a) & 1:
                w *= w1
                ia = i1
            else:
                w *= 1.0 - w1
                ia = i0
            idx = idx * shape[a] + ia
        if w != 0.0:
            for j in range(k):
                out[j] += w * values[idx, j]


@njit(cache=True, parallel=True)
def interp_points(lower, h, shape, periodic, values, pts):
    """:func:`interp_field` at every point of ``pts`` (n, dim) -> (n, k)."""
    out = np.empty((pts.shape[0], values.shape[1]))
    for n in prange(pts.shape[0]):
        interp_field(lower, h, shape, periodic, values, pts[n], out[n])
    return out
