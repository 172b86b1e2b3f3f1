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

import numpy as np
import scipy.sparse as sp

from ..grid import Grid
from .coefficients import Coefficients
from .stencil import FaceStencil


def bernoulli_weight(w: np.ndarray, D: np.ndarray) -> np.ndarray:
    """E(w, D) = D B(w/D) = w / (exp(w/D) - 1), continuous at w = 0 (value D) and at D = 0 (max(-w, 0))."""
    w, D = np.broadcast_arrays(np.asarray(w, float), np.asarray(D, float))
    out = np.maximum(-w, 0.0)
    pos = D > 0
    z = np.zeros_like(w)
    z[pos] = w[pos] / D[pos]
    nz = pos & (z != 0)
    with np.errstate(over="ignore"):
        out[nz] = w[nz] / np.expm1(z[nz])
    out[pos & (z == 0)] = D[pos & (z == 0)]
    return out


def log_mean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Logarithmic mean (a - b) / (log a - log b) of non-negative arrays; a if a == b, 0 if either is 0."""
    a, b = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float))
    out = 0.5 * (a + b)  # used where |a/b - 1| < 1e-6: error O((a-b)^2 / b)
    both = (a > 0) & (b > 0)
    out[~both] = 0.0
    r = np.zeros_like(a)
    r[both] = (a[both] - b[both]) / b[both]
    far = both & (np.abs(r) >= 1e-6)
    out[far] = (a[far] - b[far]) / np.log1p(r[far])
    return out


def _neighbour(idx: list[np.ndarray], axis: int, offset: int, n: int, periodic: bool):
    """Multi-index shifted by ``offset`` along ``axis`` (wrapped if periodic, else clamped)."""
    moved = [i for i in idx]
    moved[axis] = (idx[axis] + offset) % n if periodic else np.clip(idx[axis] + offset, 0, n - 1)
    return moved


class FPOperator:
    """The assembled finite-volume generator L (CSR, d rho/dt = L rho) and the face-flux matrices.

    Parameters
    ----------
    grid : Grid
    coeffs : Coefficients
        From :func:`pde_sgd.fokker_planck.coefficients.sample_coefficients`.
    beta : float
        Inverse temperature (> 0).

    Attributes
    ----------
    L : scipy.sparse.csr_matrix, (N, N)
        Generator acting on the C-ordered flattened density.
    flux : list of csr_matrix
        ``flux[a] @ rho`` is the a-flux through the right face of each cell (zero on Neumann walls).
    monotone : bool
        True when every off-diagonal entry of L is >= 0 (positivity guaranteed).
    stencil : FaceStencil
        The same generator as face weights for the matrix-free explicit step (built on first use).
    """

    def __init__(self, grid: Grid, coeffs: Coefficients, beta: float) -> None:
        self.grid = grid
        n_cells = grid.size
        shape = grid.shape
        idx = list(np.indices(shape))
        flat = np.arange(n_cells).reshape(shape)
        D = coeffs.D
        self.flux = []
        L = sp.csr_matrix((n_cells, n_cells))
        for a, (h, n, per) in enumerate(zip(grid.spacing, shape, grid.periodic)):
            right = _neighbour(idx, a, 1, n, True)
            c_flat, r_flat = flat.ravel(), flat[tuple(right)].ravel()
            active = np.ones(shape, bool) if per else (idx[a] < n - 1)
            act = active.ravel()
            Daa = D[..., a, a]
            Daa_r = Daa[tuple(right)]
            w = -(beta * coeffs.face_df[a] + Daa_r - Daa)
            Dl = log_mean(Daa, Daa_r)
            rows = [c_flat, c_flat]
            cols = [c_flat, r_flat]
            vals = [bernoulli_weight(-w, Dl).ravel() / (beta * h), -bernoulli_weight(w, Dl).ravel() / (beta * h)]
            for b, (hb, nb, perb) in enumerate(zip(grid.spacing, shape, grid.periodic)):
                if b == a:
                    continue
                for side in (idx, right):  # the two cells sharing the face
                    plus = _neighbour(side, b, 1, nb, perb)
                    minus = _neighbour(side, b, -1, nb, perb)
                    span = 2.0 if perb else (plus[b] - minus[b]).astype(float)
                    coef = -0.5 / (beta * hb * span)
                    for nbr, sign in ((plus, 1.0), (minus, -1.0)):
                        rows.append(c_flat)
                        cols.append(flat[tuple(nbr)].ravel())
                        vals.append((sign * coef * D[tuple(nbr) + (a, b)]).ravel())
            rows_a = np.concatenate(rows)
            keep = np.concatenate([act] * len(rows))
            F = sp.csr_matrix((np.concatenate(vals)[keep], (rows_a[keep], np.concatenate(cols)[keep])),
                              shape=(n_cells, n_cells))
            F.sum_duplicates()
            self.flux.append(F)
            # Div_a: cell c gains the flux of its left face (c - e_a) and loses that of its right face
            left_face = flat[tuple(_neighbour(idx, a, -1, n, True))].ravel()
            div = (sp.csr_matrix((np.ones(n_cells), (flat.ravel(), left_face)), shape=(n_cells, n_cells))
                   - sp.identity(n_cells, format="csr")) / h
            L = L + div @ F
        L = L.tocsr()
        L.sum_duplicates()
        L.eliminate_zeros()
        self.L = L
        off = L - sp.diags(L.diagonal())
        self.monotone = bool(off.nnz == 0 or off.data.min() >= 0.0)
        self._stencil: FaceStencil | None = None

    @property
    def stencil(self) -> FaceStencil:
        """Face weights of L for :mod:`pde_sgd.fokker_planck.stencil` (built once, on first use)."""
        if self._stencil is None:
            self._stencil = FaceStencil.from_fluxes(self.grid, self.flux)
        return self._stencil

    def face_fluxes(self, rho: np.ndarray) -> list[np.ndarray]:
        """Flux through the right face of every cell, one array of shape ``grid.shape`` per axis."""
        r = rho.ravel()
        return [(F @ r).reshape(self.grid.shape) for F in self.flux]

    def cell_current(self, rho: np.ndarray) -> np.ndarray:
        """Probability current J at the cell centres (mean of the two face fluxes), ``grid.shape + (d,)``."""
        faces = self.face_fluxes(rho)
        return np.stack([0.5 * (J + np.roll(J, 1, axis=a)) for a, J in enumerate(faces)], axis=-1)


def explicit_dt_limit(L: sp.csr_matrix) -> float:
    """Largest stable forward-Euler step for d rho/dt = L rho (column Gershgorin bound).

    With c_j = -L_jj and r_j = sum_{i != j} |L_ij| the limit is 1 / max_j max(c_j, (c_j + r_j) / 2). For an
    M-matrix (r_j = c_j) this is 1 / max c_j: then I + dt L has non-negative entries and unit column sums, so
    each step preserves positivity and mass and contracts the L1 norm.
    """
    A = abs(L).tocsc()
    col_abs = np.asarray(A.sum(axis=0)).ravel()
    c = -L.diagonal()
    r = col_abs - np.abs(c)
    bound = np.maximum(c, 0.5 * (c + r)).max()
    return float(1.0 / bound) if bound > 0 else np.inf
