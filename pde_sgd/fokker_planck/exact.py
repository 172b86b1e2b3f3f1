"""Exact references for the Fokker-Planck equation rho_t = div(grad f rho + beta^-1 div(D rho)).

* Linear drift grad f = K x, constant D (Ornstein-Uhlenbeck): Gaussians stay Gaussian with
  m' = -K m, Sigma' = -K Sigma - Sigma K^T + 2 beta^-1 D; the stationary covariance solves the Lyapunov
  equation K Sigma + Sigma K^T = 2 beta^-1 D; the steady current J = (-K + beta^-1 D Sigma^-1) x rho_ss is
  non-zero when D^-1 K is not symmetric.
* The linear recipe: from Sigma, U = beta^-1 Sigma^-1 (Phi = x^T U x / 2), G = K U^-1, Q = (G - G^T)/2, with
  sym(G) = D and K = (D + Q) U.
* 1-D space-dependent D with zero flux: rho_ss ∝ D^-1 exp(-beta ∫ f'/D).
* Scalar D = 1 + a f: rho_ss ∝ (1 + a f)^(-beta/a - 1).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..grid import Grid
from ..grid import require_grid
from ..validation import finite_array, positive, spd_matrices


def _square(name: str, M, d: int | None = None) -> np.ndarray:
    M = np.atleast_2d(finite_array(name, M))
    if M.ndim != 2 or M.shape[0] != M.shape[1] or (d is not None and M.shape[0] != d):
        raise ValueError(f"{name} must be a square matrix{'' if d is None else f' ({d}, {d})'}, got {M.shape}")
    return M


def lyapunov_covariance(K, D, beta: float) -> np.ndarray:
    """Stationary covariance Sigma of dX = -K X dt + sqrt(2 beta^-1 D) dW: K Sigma + Sigma K^T = 2 beta^-1 D.

    K must be stable (eigenvalues with positive real part) for a stationary law to exist.
    """
    K = _square("K", K)
    D = spd_matrices("D", _square("D", D, K.shape[0]), K.shape[0])
    beta = positive("beta", beta)
    if np.linalg.eigvals(K).real.min() <= 0:
        raise ValueError("K must have eigenvalues with positive real part (a confining linear drift)")
    from scipy.linalg import solve_continuous_lyapunov  # here: scipy.linalg takes 0.1 s to import

    S = solve_continuous_lyapunov(K, 2.0 * D / beta)
    return 0.5 * (S + S.T)


def ou_moments(K, D, beta: float, m0, S0, t: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance at time t of the OU process started from N(m0, S0).

    m(t) = e^{-Kt} m0, Sigma(t) = e^{-Kt} (S0 - S_inf) e^{-K^T t} + S_inf with S_inf the Lyapunov solution
    (the solution of Sigma' = -K Sigma - Sigma K^T + 2 beta^-1 D).
    """
    K = _square("K", K)
    d = K.shape[0]
    m0 = finite_array("m0", m0, shape=(d,))
    S0 = _square("S0", S0, d)
    S_inf = lyapunov_covariance(K, D, beta)
    from scipy.linalg import expm

    E = expm(-K * positive("t", t, allow_zero=True))
    S = E @ (S0 - S_inf) @ E.T + S_inf
    return E @ m0, 0.5 * (S + S.T)


def gaussian_density(grid: Grid, mean, cov) -> np.ndarray:
    """N(mean, cov) evaluated at the cell centres (shape grid.shape), normalised as a continuous density."""
    d = require_grid(grid).ndim
    mean = finite_array("mean", mean, shape=(d,))
    cov = spd_matrices("cov", _square("cov", cov, d), d)
    x = grid.points() - mean
    prec = np.linalg.inv(cov)
    q = np.einsum("ni,ij,nj->n", x, prec, x)
    norm = np.sqrt((2 * np.pi) ** d * np.linalg.det(cov))
    return (np.exp(-0.5 * q) / norm).reshape(grid.shape)


def stationary_current(grid: Grid, K, D, beta: float) -> np.ndarray:
    """Exact steady current J = (-K + beta^-1 D Sigma^-1) x rho_ss of the OU process, grid.shape + (d,)."""
    S = lyapunov_covariance(K, D, beta)
    K = _square("K", K)
    M = -K + np.asarray(D) @ np.linalg.inv(S) / beta
    rho = gaussian_density(grid, np.zeros(K.shape[0]), S)
    return (grid.points() @ M.T).reshape(grid.shape + (K.shape[0],)) * rho[..., None]


def linear_recipe(F, D, beta: float) -> dict[str, np.ndarray]:
    """THEORY.md section 3 recipe for grad f = F x and constant D.

    Returns Sigma (F Sigma + Sigma F^T = 2 beta^-1 D), U = beta^-1 Sigma^-1 (Phi = x^T U x / 2, independent
    of beta), G = F U^-1 and its antisymmetric part Q = (G - G^T) / 2; then sym(G) = D and F = (D + Q) U.
    """
    S = lyapunov_covariance(F, D, beta)
    U = np.linalg.inv(S) / beta
    U = 0.5 * (U + U.T)
    G = _square("F", F) @ np.linalg.inv(U)
    return {"Sigma": S, "U": U, "G": G, "Q": 0.5 * (G - G.T)}


def space_dependent_1d(grid: Grid, grad_f: Callable[[np.ndarray], np.ndarray],
                       D: Callable[[np.ndarray], np.ndarray], beta: float, oversample: int = 16) -> np.ndarray:
    """1-D zero-flux steady state rho ∝ D^-1 exp(-beta ∫ f'/D), unit mass, at the cell centres.

    The integral is a cumulative Simpson rule on ``oversample`` sub-points per cell (error O(h^4 / oversample^4)).
    ``grad_f`` and ``D`` are vectorised callables of x (1-D arrays); D must be > 0.
    """
    if require_grid(grid).ndim != 1:
        raise ValueError(f"space_dependent_1d needs a 1-D grid, got {grid.ndim}-D")
    beta = positive("beta", beta)
    x_c = grid.axes[0]
    h = grid.spacing[0]
    fine = np.linspace(x_c[0], x_c[-1], (grid.shape[0] - 1) * 2 * oversample + 1)
    dv = finite_array("D", D(fine))
    if np.any(dv <= 0):
        raise ValueError("D must be > 0 on the grid for the 1-D closed form")
    integrand = finite_array("grad_f", grad_f(fine)) / dv
    from scipy.integrate import cumulative_simpson  # here: scipy.integrate takes 0.15 s to import

    S = cumulative_simpson(integrand, x=fine, initial=0.0)[:: 2 * oversample]
    log_rho = -np.log(D(x_c)) - beta * S
    rho = np.exp(log_rho - log_rho.max())
    return rho / (rho.sum() * h)


def power_law_density(f_values: np.ndarray, a: float, beta: float, cell_volume: float) -> np.ndarray:
    """rho_ss ∝ (1 + a f)^(-beta/a - 1) for the scalar diffusion D = (1 + a f) I; unit mass on the grid."""
    a = positive("a", a)
    base = 1.0 + a * np.asarray(f_values, float)
    if np.any(base <= 0):
        raise ValueError("1 + a f must be > 0 everywhere")
    rho = base ** (-positive("beta", beta) / a - 1.0)
    return rho / (rho.sum() * cell_volume)
