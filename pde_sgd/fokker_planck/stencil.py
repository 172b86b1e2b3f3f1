"""Matrix-free forward-Euler step of the finite-volume Fokker-Planck generator, from precomputed face weights.

The generator of :mod:`pde_sgd.fokker_planck.operator` is L = sum_a Div_a F_a: the flux through the right face
of cell c along axis a is a short sum J_a(c) = sum_k W_ak(c) rho(c + o_ak) over a fixed set of offsets
o_ak in {-1, 0, 1}^d, and (L rho)(c) = sum_a [J_a(c - e_a) - J_a(c)] / h_a. With D diagonal an a-face has two
terms (offsets 0 and e_a: the Scharfetter-Gummel weights), 2 d weights per cell in all; a cross coefficient
D_ab adds the four corner terms +-e_b and e_a +- e_b of the nine-point stencil. The weights W_ak = F_a / h_a
are read off the assembled flux matrices, so the stencil means exactly what the CSR generator means (equal to
round-off; a wall face of a no-flux axis has zero weights, a periodic axis wraps).

The step rho+ = rho + dt L rho runs over rows of the last (contiguous) axis, 1-D and 2-D grids being viewed as
(1, 1, n) and (1, n0, n1). For diagonal D one fused, vectorised pass per row computes both faces of every axis
(the left-face flux of an outer axis from the previous row, in cache); with cross terms every term is its own
pass over a row held in L1. Main memory sees rho, the weights and the new row once per step:
(2 + T) * 8 bytes per cell-step for T face terms (T = 2 d for diagonal D).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numba import njit, prange

from ..grid import Grid


_NO_DIAGONAL = np.full((3, 2), -1, np.int64)  # the ``ix`` argument of _steps for a stencil with cross terms


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
    diagonal : ndarray (3, 2) of int or None
        For a stencil without cross terms, the indices of each axis' terms at offsets 0 and e_a (-1 for a unit
        axis); None when there are cross terms.
    """

    shape: tuple[int, int, int]
    axis: np.ndarray
    offsets: np.ndarray
    weights: np.ndarray
    diagonal: np.ndarray | None

    @property
    def bytes_per_cell_step(self) -> int:
        """Main-memory traffic of one step per cell: read rho and the T weights, write the new value."""
        return 8 * (2 + self.axis.size)

    @classmethod
    def from_fluxes(cls, grid: Grid, flux: list[sp.csr_matrix]) -> FaceStencil:
        """Read the face terms off the flux matrices (``flux[a] @ rho`` = flux through the right faces)."""
        lead = 3 - grid.ndim
        shape = (1,) * lead + tuple(grid.shape)
        axes, offsets, weights = [], [], []
        diagonal = np.full((3, 2), -1, np.int64)
        for a, (F, h) in enumerate(zip(flux, grid.spacing)):
            coo = F.tocoo()
            nz = coo.data != 0.0  # the assembly stores explicit zeros for cross terms of a zero D_ab
            coo = sp.coo_matrix((coo.data[nz], (coo.row[nz], coo.col[nz])), shape=F.shape)
            rows = np.unravel_index(coo.row, grid.shape)
            cols = np.unravel_index(coo.col, grid.shape)
            off = np.stack([_wrapped_offset(c - r, n) for r, c, n in zip(rows, cols, grid.shape)], axis=1)
            unit = np.eye(grid.ndim, dtype=np.int64)[a]
            uniq, which = np.unique(np.concatenate([off, [0 * unit, unit]]), axis=0, return_inverse=True)
            which = which.ravel()[:-2]  # the two appended rows make both diagonal terms exist (zero weights)
            for k, o in enumerate(uniq):
                W = np.zeros(grid.size)
                sel = which == k
                W[coo.row[sel]] = coo.data[sel] * (1.0 / h)
                if not o.any() or (o == unit).all():
                    diagonal[a + lead, int(o[a])] = len(weights)
                axes.append(a + lead)
                offsets.append(np.concatenate([np.zeros(lead, np.int64), o]))
                weights.append(W.reshape(shape))
        cross = len(weights) > 2 * grid.ndim
        return cls(shape, np.array(axes, np.int64), np.array(offsets, np.int64).reshape(-1, 3),
                   np.ascontiguousarray(np.stack(weights)), None if cross else diagonal)

    def euler_steps(self, rho: np.ndarray, buf: np.ndarray, dt: float, n_steps: int) -> None:
        """``n_steps`` of rho <- rho + dt L rho in place (flat or grid-shaped float64 ``rho``; ``buf`` scratch)."""
        fused = self.diagonal is not None
        ix = self.diagonal if fused else _NO_DIAGONAL
        _steps(self.weights, self.axis, self.offsets, ix, fused, rho.reshape(self.shape), buf.reshape(self.shape),
               dt, n_steps)


def _wrapped_offset(delta: np.ndarray, n: int) -> np.ndarray:
    """Index differences mod n mapped to {-1, 0, 1} (a periodic wrap is one step; clamped walls give 0)."""
    d = np.mod(delta, n)
    out = np.where(d == n - 1, -1, d) if n > 2 else d
    if np.any(np.abs(out) > 1):
        raise ValueError("the flux matrices reach beyond the nearest neighbours; not a face stencil")
    return out


@njit(cache=True, inline="always")
def _row_term(out, w, r, rs, ws, sign):
    """out[j] += sign * w[j + ws] * r[j + rs], indices wrapped mod n (|rs|, |ws| <= 1)."""
    n = out.shape[0]
    for j in range(1, n - 1):
        out[j] += sign * (w[j + ws] * r[j + rs])
    out[0] += sign * (w[ws % n] * r[rs % n])
    if n > 1:
        out[n - 1] += sign * (w[(n - 1 + ws) % n] * r[(n - 1 + rs) % n])


@njit(cache=True, parallel=True)
def _stencil_step(W, axis, off, src, dst, dt):
    """dst = src + dt L src for L given by its face terms (rows of the last axis in parallel)."""
    n0, n1, n2 = src.shape
    for r in prange(n0 * n1):
        i0 = r // n1
        i1 = r - i0 * n1
        out = dst[i0, i1]
        out[:] = 0.0
        for t in range(W.shape[0]):
            a, o0, o1, o2 = axis[t], off[t, 0], off[t, 1], off[t, 2]
            _row_term(out, W[t, i0, i1], src[(i0 + o0) % n0, (i1 + o1) % n1], o2, 0, -1.0)  # right face
            if a == 2:  # left face: the same row shifted by one
                _row_term(out, W[t, i0, i1], src[(i0 + o0) % n0, (i1 + o1) % n1], o2 - 1, -1, 1.0)
            else:  # left face: the previous row / plane (wrapped; a wall face has zero weight)
                l0 = (i0 - 1) % n0 if a == 0 else i0
                l1 = (i1 - 1) % n1 if a == 1 else i1
                _row_term(out, W[t, l0, l1], src[(l0 + o0) % n0, (l1 + o1) % n1], o2, 0, 1.0)
        s = src[i0, i1]
        for j in range(n2):
            out[j] = s[j] + dt * out[j]


@njit(cache=True, inline="always")
def _diag_cell(j, jm, jp, s, sp, sn, tp, tn, P2, Q2, P1, Q1, P1p, Q1p, P0, Q0, P0p, Q0p, use1, use0):
    """(L rho)(c) for diagonal D: sum over axes of J(c - e_a) - J(c), J(c) = P(c) rho(c) + Q(c) rho(c + e_a)."""
    v = (P2[jm] * s[jm] + Q2[jm] * s[j]) - (P2[j] * s[j] + Q2[j] * s[jp])
    if use1:
        v += (P1p[j] * sp[j] + Q1p[j] * s[j]) - (P1[j] * s[j] + Q1[j] * sn[j])
    if use0:
        v += (P0p[j] * tp[j] + Q0p[j] * s[j]) - (P0[j] * s[j] + Q0[j] * tn[j])
    return v


@njit(cache=True, parallel=True)
def _diagonal_step(W, ix, src, dst, dt):
    """dst = src + dt L src for diagonal D: one fused pass per row (rows of the last axis in parallel)."""
    n0, n1, n2 = src.shape
    use0, use1 = ix[0, 0] >= 0, ix[1, 0] >= 0
    for r in prange(n0 * n1):
        i0 = r // n1
        i1 = r - i0 * n1
        m1, p1, m0, p0 = (i1 - 1) % n1, (i1 + 1) % n1, (i0 - 1) % n0, (i0 + 1) % n0
        s, sp, sn, tp, tn = src[i0, i1], src[i0, m1], src[i0, p1], src[m0, i1], src[p0, i1]
        P2, Q2 = W[ix[2, 0], i0, i1], W[ix[2, 1], i0, i1]
        a1, b1, a0, b0 = max(ix[1, 0], 0), max(ix[1, 1], 0), max(ix[0, 0], 0), max(ix[0, 1], 0)
        P1, Q1, P1p, Q1p = W[a1, i0, i1], W[b1, i0, i1], W[a1, i0, m1], W[b1, i0, m1]
        P0, Q0, P0p, Q0p = W[a0, i0, i1], W[b0, i0, i1], W[a0, m0, i1], W[b0, m0, i1]
        out = dst[i0, i1]
        for j in range(1, n2 - 1):
            out[j] = s[j] + dt * _diag_cell(j, j - 1, j + 1, s, sp, sn, tp, tn, P2, Q2, P1, Q1, P1p, Q1p,
                                            P0, Q0, P0p, Q0p, use1, use0)
        for j in (0, n2 - 1):
            out[j] = s[j] + dt * _diag_cell(j, (j - 1) % n2, (j + 1) % n2, s, sp, sn, tp, tn, P2, Q2, P1, Q1,
                                            P1p, Q1p, P0, Q0, P0p, Q0p, use1, use0)


@njit(cache=True)
def _steps(W, axis, off, ix, fused, rho, buf, dt, n_steps):
    """n_steps of rho <- rho + dt L rho, in place in ``rho`` (``buf`` is scratch): the fused diagonal-D step
    when ``fused``, else the general face terms; rho and buf swap roles every step."""
    for k in range(n_steps):
        src, dst = (rho, buf) if k % 2 == 0 else (buf, rho)
        if fused:
            _diagonal_step(W, ix, src, dst, dt)
        else:
            _stencil_step(W, axis, off, src, dst, dt)
    if n_steps % 2 == 1:
        rho[:] = buf
