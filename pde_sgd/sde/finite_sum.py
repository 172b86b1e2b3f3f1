"""A synthetic finite-sum loss with real mini-batch noise, to compare the SGD SDE with the algorithm it models.

f(x) = (1/N) sum_k f_k(x),  f_k(x) = (x - a_k)^T A (x - a_k) / 2   (anchors a_k, SPD curvature A).

Per-sample gradients A (x - a_k) have covariance D = A C A (C the population covariance of the anchors, 1/N
normalisation), the same at every x (THEORY.md section 3). A batch gradient of size b has covariance D / b
when drawn with replacement and (D / b) (N - b) / (N - 1) without (the finite-population correction), so SGD
with learning rate eta has noise of size eta^2 D (N - b) / (b (N - 1)) = eta g D / (N - 1) per step, with the
Smith-Le noise scale g = eta (N / b - 1): pairs (eta, b) of equal g share their stationary covariance
(up to O(eta)).
"""
from __future__ import annotations

import numpy as np
from numba import njit
from scipy.linalg import solve_discrete_lyapunov

from ..landscapes import Landscape, quadratic
from ..validation import finite_array, positive, positive_int, seed_int, spd_matrices
from .rng import uniform


class QuadraticFiniteSum:
    """f = (1/N) sum_k (x - a_k)^T A (x - a_k) / 2 with anchors (N, dim) and curvature A (default I)."""

    def __init__(self, anchors, A=None) -> None:
        a = finite_array("anchors", anchors)
        if a.ndim != 2 or a.shape[0] < 2:
            raise ValueError(f"anchors must have shape (N >= 2, dim), got {a.shape}")
        self.anchors = np.ascontiguousarray(a)
        self.n_samples, self.dim = a.shape
        A = np.eye(self.dim) if A is None else spd_matrices("A", A, self.dim)
        if np.linalg.eigvalsh(A).min() <= 0:
            raise ValueError("A must be positive definite")
        self.A = np.ascontiguousarray(A)
        self.mean = a.mean(axis=0)

    @classmethod
    def random(cls, n_samples: int, dim: int, seed: int, spread=None, A=None) -> "QuadraticFiniteSum":
        """Anchors a_k = L z_k with z_k ~ N(0, I) (seeded) and L L^T = ``spread`` (default I)."""
        rng = np.random.default_rng(seed_int(seed))
        z = rng.standard_normal((positive_int("n_samples", n_samples, minimum=2), positive_int("dim", dim)))
        L = np.eye(dim) if spread is None else np.linalg.cholesky(spd_matrices("spread", spread, dim))
        return cls(z @ L.T, A)

    def landscape(self) -> Landscape:
        """The full loss as a Landscape (up to a constant): (x - mean a)^T A (x - mean a) / 2."""
        return quadratic(self.A, self.mean)

    def sample_gradients(self, x) -> np.ndarray:
        """grad f_k(x) for every k, (N, dim)."""
        x = finite_array("x", x, shape=(self.dim,))
        return (x - self.anchors) @ self.A.T

    def diffusion(self) -> np.ndarray:
        """D = (1/N) sum_k grad f_k grad f_k^T - grad f grad f^T = A C A (independent of x)."""
        c = self.anchors - self.mean
        return self.A @ (c.T @ c / self.n_samples) @ self.A.T

    def batch_covariance(self, batch_size: int, replace: bool) -> np.ndarray:
        """Covariance of a batch gradient: D / b with replacement, (D / b) (N - b) / (N - 1) without."""
        b = self._batch(batch_size, replace)
        factor = 1.0 if replace else (self.n_samples - b) / (self.n_samples - 1)
        return self.diffusion() / b * factor

    def sgd_stationary_covariance(self, eta: float, batch_size: int, replace: bool) -> np.ndarray:
        """Exact stationary covariance of discrete SGD: Sigma = P Sigma P^T + eta^2 C_b, P = I - eta A."""
        eta = positive("eta", eta)
        P = np.eye(self.dim) - eta * self.A
        if np.max(np.abs(np.linalg.eigvals(P))) >= 1:
            raise ValueError(f"eta={eta} is unstable for SGD on this loss: need eta < 2 / lambda_max(A)")
        return solve_discrete_lyapunov(P, eta ** 2 * self.batch_covariance(batch_size, replace))

    def _batch(self, batch_size: int, replace: bool) -> int:
        b = positive_int("batch_size", batch_size)
        if not replace and b > self.n_samples:
            raise ValueError(f"batch_size must be <= n_samples={self.n_samples} without replacement, got {b}")
        return b


@njit(cache=True)
def batch_mean(key, ctr, anchors, perm, b, replace, out):
    """Mean anchor of a random batch of size b (uniform draws from stream ``key`` from ``ctr``); new counter.

    Without replacement: a partial Fisher-Yates shuffle of ``perm`` (any permutation gives a uniform subset).
    """
    N, d = anchors.shape
    out[:] = 0.0
    for j in range(b):
        u = uniform(key, ctr)
        ctr += 1
        if replace:
            k = min(int(u * N), N - 1)
        else:
            r = j + min(int(u * (N - j)), N - j - 1)
            perm[j], perm[r] = perm[r], perm[j]
            k = perm[j]
        for i in range(d):
            out[i] += anchors[k, i] / b
    return ctr
