"""Hessian-vector products with torch.func and Lanczos top-K eigenpairs of a network's loss.

The HVP is forward-over-reverse, H v = d/de grad f(theta + e v) |_{e=0} (``torch.func.jvp`` of
``torch.func.grad``), one gradient's cost. The eigenpairs come from :func:`pde_sgd.linalg.lanczos` (full
reorthogonalisation, restarts after invariant subspaces so that repeated eigenvalues are found with their
copies).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch.func import grad, hessian, jacrev, jvp

from ..linalg import lanczos
from ..results import Result
from .models import FlatModel
from .sources import resolve_xy


def hvp_fn(model: FlatModel, theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """v -> H(theta) v for the loss on (X, y): forward-over-reverse, or reverse-over-reverse (the gradient of
    grad f . v, twice the cost) for losses whose backward has no forward-mode derivative in torch (e.g.
    ``HuberLoss``, ``SmoothL1Loss``); the first product that fails switches to it for good."""
    g = grad(lambda t: model.loss(t, X, y))
    forward = [True]

    def hvp(v: torch.Tensor) -> torch.Tensor:
        if forward[0]:
            try:
                return jvp(g, (theta,), (v,))[1]
            except NotImplementedError:
                forward[0] = False
        return grad(lambda t: torch.dot(g(t), v))(theta)
    return hvp


def dense_hessian(model: FlatModel, theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The full P x P Hessian (``torch.func.hessian``, or reverse-over-reverse as in :func:`hvp_fn`); for tiny
    networks and tests only."""
    f = lambda t: model.loss(t, X, y)  # noqa: E731
    try:
        return hessian(f)(theta)
    except NotImplementedError:
        return jacrev(jacrev(f))(theta)


def top_pairs(model: FlatModel, theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor, k: int, *,
              n_iter: int | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` Hessian eigenvalues (k,) and eigenvectors (P, k) as tensors on theta's device (checked batch)."""
    theta = model.check_batch(theta, X, y)
    return lanczos(hvp_fn(model, theta, X, y), model.n_params, k, n_iter=n_iter, seed=seed, dtype=theta.dtype,
                   device=theta.device)


def hessian_top(model: FlatModel, theta: torch.Tensor, X, y=None, k: int = 1, *, n_iter: int | None = None,
                seed: int = 0) -> Result:
    """Top-``k`` Hessian eigenpairs of the loss on (X, y) (or on a data source in ``X``), by Lanczos.

    Returns Result ``"networks.hessian_top"`` with arrays ``eigenvalues`` (k,) descending and ``eigenvectors``
    (P, k) orthonormal columns, params ``k``, ``n_iter``, ``seed``, ``n_samples``, ``model``. For the old
    tuple return, ``lam, vec = hessian_top(...)`` still unpacks (CPU tensors; deprecated).
    """
    X, y = resolve_xy(X, y)
    lam, vec = top_pairs(model, theta, X, y, k, n_iter=n_iter, seed=seed)
    return PairResult("networks.hessian_top", {"eigenvalues": lam.cpu().numpy(), "eigenvectors": vec.cpu().numpy()},
                      {"k": k, "n_iter": n_iter, "seed": seed, "n_samples": int(X.shape[0]), "model": model.config,
                       "device": str(theta.device)})


class PairResult(Result):
    """A Result that unpacks as the tuple ``(eigenvalues, eigenvectors)`` the function returned before."""

    def __iter__(self):
        import warnings
        warnings.warn("unpacking hessian_top's Result as a tuple is deprecated; read res['eigenvalues'] and "
                      "res['eigenvectors']", DeprecationWarning, stacklevel=2)
        return iter((torch.from_numpy(self.arrays["eigenvalues"]), torch.from_numpy(self.arrays["eigenvectors"])))
