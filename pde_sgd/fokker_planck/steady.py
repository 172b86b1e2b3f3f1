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

import warnings

import numpy as np
import scipy.sparse as sp

from ..validation import memory_limit


def lu_bytes_estimate(shape: tuple[int, ...]) -> float:
    """Upper estimate of the peak bytes of a SuperLU solve with the generator on a grid of ``shape``.

    Fill-in of the sparse LU (COLAMD ordering) on a grid of N cells, cross diffusion (the densest stencil),
    measured (L + U entries): 2-D 6.6-8.6 N log2 N from 64^2 to 256^2 (slowly rising), 3-D 1.4-2.1 N^(5/3) from
    8^3 to 28^3. The estimate takes 12 N log2 N (1-D and 2-D) and 2.2 N^(5/3) (3-D) entries at 12 bytes each
    (value and row index). Peak resident memory of the steady-state solve, measured in a fresh process: 602 MB at
    512^2 (estimate 679 MB), 176 MB at 24^3 (210 MB), 814 MB at 32^3 (887 MB), 2.5 GB at 40^3 (2.69 GB).
    """
    N = float(np.prod(shape))
    entries = 2.2 * N ** (5.0 / 3.0) if len(shape) == 3 else 12.0 * N * max(np.log2(N), 1.0)
    return 12.0 * entries


def check_direct_solve_fits(shape: tuple[int, ...], limit: float | None = None, what: str = "steady_state") -> None:
    """MemoryError naming ``what``, the grid and the estimate when the LU factors would exceed ``limit`` (default:
    :func:`memory_limit`): refused before SuperLU runs out of memory (it can crash the process)."""
    need, limit = lu_bytes_estimate(shape), memory_limit() if limit is None else limit
    if need > limit:
        raise MemoryError(f"{what}: a direct sparse solve on the {'x'.join(map(str, shape))} grid "
                          f"({int(np.prod(shape))} cells) needs an estimated {need / 1e9:.3g} GB for its LU factors, "
                          f"more than the {limit / 1e9:.3g} GB available to it; use a coarser grid, "
                          f"or evolve() from a guess to a large time")


def steady_state(L: sp.csr_matrix, pivot: int, cell_volume: float) -> np.ndarray:
    """The normalised null vector of ``L`` (flattened), pinned at cell ``pivot`` during the solve."""
    from scipy.sparse.linalg import MatrixRankWarning, spsolve  # here: scipy.sparse.linalg takes 0.1 s to import

    n = L.shape[0]
    keep = np.ones(n, bool)
    keep[pivot] = False
    Lc = L.tocsc()
    A = Lc[keep][:, keep]
    rhs = -np.asarray(Lc[keep][:, [pivot]].todense()).ravel()
    rho = np.empty(n)
    rho[pivot] = 1.0
    with warnings.catch_warnings():  # a singular system is reported below, in words
        warnings.simplefilter("ignore", MatrixRankWarning)
        rho[keep] = spsolve(A.tocsc(), rhs)
    if not np.all(np.isfinite(rho)):
        raise ValueError("the generator has no unique steady state (singular reduced system): D may vanish on "
                         "a whole axis, disconnecting cells")
    return rho / (rho.sum() * cell_volume)
