"""Matrix-free forward-Euler step of the finite-volume Fokker-Planck generator, from precomputed face weights.

The generator of :mod:`pde_sgd.fokker_planck.operator` is L = sum_a Div_a F_a: the flux through the right face
of cell c along axis a is a short sum J_a(c) = sum_k W_ak(c) rho(c + o_ak) over a fixed set of offsets
o_ak in {-1, 0, 1}^d, and (L rho)(c) = sum_a [J_a(c - e_a) - J_a(c)] / h_a. Every axis has the pair of terms at
offsets 0 and e_a (with D diagonal these are all: the Scharfetter-Gummel weights, 2 d weights per cell); a cross
coefficient D_ab adds the four corner terms +-e_b and e_a +- e_b of the nine-point stencil. The weights
W_ak (flux weight / h_a) are computed directly from the coefficients
(:func:`pde_sgd.fokker_planck.operator.face_stencil`; a wall face of a no-flux axis has zero weights, a periodic
axis wraps); the sparse generator, when a method needs one, is assembled from them (:meth:`FaceStencil.to_csr`).

The step rho+ = rho + dt L rho runs over rows of the last (contiguous) axis, 1-D and 2-D grids being viewed as
(1, 1, n) and (1, n0, n1). One vectorised pass per row computes the pairs of every axis (the left-face flux of
an outer axis from the previous row, in cache); each corner term is one more pass over a row held in L1. Main
memory sees rho, the weights and the new row once per step: (2 + T) * 8 bytes per cell-step for T face terms
(T = 2 d for diagonal D).

Compilation (what a first call waits for): one kernel, :func:`_steps`, is both the serial stepper (all rows,
any number of steps; the default) and the unit of work of the parallel step (one step on a block of rows), so
each row is computed the same way by both and the result does not depend on the driver or the thread count.
Only what runs is compiled: the parallel region (seconds to compile; it pays only on large grids with several
threads) when asked for, the corner pass only for stencils with cross terms (``corners`` is None otherwise, a
type for which Numba drops the branch). The odd-step copy is numpy's, outside the kernel.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numba import njit, prange



_PARALLEL_BLOCKS = 256  # blocks of rows of the parallel step (static schedule over Numba's threads)


@dataclass(frozen=True)
class FaceStencil:
    """Face terms of the generator on the grid viewed as 3-D (leading axes of length 1 for 1-D and 2-D).

    Attributes
    ----------
    shape : tuple of 3 ints
    axis : ndarray (T,) of int
        The face axis (0-2, in the 3-D view) of each term.
    offsets : ndarray (T, 3) of int
        The cell the term reads, relative to the face's left cell.
    weights : ndarray (T, *shape)
        W_ak / h_a at every face's left cell (zero on no-flux walls).
    pairs : ndarray (3, 2) of int
        The indices of each axis' terms at offsets 0 and e_a (-1 for a unit axis).
    corners : ndarray of int
        The indices of the other (cross-diffusion) terms; empty for diagonal D.
    """

    shape: tuple[int, int, int]
    axis: np.ndarray
    offsets: np.ndarray
    weights: np.ndarray
    pairs: np.ndarray
    corners: np.ndarray

    @property
    def diagonal(self) -> np.ndarray | None:
        """:attr:`pairs` for a stencil without cross terms, None when there are cross terms."""
        return None if self.corners.size else self.pairs

    @property
    def bytes_per_cell_step(self) -> int:
        """Main-memory traffic of one step per cell: read rho and the T weights, write the new value."""
        return 8 * (2 + self.axis.size)

    def _rolled(self, X: np.ndarray, o: np.ndarray) -> np.ndarray:
        """X(c + o) at every cell c (indices wrapped, as the kernel reads them)."""
        return np.roll(X, tuple(-o), axis=(0, 1, 2))

    def face_fluxes(self, rho: np.ndarray, spacing: tuple[float, ...]) -> list[np.ndarray]:
        """Flux h_a sum_k W_ak rho(c + o_ak) through the right face of every cell, one array (the 3-D view's
        shape) per axis of the grid (``spacing``: its h_a)."""
        rho = np.asarray(rho, float).reshape(self.shape)
        lead = 3 - len(spacing)
        out = []
        for a, h in enumerate(spacing):
            J = np.zeros(self.shape)
            for t in np.flatnonzero(self.axis == a + lead):
                J += self.weights[t] * self._rolled(rho, self.offsets[t])
            out.append(J * h)
        return out

    def entry_terms(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(qs, plus, minus): every offset q the generator reaches (row k of ``qs``; L[c, c + q] = C_q(c)) and
        the terms making C_q: the term t of axis a moves J_t(c) = W_t(c) rho(c + o_t) out of cell c into c + e_a,
        so C_q(c) = sum_{t in plus[k]} W_t(c - e_a) - sum_{t in minus[k]} W_t(c), with o_t - e_a = q for the
        plus terms and o_t = q for the minus terms (rows padded with -1)."""
        unit = np.eye(3, dtype=np.int64)
        shifted = self.offsets - unit[self.axis]
        qs = np.unique(np.concatenate([self.offsets, shifted]), axis=0)
        plus, minus = (np.full((len(qs), self.axis.size), -1, np.int64) for _ in range(2))
        for k, q in enumerate(qs):
            for table, offs in ((plus, shifted), (minus, self.offsets)):
                t = np.flatnonzero((offs == q).all(axis=1))
                table[k, :t.size] = t
        return qs, plus, minus

    def generator_entries(self):
        """Yield (q, C_q) for every offset q the generator reaches: L[c, c + q] = C_q(c) (:meth:`entry_terms`)."""
        for q, plus, minus in zip(*self.entry_terms()):
            C = np.zeros(self.shape)
            for t in minus[minus >= 0]:
                C -= self.weights[t]
            for t in plus[plus >= 0]:
                C += np.roll(self.weights[t], 1, axis=self.axis[t])
            yield tuple(q), C

    def to_csr(self) -> sp.csr_matrix:
        """The generator L as a CSR matrix on the C-ordered flattened density (zero entries dropped)."""
        n = int(np.prod(self.shape))
        index = np.arange(n).reshape(self.shape)
        rows, cols, vals = [], [], []
        for q, C in self.generator_entries():
            nz = C.ravel() != 0.0
            rows.append(index.ravel()[nz])
            cols.append(self._rolled(index, np.array(q)).ravel()[nz])
            vals.append(C.ravel()[nz])
        L = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
        L.sum_duplicates()
        return L

    def euler_steps(self, rho: np.ndarray, buf: np.ndarray, dt: float, n_steps: int, *,
                    parallel: bool = False) -> None:
        """``n_steps`` of rho <- rho + dt L rho in place (flat or grid-shaped float64 ``rho``; ``buf`` scratch),
        on one thread or (``parallel``) with blocks of rows on Numba's threads; the same result either way."""
        terms = (self.weights, self.pairs, self.corners if self.corners.size else None, self.axis, self.offsets)
        rho, buf = rho.reshape(self.shape), buf.reshape(self.shape)
        if not parallel:
            _steps(*terms, rho, buf, dt, n_steps, 0, rho.shape[0] * rho.shape[1])
        else:
            for k in range(n_steps):  # a step of a grid worth threads takes >= 1 ms: a Python loop costs nothing
                _parallel_step(*terms, *((rho, buf) if k % 2 == 0 else (buf, rho)), dt)
        if n_steps % 2 == 1:  # here, not in the kernel: Numba's copy of a 3-D slice takes seconds to compile
            rho[...] = buf


@njit(cache=True)
def _face_pair(out, wr, sr, rs, wl, sl, ls, lw, dt):
    """out[j] += dt (wl[j + lw] sl[j + ls] - wr[j] sr[j + rs]) along a row, indices wrapped mod n (offsets in
    {-2, ..., 1}): one corner term's flux through the left face (in) and the right face (out) of every cell."""
    n = out.shape[0]
    for j in range(1, n - 1):  # constant offsets: vectorised
        out[j] += dt * (wl[j + lw] * sl[j + ls] - wr[j] * sr[j + rs])
    for j in (0, n - 1):
        out[j] += dt * (wl[(j + lw) % n] * sl[(j + ls) % n] - wr[j] * sr[(j + rs) % n])


@njit(cache=True)
def _steps(W, pairs, corners, axis, off, rho, buf, dt, n_steps, r0, r1):
    """n_steps of dst = src + dt L src on the rows r0 <= r < r1 of the last axis (row r = (r // n1, r % n1)),
    rho and buf swapping roles every step (the result is in ``buf`` after an odd number of steps). All rows and
    any n_steps: the serial stepper; one step on a block of rows: the parallel step's unit of work.

    Per row, one vectorised pass over the pairs (P, Q) = (W at offset 0, W at offset e_a) of every axis, a face
    flux being J(c) = P(c) rho(c) + Q(c) rho(c + e_a): (L rho)(c) = sum_a J(c - e_a) - J(c), the left faces of
    the outer axes read from the previous row / plane. Then, when ``corners`` is not None (cross diffusion; the
    branch is compiled only for that type), one pass per corner term t and face, J_t(c) = W_t(c) rho(c + o_t).
    """
    n0, n1, n2 = rho.shape
    use0, use1 = pairs[0, 0] >= 0, pairs[1, 0] >= 0
    p2, q2 = pairs[2, 0], pairs[2, 1]
    a1, b1, a0, b0 = max(pairs[1, 0], 0), max(pairs[1, 1], 0), max(pairs[0, 0], 0), max(pairs[0, 1], 0)
    for k in range(n_steps):
        src, dst = (rho, buf) if k % 2 == 0 else (buf, rho)
        for r in range(r0, r1):
            i0 = r // n1
            i1 = r - i0 * n1
            m1, p1, m0, p0 = (i1 - 1) % n1, (i1 + 1) % n1, (i0 - 1) % n0, (i0 + 1) % n0

            def cell(j, jm, jp):  # inlined by Numba at both calls: the interior loop and the two wrapped ends
                s = src[i0, i1, j]
                v = (W[p2, i0, i1, jm] * src[i0, i1, jm] + W[q2, i0, i1, jm] * s) \
                    - (W[p2, i0, i1, j] * s + W[q2, i0, i1, j] * src[i0, i1, jp])
                if use1:
                    v += (W[a1, i0, m1, j] * src[i0, m1, j] + W[b1, i0, m1, j] * s) \
                        - (W[a1, i0, i1, j] * s + W[b1, i0, i1, j] * src[i0, p1, j])
                if use0:
                    v += (W[a0, m0, i1, j] * src[m0, i1, j] + W[b0, m0, i1, j] * s) \
                        - (W[a0, i0, i1, j] * s + W[b0, i0, i1, j] * src[p0, i1, j])
                dst[i0, i1, j] = s + dt * v

            for j in range(1, n2 - 1):  # constant offsets: vectorised
                cell(j, j - 1, j + 1)
            for j in (0, n2 - 1):
                cell(j, (j - 1) % n2, (j + 1) % n2)
            if corners is not None:
                out = dst[i0, i1]
                for t in corners:
                    a, o0, o1, o2 = axis[t], off[t, 0], off[t, 1], off[t, 2]
                    l0 = (i0 - 1) % n0 if a == 0 else i0  # the left face's row (the same row, shifted, for a == 2)
                    l1 = (i1 - 1) % n1 if a == 1 else i1
                    _face_pair(out, W[t, i0, i1], src[(i0 + o0) % n0, (i1 + o1) % n1], o2, W[t, l0, l1],
                               src[(l0 + o0) % n0, (l1 + o1) % n1], o2 - (a == 2), -(a == 2), dt)


@njit(cache=True, parallel=True)
def _parallel_step(W, pairs, corners, axis, off, src, dst, dt):
    """dst = src + dt L src with blocks of rows in parallel (each row computed as on one thread: the result does
    not depend on the thread count)."""
    rows = src.shape[0] * src.shape[1]
    blocks = min(rows, _PARALLEL_BLOCKS)
    for b in prange(blocks):
        _steps(W, pairs, corners, axis, off, src, dst, dt, 1, b * rows // blocks, (b + 1) * rows // blocks)
