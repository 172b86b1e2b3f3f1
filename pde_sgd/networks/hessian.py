"""Hessian-vector products with torch.func and Lanczos top-K eigenpairs.

The HVP is forward-over-reverse, H v = d/de grad f(theta + e v) |_{e=0} (``torch.func.jvp`` of
``torch.func.grad``), one gradient's cost. :func:`lanczos` builds a Krylov basis Q with *full*
reorthogonalisation (classical Gram-Schmidt applied twice against every earlier vector, so Q stays orthonormal
to machine precision and no spurious copies of converged eigenvalues appear) and returns the Ritz pairs of
the tridiagonal matrix T = Q^T H Q with the largest (algebraic) eigenvalues.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch.func import grad, hessian, jvp

from ..validation import positive_int
from .models import FlatModel


def hvp_fn(model: FlatModel, theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """v -> H(theta) v for the loss on (X, y)."""
    g = grad(lambda t: model.loss(t, X, y))
    return lambda v: jvp(g, (theta,), (v,))[1]


def dense_hessian(model: FlatModel, theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The full P x P Hessian (``torch.func.hessian``); for tiny networks and tests only."""
    return hessian(lambda t: model.loss(t, X, y))(theta)


def lanczos(matvec: Callable[[torch.Tensor], torch.Tensor], n: int, k: int = 1, *, n_iter: int | None = None,
            seed: int = 0, dtype: torch.dtype = torch.float64,
            device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` eigenpairs of a symmetric operator on R^n by Lanczos with full reorthogonalisation.

    Parameters
    ----------
    matvec : v (n,) -> A v (n,), A symmetric.
    k : number of largest (algebraic) eigenvalues wanted, 1 <= k <= n.
    n_iter : Krylov dimension m (default min(n, max(2k + 20, 40))); m = n gives the exact spectrum.
    seed : seed of the random start vector.

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
    q = torch.randn(n, generator=gen, dtype=dtype).to(device)
    Q = torch.zeros(m, n, dtype=dtype, device=device)
    alpha = torch.zeros(m, dtype=dtype, device=device)
    beta = torch.zeros(m, dtype=dtype, device=device)
    Q[0] = q / q.norm()
    used = m
    for j in range(m):
        w = matvec(Q[j])
        alpha[j] = torch.dot(w, Q[j])
        for _ in range(2):  # full reorthogonalisation, twice ("twice is enough")
            w = w - Q[:j + 1].T @ (Q[:j + 1] @ w)
        if j + 1 == m:
            break
        b = w.norm()
        scale = alpha[:j + 1].abs().max().clamp_min(torch.finfo(dtype).tiny)
        if b <= 1e3 * torch.finfo(dtype).eps * scale:  # invariant subspace found: T is exact
            used = j + 1
            break
        beta[j] = b
        Q[j + 1] = w / b
    if used < k:
        raise ValueError(f"Lanczos found an invariant subspace of dimension {used} < k={k}; use another seed")
    T = torch.diag(alpha[:used]) + torch.diag(beta[:used - 1], 1) + torch.diag(beta[:used - 1], -1)
    evals, evecs = torch.linalg.eigh(T)
    order = torch.argsort(evals, descending=True)[:k]
    return evals[order], Q[:used].T @ evecs[:, order]


def hessian_top(model: FlatModel, theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor, k: int = 1, *,
                n_iter: int | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` Hessian eigenvalues (descending) and eigenvectors (P, k) of the loss on (X, y)."""
    model.check_theta(theta)
    return lanczos(hvp_fn(model, theta.detach(), X, y), model.n_params, k, n_iter=n_iter, seed=seed,
                   dtype=theta.dtype, device=theta.device)
