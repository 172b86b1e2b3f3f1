"""Steady state of the finite-volume Fokker-Planck generator by one sparse solve.

L rho = 0 has a one-dimensional null space when the chain of cells is irreducible (every cell reachable, e.g.
D > 0 along each axis). Because 1^T L = 0 the rows of L are linearly dependent, so one equation is redundant:
fixing rho_k = 1 at a pivot cell k (the most likely one, argmin f, for good scaling), deleting row and column
k and solving the remaining (N-1) x (N-1) sparse system (SuperLU) gives the null vector without adding a
dense row. The result is normalised to unit mass, sum(rho) * cell_volume = 1.

Accuracy: for moderately metastable problems the solve reproduces the discrete steady state to round-off
(tests: Gibbs to 1e-10 for beta * barrier up to ~5). Strongly metastable ones are ill-conditioned: wells couple
through fluxes ~ exp(-beta * barrier), and LU with partial pivoting (or refinement) then fixes the relative
weight of the wells only to ~1e-7 (wiggly loss, beta = 10) or 1e-6 (beta = 50), although the generator itself
annihilates exp(-beta f) to round-off (tested face by face). An entrywise-accurate elimination (GTH) would be
needed beyond that.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve


def steady_state(L: sp.csr_matrix, pivot: int, cell_volume: float) -> np.ndarray:
    """The normalised null vector of ``L`` (flattened), pinned at cell ``pivot`` during the solve."""
    n = L.shape[0]
    keep = np.ones(n, bool)
    keep[pivot] = False
    Lc = L.tocsc()
    A = Lc[keep][:, keep]
    rhs = -np.asarray(Lc[keep][:, [pivot]].todense()).ravel()
    rho = np.empty(n)
    rho[pivot] = 1.0
    rho[keep] = spsolve(A.tocsc(), rhs)
    if not np.all(np.isfinite(rho)):
        raise ValueError("the generator has no unique steady state (singular reduced system): D may vanish on "
                         "a whole axis, disconnecting cells")
    return rho / (rho.sum() * cell_volume)
