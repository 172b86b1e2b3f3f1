"""Per-sample gradients and the gradient-noise diffusion matrix D, kept as a low-rank factor.

For per-sample gradients g_k = grad l_k(theta), k = 1..N, and their mean g_bar = grad f(theta),

    D = (1/N) sum_k g_k g_k^T - g_bar g_bar^T = C^T C,   C = (G - 1 g_bar^T) / sqrt(N)   (N x P),

(THEORY.md section 3; the covariance of one sampled gradient; a batch of b has covariance ~ D/b). D is never
formed as a dense P x P matrix when P > N: with the thin SVD C = U S V^T, D = V S^2 V^T, so the eigenvalues
of D are S^2 (padded with P - min(N, P) zeros) and V its eigenvectors; they are computed from the N x N Gram
matrix C C^T = U S^2 U^T. rank(D) <= N - 1 because of the centring.

The rank is counted at the tolerance lambda_max * P * eps (eps the machine epsilon of the dtype), as in the
SGD-VI paper, and the mean and standard deviation are taken over all P eigenvalues, zeros included.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.func import grad, vmap

from ..units import noise_scale
from ..validation import positive_int
from .models import FlatModel
from .sources import resolve_xy


def per_sample_grads(model: FlatModel, theta: torch.Tensor, X, y=None,
                     chunk_size: int | None = None) -> torch.Tensor:
    """Gradients of every sample's loss, shape (N, P), with ``torch.func.vmap(grad(.))`` (chunked if asked).

    (X, y) are tensors, or ``X`` is a data source (DataLoader, torch Dataset, :class:`Dataset`) and y None;
    the batch and the module are checked first (:meth:`FlatModel.check_batch`)."""
    if chunk_size is not None:
        positive_int("chunk_size", chunk_size)
    X, y = resolve_xy(X, y)
    theta = model.check_batch(theta, X, y)
    try:
        return vmap(grad(model.sample_loss), in_dims=(None, 0, 0), chunk_size=chunk_size)(theta, X, y)
    except RuntimeError as exc:
        if "random" in str(exc) or "inplace" in str(exc):
            raise ValueError(f"per-sample gradients failed under torch.func.vmap ({exc}); forward must be "
                             f"deterministic and must not write into tensors in place: call module.eval() and "
                             f"avoid in-place updates of buffers or inputs in forward") from exc
        raise


def naive_per_sample_grads(model: FlatModel, theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Reference: one autograd backward pass per sample (slow; for tests and the benchmark)."""
    rows = []
    for k in range(X.shape[0]):
        t = theta.detach().clone().requires_grad_(True)
        rows.append(torch.autograd.grad(model.loss(t, X[k:k + 1], y[k:k + 1]), t)[0])
    return torch.stack(rows)


def covariance_dense(grads: torch.Tensor) -> torch.Tensor:
    """Dense D = (1/N) sum g_k g_k^T - g_bar g_bar^T from per-sample gradients (N, P); for small P only."""
    gbar = grads.mean(0)
    return grads.T @ grads / grads.shape[0] - torch.outer(gbar, gbar)


def projected_covariance(grads: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """B^T D B (k, k) for a (P, k) basis, exactly, from per-sample gradients (N, P): the covariance of the
    projected gradients B^T g_k (no truncation of D's spectrum)."""
    proj = (grads - grads.mean(0)) @ basis
    out = proj.T @ proj / grads.shape[0]
    return 0.5 * (out + out.T)


@dataclass
class DiffusionFactor:
    """D = V diag(lambda) V^T from per-sample gradients.

    ``eigenvalues`` (descending, rounding negatives set to 0) are all min(N, P) nonzero candidates; the other
    P - min(N, P) eigenvalues of D are exactly zero. ``eigenvectors`` (P, m) are orthonormal eigenvectors of
    the top m of them (by default m = the numerical rank). ``grad_mean`` is g_bar = grad f.
    """

    eigenvalues: torch.Tensor
    eigenvectors: torch.Tensor
    grad_mean: torch.Tensor
    n_samples: int

    @property
    def n_params(self) -> int:
        return int(self.eigenvectors.shape[0])

    def tolerance(self, eps: float | None = None) -> float:
        """lambda_max * P * eps (eps: the dtype's machine epsilon unless given); smaller eigenvalues count as 0."""
        eps = torch.finfo(self.eigenvalues.dtype).eps if eps is None else eps
        return float(self.eigenvalues[0]) * self.n_params * eps

    def rank(self, eps: float | None = None) -> int:
        """Number of eigenvalues above :meth:`tolerance`."""
        return int((self.eigenvalues > self.tolerance(eps)).sum())

    def spectrum(self) -> np.ndarray:
        """All P eigenvalues of D (descending, zeros included) as a numpy array."""
        ev = self.eigenvalues.detach().cpu().numpy()
        return np.concatenate([ev, np.zeros(self.n_params - ev.size)])

    def factor(self, m: int | None = None) -> torch.Tensor:
        """L (P, m) with L L^T = D restricted to the top ``m`` stored eigen-directions (default: all stored)."""
        m = self.eigenvectors.shape[1] if m is None else min(positive_int("m", m), self.eigenvectors.shape[1])
        return self.eigenvectors[:, :m] * self.eigenvalues[:m].sqrt()

    def matvec(self, v: torch.Tensor) -> torch.Tensor:
        """D v without forming D (through the stored eigenvectors)."""
        m = self.eigenvectors.shape[1]
        return self.eigenvectors @ (self.eigenvalues[:m] * (self.eigenvectors.T @ v))

    def project(self, basis: torch.Tensor) -> torch.Tensor:
        """B^T D_m B for a (P, k) basis, D_m the part of D on the m stored eigenvectors (exact when they span
        the range of D; otherwise use :func:`projected_covariance` on the per-sample gradients)."""
        W = self.eigenvectors.T @ basis
        return W.T @ (self.eigenvalues[:W.shape[0], None] * W)

    def stats(self, eta: float | None = None, batch_size: int | None = None) -> dict:
        """Mean and std over all P eigenvalues, lambda_max, trace, rank and rank fraction at lambda_max P eps
        (eps of the dtype, and also of float32, as for networks trained in single precision), noise scale."""
        spec = self.spectrum()
        eps32 = float(torch.finfo(torch.float32).eps)
        out = {"mean": float(spec.mean()), "std": float(spec.std()), "lambda_max": float(spec[0]),
               "trace": float(spec.sum()), "rank": self.rank(), "rank_fraction": self.rank() / self.n_params,
               "tolerance": self.tolerance(), "rank_float32_eps": self.rank(eps32),
               "rank_fraction_float32_eps": self.rank(eps32) / self.n_params,
               "n_params": self.n_params, "n_samples": self.n_samples}
        if eta is not None and batch_size is not None:
            out["noise_scale"] = noise_scale(eta, self.n_samples, batch_size)
            out["noise_scale_approx"] = eta * self.n_samples / batch_size
        return out


def diffusion_from_grads(grads: torch.Tensor, n_vectors: int | None = None) -> DiffusionFactor:
    """The low-rank eigen-factorisation of D from per-sample gradients (N, P), never forming D when P > N.

    With C = (G - g_bar) / sqrt(N): if P <= N, D = C^T C is small and diagonalised directly; otherwise the
    N x N Gram matrix C C^T = U diag(lambda) U^T has the same nonzero eigenvalues, and V = C^T U lambda^-1/2
    (re-orthonormalised by a QR step) gives the eigenvectors of D. Same spectrum as the thin SVD of C (the
    squared singular values) at a fraction of its cost. ``n_vectors`` eigenvectors are kept (default: the
    numerical rank at lambda_max P eps).
    """
    if grads.ndim != 2 or grads.shape[0] < 2:
        raise ValueError(f"grads must have shape (N, P) with N >= 2, got {tuple(grads.shape)}")
    n, P = grads.shape
    gbar = grads.mean(0)
    C = (grads - gbar) / n ** 0.5
    lam, U = torch.linalg.eigh(C.T @ C if P <= n else C @ C.T)
    lam, U = lam.flip(0).clamp_min(0), U.flip(1)
    tol = float(lam[0]) * P * torch.finfo(lam.dtype).eps
    m = max(int((lam > tol).sum()), 1) if n_vectors is None else min(positive_int("n_vectors", n_vectors), lam.numel())
    if P <= n:
        V = U[:, :m]
    else:
        V = C.T @ (U[:, :m] / lam[:m].clamp_min(torch.finfo(lam.dtype).tiny).sqrt())
        Q, R = torch.linalg.qr(V)
        V = Q * torch.sign(torch.diagonal(R))
    return DiffusionFactor(lam, V.contiguous(), gbar, n)


def diffusion_factor(model: FlatModel, theta: torch.Tensor, X, y=None,
                     chunk_size: int | None = None, n_vectors: int | None = None) -> DiffusionFactor:
    """Per-sample gradients (torch.func) at ``theta`` on (X, y), then :func:`diffusion_from_grads`."""
    with torch.no_grad():
        return diffusion_from_grads(per_sample_grads(model, theta, X, y, chunk_size), n_vectors)
