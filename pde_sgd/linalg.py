"""Lanczos with full reorthogonalisation for symmetric operators given by their action (torch tensors).

Shared by :mod:`pde_sgd.networks` (Hessian top eigenpairs, spectral densities) and :mod:`pde_sgd.optim`
(Nudged SGD). :func:`lanczos` builds a Krylov basis Q with *full* reorthogonalisation (classical Gram-Schmidt
applied twice against every earlier vector, so Q stays orthonormal to machine precision and no spurious copies
of converged eigenvalues appear) and returns the Ritz pairs of the tridiagonal matrix T = Q^T A Q with the
largest (algebraic) eigenvalues. A single start vector only sees one copy of each repeated eigenvalue (its
Krylov space stops growing, an invariant subspace); :func:`lanczos` then restarts from a random vector
orthogonal to the basis so far, so multiplicities are found too (T becomes block diagonal).
:func:`lanczos_tridiagonal` runs b independent iterations at once (rows of a block), for quadrature.

This module imports torch; ``import pde_sgd`` does not import it.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from .validation import positive_int


def lanczos_tridiagonal(matmat: Callable[[torch.Tensor], torch.Tensor], q0: torch.Tensor, m: int, *,
                        basis: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                                    torch.Tensor]:
    """``m`` Lanczos steps from each of b start vectors ``q0`` (b, n) at once, with full reorthogonalisation.

    ``matmat`` maps a block (b, n) of vectors (rows) to their images under the symmetric operator A. Returns
    (alpha (b, m), beta (b, m - 1), Q (m, b, n), used (b,)): for run r, T_r = tridiagonal(alpha[r, :u],
    beta[r, :u - 1]) = Q_r A Q_r^T with u = used[r] and Q_r = Q[:u, r] orthonormal rows; u < m where an invariant
    subspace was found (T_r is then exact on it; later rows are zero). Q[0, r] = q0[r] / |q0[r]|, so the
    eigenvectors s of T_r give the Gauss quadrature weights s[0]^2 of A's spectral measure seen from q0[r].
    ``basis`` (r, b, n), orthonormal rows per run, restricts the iteration to its orthogonal complement (q0 and
    every new vector are orthogonalised against it too).
    """
    b, n = q0.shape
    dtype, device = q0.dtype, q0.device
    Q = torch.zeros(m, b, n, dtype=dtype, device=device)
    alpha = torch.zeros(b, m, dtype=dtype, device=device)
    beta = torch.zeros(b, max(m - 1, 0), dtype=dtype, device=device)
    used = torch.full((b,), m, dtype=torch.long)
    active = torch.ones(b, dtype=torch.bool, device=device)
    if basis is not None:
        q0 = _orthogonalised(q0, basis)
    Q[0] = q0 / q0.norm(dim=1, keepdim=True)
    for j in range(m):
        W = matmat(Q[j])
        alpha[:, j] = (W * Q[j]).sum(1)
        W = _orthogonalised(W, Q[:j + 1] if basis is None else torch.cat([basis, Q[:j + 1]]))
        if j + 1 == m:
            break
        nb = W.norm(dim=1)
        scale = alpha[:, :j + 1].abs().amax(1).clamp_min(torch.finfo(dtype).tiny)
        stop = active & (nb <= 1e3 * torch.finfo(dtype).eps * scale)  # invariant subspace found: T is exact
        used[stop.cpu()] = j + 1
        active &= ~stop
        if not bool(active.any()):
            break
        beta[:, j] = torch.where(active, nb, 0.0)
        Q[j + 1] = torch.where(active[:, None], W / nb.clamp_min(torch.finfo(dtype).tiny)[:, None], 0.0)
    return alpha, beta, Q, used


def _orthogonalised(W: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """Rows of W (b, n) minus their projections on the rows B[:, r] (j, b, n); twice ("twice is enough")."""
    for _ in range(2):
        W = W - torch.einsum("jb,jbn->bn", torch.einsum("jbn,bn->jb", B, W), B)
    return W


def tridiagonal(alpha: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """The symmetric tridiagonal matrix with diagonal ``alpha`` and off-diagonal ``beta``."""
    return torch.diag(alpha) + torch.diag(beta, 1) + torch.diag(beta, -1)


def lanczos(matvec: Callable[[torch.Tensor], torch.Tensor], n: int, k: int = 1, *, n_iter: int | None = None,
            seed: int = 0, dtype: torch.dtype = torch.float64,
            device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` eigenpairs of a symmetric operator on R^n by Lanczos with full reorthogonalisation.

    Parameters
    ----------
    matvec : v (n,) -> A v (n,), A symmetric.
    k : number of largest (algebraic) eigenvalues wanted, 1 <= k <= n.
    n_iter : Krylov dimension m (default min(n, max(2k + 20, 40))); m = n gives the exact spectrum.
    seed : seed of the random start vector (and of the restarts after an invariant subspace).

    Returns
    -------
    eigenvalues (k,) descending, eigenvectors (n, k) orthonormal columns.
    """
    n = positive_int("n", n)
    k = positive_int("k", k)
    if k > n:
        raise ValueError(f"k must be in [1, n={n}], got {k}")
    m = min(n, max(2 * k + 20, 40)) if n_iter is None else positive_int("n_iter", n_iter)
    if not k <= m <= n:
        raise ValueError(f"n_iter must be in [k={k}, n={n}], got {m}")
    gen = torch.Generator(device="cpu").manual_seed(seed)
    basis, evals, evecs = None, [], []
    done = 0
    while done < m:  # one Lanczos run, then restarts orthogonal to the basis after invariant subspaces
        q0 = torch.randn(n, generator=gen, dtype=dtype).to(device)
        alpha, beta, Q, used = lanczos_tridiagonal(lambda V: matvec(V[0])[None], q0[None], m - done, basis=basis)
        u = int(used[0])
        lam, S = torch.linalg.eigh(tridiagonal(alpha[0, :u], beta[0, :u - 1]))
        evals.append(lam)
        evecs.append(Q[:u, 0].T @ S)
        basis = Q[:u] if basis is None else torch.cat([basis, Q[:u]])
        done += u
    lam, V = torch.cat(evals), torch.cat(evecs, dim=1)
    order = torch.argsort(lam, descending=True)[:k]
    return lam[order], V[:, order]
