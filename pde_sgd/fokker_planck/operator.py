"""Finite-volume generator of the Fokker-Planck equation with anisotropic, space-dependent D(x).

PDE (THEORY.md section 3), in conservation form on a cell-centred grid (1-3 D):

    rho_t = -div J,   J_a = -(d_a f) rho - beta^-1 sum_b d_b (D_ab rho).

The semi-discrete system is d rho/dt = L rho with L = sum_a Div_a F_a: ``F_a`` maps cell values to the flux
through the right face of every cell along axis a, ``Div_a`` takes the difference of the two face fluxes of a
cell. Every face flux leaves one cell and enters its neighbour, so the column sums of L vanish and total mass
is conserved to round-off. No-flux (Neumann) axes have zero flux through the outer faces; periodic axes wrap.

Diagonal part (exponential fitting, Scharfetter-Gummel). Writing the a-flux as
J_a = -(d_a f + beta^-1 d_a D_aa) rho - beta^-1 D_aa d_a rho, the flux through the face between cells c and
r = c + e_a is

    J = (beta h_a)^-1 [ E(-w, Dl) rho_c - E(w, Dl) rho_r ],   w = -(beta (f_r - f_c) + D_aa(r) - D_aa(c)),

with E(w, D) = D B(w / D), B(z) = z / (e^z - 1) the Bernoulli function (E(w, 0) = max(-w, 0): upwinding where
D_aa vanishes), and Dl the logarithmic mean of D_aa(c), D_aa(r). The flux vanishes iff
D_aa(r) rho_r / (D_aa(c) rho_c) = exp(-beta (f_r - f_c) / Dl): for D = c I (c constant) the discrete Gibbs
state exp(-beta f) has zero flux on every face, i.e. it is the exact discrete steady state at any cell Peclet
number; in 1-D it is the exact discrete analogue of rho_ss ∝ D^-1 exp(-beta ∫ f'/D); for a scalar
D = (1 + a f) I the logarithmic mean makes (1 + a f)^(-beta/a - 1) the exact discrete steady state. The flux is
consistent to second order for smooth coefficients.

Off-diagonal part (cross diffusion): -beta^-1 d_b (D_ab rho) at the a-face is the mean, over the two cells of
the face, of the central difference of D_ab rho along b (one-sided at a Neumann wall): the classical
nine-point (2-D) / nineteen-point (3-D) stencil, second order and conservative.

Positivity: the diagonal part alone gives an M-matrix (non-negative off-diagonal entries), so rho >= 0 is
*guaranteed* for D diagonal (implicit Euler at any dt, explicit Euler below the limit of
:func:`explicit_dt_limit`, and the steady state). The cross stencil has negative corner entries whenever
D_ab != 0, so with off-diagonal D positivity is *not* guaranteed: undershoots are bounded, not excluded.
:attr:`FPOperator.monotone` reports which case holds; the tests measure the undershoot min(rho)/max(rho) of
strongly anisotropic runs and assert it is below 1e-3 and shrinks under refinement.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from numba import njit

from ..grid import Grid
from .coefficients import Coefficients
from .stencil import FaceStencil


@njit(cache=True)
def bernoulli_weight(w: float, D: float) -> float:
    """E(w, D) = D B(w/D) = w / (exp(w/D) - 1), continuous at w = 0 (value D) and at D = 0 (max(-w, 0))."""
    if D > 0.0:
        z = w / D
        return D if z == 0.0 else w / math.expm1(z)  # overflow: w / inf = 0
    return max(-w, 0.0)


@njit(cache=True)
def log_mean(a: float, b: float) -> float:
    """Logarithmic mean (a - b) / (log a - log b) of non-negative numbers; a if a == b, 0 if either is 0."""
    if not (a > 0.0 and b > 0.0):
        return 0.0
    r = (a - b) / b
    if abs(r) < 1e-6:
        return 0.5 * (a + b)  # error O((a-b)^2 / b)
    return (a - b) / math.log1p(r)


@njit(cache=True)
def _sg_pair(df, Dc, Dr, beta, scale, P, Q):
    """The Scharfetter-Gummel weights of every face (flat arrays): with w = -(beta df + D_r - D_c) and Dl the
    logarithmic mean of D_c, D_r, P = E(-w, Dl) scale (the left cell's) and Q = -E(w, Dl) scale (the right's).
    One exponential per face: E(-w, D) = E(w, D) + w (B(-z) = B(z) + z, and max(w, 0) = max(-w, 0) + w), the
    smaller weight computed directly and the larger one as a sum of two non-negative numbers (no cancellation)."""
    for i in range(df.size):
        w = -(beta * df[i] + Dr[i] - Dc[i])
        Dl = log_mean(Dc[i], Dr[i])
        if w >= 0.0:
            small = bernoulli_weight(w, Dl)
            P[i], Q[i] = (small + w) * scale, -small * scale
        else:
            small = bernoulli_weight(-w, Dl)
            P[i], Q[i] = small * scale, -(small - w) * scale


def _shifted(X: np.ndarray, k: int, axis: int, periodic: bool) -> np.ndarray:
    """X(c + k e_axis) for k = +-1: wrapped on a periodic axis, clamped to the last / first cell otherwise."""
    out = np.roll(X, -k, axis=axis)
    if not periodic:
        edge = [slice(None)] * X.ndim
        edge[axis] = -1 if k == 1 else 0
        out[tuple(edge)] = X[tuple(edge)]
    return out


def _cross_terms(grid: Grid, D: np.ndarray, beta: float, a: int, acc: dict) -> None:
    """Add the cross-diffusion part of the a-face flux to ``acc`` (offset tuple -> flux weight field).

    -beta^-1 d_b (D_ab rho) at the face between c and c + e_a is the mean over the two cells of the face
    (``side`` = 0, 1 along a) of the central difference along b, one-sided at a Neumann wall: the term of the
    neighbour side + e_b (clamped) carries -1 / (2 beta h_b span), span = 2 (1 at a wall), that of side - e_b
    the opposite sign. A clamped neighbour is the side cell itself (its offset has no b component).
    """
    for b, (hb, nb, perb) in enumerate(zip(grid.spacing, grid.shape, grid.periodic)):
        if b == a or not np.any(D[..., a, b]):
            continue
        i = np.arange(nb)
        span = np.full(nb, 2.0) if perb else (np.clip(i + 1, 0, nb - 1) - np.clip(i - 1, 0, nb - 1)).astype(float)
        coef = (-0.5 / (beta * hb * span)).reshape((nb,) + (1,) * (grid.ndim - 1 - b))
        for side in (0, 1):
            Dab = D[..., a, b] if side == 0 else np.roll(D[..., a, b], -1, axis=a)
            for sign in (1, -1):
                val = (sign * coef) * _shifted(Dab, sign, b, perb)
                key = [0] * grid.ndim
                key[a] = side
                inner = list(key)
                key[b] = sign
                if not perb:  # at the wall the clamped neighbour is the side cell: offset side e_a
                    wall = [slice(None)] * grid.ndim
                    wall[b] = -1 if sign == 1 else 0
                    at_wall = np.zeros_like(val)
                    at_wall[tuple(wall)] = val[tuple(wall)]
                    val[tuple(wall)] = 0.0
                    _add(acc, tuple(inner), at_wall)
                _add(acc, tuple(key), val)


def _add(acc: dict, key: tuple, val: np.ndarray) -> None:
    """acc[key] += val (in place: the pair weights are slots of the stencil's array), or acc[key] = val."""
    if key in acc:
        acc[key] += val
    else:
        acc[key] = val


def face_stencil(grid: Grid, coeffs: Coefficients, beta: float) -> FaceStencil:
    """The generator's face weights (:class:`FaceStencil`) computed directly from the coefficients.

    For each axis a, the flux through the right face of cell c is J_a(c) = h_a sum_k W_ak(c) rho(c + o_ak):
    the Scharfetter-Gummel pair at offsets 0 and e_a, E(-w, Dl) / (beta h_a) and -E(w, Dl) / (beta h_a), and
    the cross terms of :func:`_cross_terms`; W = flux weight / h_a, zero on the wall faces of a Neumann axis.
    Cross terms of a D_ab that vanishes everywhere are not stored (diagonal D: 2 d terms per cell, written in
    place into the stencil's array: no copy).
    """
    d, lead = grid.ndim, 3 - grid.ndim
    shape = (1,) * lead + tuple(grid.shape)
    D = coeffs.D
    pair_weights = np.empty((2 * d,) + tuple(grid.shape))
    axes, offsets, corner_weights = [], [], []
    for a, (h, per) in enumerate(zip(grid.spacing, grid.periodic)):
        if not any(D.strides[:d]):  # one matrix (a broadcast view): zero-stride rows, no field in memory
            Dc = Dr = np.broadcast_to(D[(0,) * d + (a, a)], (grid.size,))
        else:
            Dc = np.ascontiguousarray(D[..., a, a])
            Dc, Dr = Dc.ravel(), np.roll(Dc, -1, axis=a).ravel()
        P, Q = pair_weights[2 * a], pair_weights[2 * a + 1]
        _sg_pair(np.ascontiguousarray(coeffs.face_df[a]).ravel(), Dc, Dr, beta, 1.0 / (beta * h), P.reshape(-1),
                 Q.reshape(-1))
        del Dc, Dr
        zero, unit = (0,) * d, tuple(int(b == a) for b in range(d))
        acc = {zero: P, unit: Q}
        _cross_terms(grid, D, beta, a, acc)
        for key in [zero, unit] + sorted(set(acc) - {zero, unit}):
            F = acc.pop(key)
            if not per:  # the right face of the last cell is a wall
                F[(slice(None),) * a + (-1,)] = 0.0
            if key in (zero, unit) or np.any(F):
                F *= 1.0 / h
                axes.append(a + lead)
                offsets.append((0,) * lead + key)
                if key not in (zero, unit):
                    corner_weights.append(F)
    weights = pair_weights if not corner_weights else np.concatenate([pair_weights, corner_weights])
    is_pair = [not any(o) or o[a] == 1 and sum(map(abs, o)) == 1 for o, a in zip(offsets, axes)]
    order = np.argsort(np.logical_not(is_pair), kind="stable")  # the pairs first, as stored in ``weights``
    axes, offsets = np.array(axes, np.int64)[order], np.array(offsets, np.int64).reshape(-1, 3)[order]
    pairs = np.full((3, 2), -1, np.int64)
    for t in range(2 * d):
        pairs[axes[t], offsets[t, axes[t]]] = t
    return FaceStencil(shape, axes, offsets, weights.reshape((-1,) + shape), pairs,
                       np.arange(2 * d, len(axes), dtype=np.int64))


class FPOperator:
    """The finite-volume generator L (d rho/dt = L rho) as face weights, and as a sparse matrix on demand.

    Parameters
    ----------
    grid : Grid
    coeffs : Coefficients
        From :func:`pde_sgd.fokker_planck.coefficients.sample_coefficients`.
    beta : float
        Inverse temperature (> 0).

    Attributes
    ----------
    stencil : FaceStencil
        The face weights (:func:`face_stencil`): the matrix-free explicit step and every matrix-free quantity.
    L : scipy.sparse.csr_matrix, (N, N)
        Generator acting on the C-ordered flattened density, assembled from the face weights on first use
        (implicit steps, expm, the steady state); the explicit path never builds it.
    monotone : bool
        True when every off-diagonal entry of L is >= 0 (positivity guaranteed).
    dt_limit : float
        The forward-Euler limit of :func:`explicit_dt_limit`, computed from the face weights.
    """

    def __init__(self, grid: Grid, coeffs: Coefficients, beta: float) -> None:
        self.grid = grid
        self.stencil = face_stencil(grid, coeffs, beta)
        self.monotone, self.dt_limit = _monotone_and_dt_limit(self.stencil)
        self._L: sp.csr_matrix | None = None

    @property
    def L(self) -> sp.csr_matrix:
        """The sparse generator (CSR), assembled from the face weights on first use."""
        if self._L is None:
            self._L = self.stencil.to_csr()
        return self._L

    def face_fluxes(self, rho: np.ndarray) -> list[np.ndarray]:
        """Flux through the right face of every cell, one array of shape ``grid.shape`` per axis."""
        return [J.reshape(self.grid.shape) for J in self.stencil.face_fluxes(rho, self.grid.spacing)]

    def cell_current(self, rho: np.ndarray) -> np.ndarray:
        """Probability current J at the cell centres (mean of the two face fluxes), ``grid.shape + (d,)``."""
        faces = self.face_fluxes(rho)
        return np.stack([0.5 * (J + np.roll(J, 1, axis=a)) for a, J in enumerate(faces)], axis=-1)


def _monotone_and_dt_limit(stencil: FaceStencil) -> tuple[bool, float]:
    """(every off-diagonal entry of L >= 0, the bound of :func:`explicit_dt_limit`) from the face weights
    (:func:`_column_bound`), without the matrix."""
    qs, plus, minus = stencil.entry_terms()
    monotone, bound = _column_bound(stencil.weights, stencil.axis, qs, plus, minus)
    return bool(monotone), 1.0 / bound if bound > 0 else np.inf


@njit(cache=True)
def _column_bound(W, axis, qs, plus, minus):
    """(every off-diagonal entry >= 0, max_j max(c_j, (c_j + r_j) / 2)) with c_j = -L[j, j] and
    r_j = sum_{i != j} |L[i, j]|, from the face weights: L[c, c + q] = sum_{t in plus[k]} W_t(c - e_{axis t})
    - sum_{t in minus[k]} W_t(c) for q = qs[k] (term lists padded with -1; :meth:`FaceStencil.entry_terms`)."""
    n = W.shape[1:]
    diag, off = np.empty(n), np.zeros(n)
    step = np.empty((3, 3, max(n)), np.int64)  # step[axis, s + 1, i] = (i + s) mod n_axis: no division per cell
    for a in range(3):
        for s in range(3):
            for i in range(n[a]):
                step[a, s, i] = (i + s - 1) % n[a]
    monotone = True
    for i0 in range(n[0]):
        for i1 in range(n[1]):
            for i2 in range(n[2]):
                for k in range(qs.shape[0]):
                    v = 0.0
                    for t in minus[k]:
                        if t >= 0:
                            v -= W[t, i0, i1, i2]
                    for t in plus[k]:
                        if t >= 0:
                            a = axis[t]
                            v += W[t, step[0, 1 - (a == 0), i0], step[1, 1 - (a == 1), i1], step[2, 1 - (a == 2), i2]]
                    if qs[k, 0] == 0 and qs[k, 1] == 0 and qs[k, 2] == 0:
                        diag[i0, i1, i2] = v
                    else:
                        monotone &= v >= 0.0
                        off[step[0, qs[k, 0] + 1, i0], step[1, qs[k, 1] + 1, i1], step[2, qs[k, 2] + 1, i2]] += abs(v)
    bound = 0.0
    for i0 in range(n[0]):
        for i1 in range(n[1]):
            for i2 in range(n[2]):
                c = -diag[i0, i1, i2]
                bound = max(bound, c, 0.5 * (c + off[i0, i1, i2]))
    return monotone, bound


def explicit_dt_limit(L: sp.csr_matrix) -> float:
    """Largest stable forward-Euler step for d rho/dt = L rho (column Gershgorin bound).

    With c_j = -L_jj and r_j = sum_{i != j} |L_ij| the limit is 1 / max_j max(c_j, (c_j + r_j) / 2). For an
    M-matrix (r_j = c_j) this is 1 / max c_j: then I + dt L has non-negative entries and unit column sums, so
    each step preserves positivity and mass and contracts the L1 norm. (:class:`FPOperator` computes the same
    bound from its face weights, without the matrix.)
    """
    A = abs(L).tocsc()
    col_abs = np.asarray(A.sum(axis=0)).ravel()
    c = -L.diagonal()
    r = col_abs - np.abs(c)
    bound = np.maximum(c, 0.5 * (c + r)).max()
    return float(1.0 / bound) if bound > 0 else np.inf
