"""Exact references for linear SDEs dX = -K (X - c) dt + sqrt(2 beta^-1 D) dW with constant D (THEORY.md section 3).

Gaussians stay Gaussian: m(t) = c + e^{-Kt} (m0 - c), Sigma' = -K Sigma - Sigma K^T + 2 beta^-1 D, whose stationary
value solves the Lyapunov equation K Sigma + Sigma K^T = 2 beta^-1 D. The A-type decomposition writes
K = (D + Q) U with U = beta^-1 Sigma^-1 (Phi = x^T U x / 2) and Q antisymmetric; Q != 0 means a steady current
and rotation at the frequencies |Im lambda(K)| / (2 pi).
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import expm, solve_continuous_lyapunov

from ..validation import finite_array, positive, spd_matrices


def _stable(K: np.ndarray) -> np.ndarray:
    K = np.atleast_2d(finite_array("K", K))
    if K.ndim != 2 or K.shape[0] != K.shape[1]:
        raise ValueError(f"K must be a square matrix, got shape {K.shape}")
    if np.max(np.linalg.eigvals(K).real) <= 0:
        raise ValueError("K must be stable (all eigenvalues with positive real part)")
    return K


def stationary_covariance(K, D, beta: float) -> np.ndarray:
    """Sigma_inf solving K Sigma + Sigma K^T = 2 beta^-1 D."""
    K = _stable(K)
    D = spd_matrices("D", np.atleast_2d(D), K.shape[0])
    return solve_continuous_lyapunov(K, 2.0 / positive("beta", beta) * D)


def ou_moments(K, D, beta: float, m0, t: float, center=None, cov0=None) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean and covariance at time ``t`` started from N(m0, cov0) (cov0 = 0: a point)."""
    K = _stable(K)
    d = K.shape[0]
    c = np.zeros(d) if center is None else finite_array("center", center, shape=(d,))
    m0 = finite_array("m0", m0, shape=(d,))
    S0 = np.zeros((d, d)) if cov0 is None else finite_array("cov0", cov0, shape=(d, d))
    E = expm(-K * positive("t", t, allow_zero=True))
    Sinf = stationary_covariance(K, D, beta)
    return c + E @ (m0 - c), Sinf - E @ (Sinf - S0) @ E.T


def a_type_form(K, D, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """(U, Q) with K = (D + Q) U, U = beta^-1 Sigma_inf^-1 symmetric, Q antisymmetric (THEORY.md recipe)."""
    K = _stable(K)
    U = np.linalg.inv(positive("beta", beta) * stationary_covariance(K, D, beta))
    U = 0.5 * (U + U.T)
    G = K @ np.linalg.inv(U)
    return U, 0.5 * (G - G.T)


def rotation_frequency(K) -> float:
    """max |Im lambda(K)| / (2 pi): the frequency at which a linear SDE with drift -K x circulates."""
    return float(np.max(np.abs(np.linalg.eigvals(_stable(K)).imag)) / (2.0 * np.pi))


def ou_spectral_density(K, D, beta: float, freqs) -> np.ndarray:
    """One-sided spectral density matrices S(nu) (len(freqs), d, d) of the stationary OU process (per unit time).

    S(nu) = 2 Re[(K + 2 pi i nu)^-1 (2 beta^-1 D) (K^T - 2 pi i nu)^-1] (the one-sided convention of
    :func:`pde_sgd.sde.spectral.power_spectrum`).
    """
    K = _stable(K)
    d = K.shape[0]
    B = 2.0 / positive("beta", beta) * spd_matrices("D", np.atleast_2d(D), d)
    out = np.empty((len(freqs), d, d))
    for i, nu in enumerate(np.asarray(freqs, dtype=float)):
        R = np.linalg.inv(K + 2j * np.pi * nu * np.eye(d))
        out[i] = 2.0 * (R @ B @ R.conj().T).real
    return out
