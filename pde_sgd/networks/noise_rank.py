"""How many directions does the gradient noise D fill? Rank and effective dimension of D for P >> N.

The spectrum comes from the N x N Gram matrix of the centred per-sample gradients
(:func:`pde_sgd.networks.per_sample.diffusion_from_grads`, never the P x P matrix), so rank(D) <= N - 1 and
any *rank fraction* rank / P is bounded by (N - 1) / P: it measures N / P as much as the network. Measures:

- numerical rank at the tolerance lambda_max * P * eps, for eps the machine epsilon of float32 and of float64
  (the SGD-VI convention);
- participation ratio PR = (sum lambda_i)^2 / sum lambda_i^2 and stable rank sr = sum lambda_i / lambda_max
  (= tr D / ||D||_2). Both need no threshold, are <= rank, and converge as N grows (to those of the
  population D), where the numerical rank keeps growing like N - 1.
"""
from __future__ import annotations

import numpy as np
import torch

from ..validation import finite_array, positive, positive_int
from .models import FlatModel
from .per_sample import diffusion_from_grads, per_sample_grads

EPS = {"float32": float(np.finfo(np.float32).eps), "float64": float(np.finfo(np.float64).eps)}


def noise_eigenvalues(model: FlatModel, theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor, *,
                      chunk_size: int | None = None) -> np.ndarray:
    """The min(N, P) candidate nonzero eigenvalues of D (descending) at ``theta`` on (X, y), via the Gram route,
    in the dtype of ``theta`` (the per-sample gradients are computed in it)."""
    with torch.no_grad():
        grads = per_sample_grads(model, theta.detach(), X, y, chunk_size)
        return diffusion_from_grads(grads, n_vectors=1).eigenvalues.cpu().numpy().astype(np.float64)


def rank_at(eigenvalues: np.ndarray, n_params: int, eps: float) -> int:
    """Number of eigenvalues above lambda_max * P * eps."""
    lam = finite_array("eigenvalues", eigenvalues, ndim=1)
    return int((lam > lam.max() * positive_int("n_params", n_params) * positive("eps", eps)).sum())


def participation_ratio(eigenvalues: np.ndarray) -> float:
    """(sum lambda)^2 / sum lambda^2, between 1 (one direction) and the number of equal nonzero eigenvalues."""
    lam = np.clip(finite_array("eigenvalues", eigenvalues, ndim=1), 0.0, None)
    return float(lam.sum() ** 2 / np.sum(lam ** 2))


def stable_rank(eigenvalues: np.ndarray) -> float:
    """sum lambda / lambda_max = tr D / ||D||_2."""
    lam = np.clip(finite_array("eigenvalues", eigenvalues, ndim=1), 0.0, None)
    return float(lam.sum() / lam.max())


def spectrum_measures(eigenvalues: np.ndarray, n_params: int, n_samples: int) -> dict:
    """Rank (and rank / P) at the float32 and float64 tolerances, PR, stable rank, the bound (N - 1) / P,
    and mean +- std over all P eigenvalues (zeros included)."""
    lam = np.clip(finite_array("eigenvalues", eigenvalues, ndim=1), 0.0, None)
    P = positive_int("n_params", n_params)
    out = {f"rank_{k}": rank_at(lam, P, e) for k, e in EPS.items()}
    out.update({f"rank_fraction_{k}": out[f"rank_{k}"] / P for k in EPS})
    mean = lam.sum() / P
    out.update(participation_ratio=participation_ratio(lam), stable_rank=stable_rank(lam),
               rank_bound_fraction=(positive_int("n_samples", n_samples) - 1) / P, lambda_max=float(lam.max()),
               mean=float(mean), std=float(np.sqrt(np.sum(lam ** 2) / P - mean ** 2)), n_params=P, n_samples=n_samples)
    return out
