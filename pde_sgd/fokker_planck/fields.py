"""Fields derived from a density on the grid: potential Phi, leftover field j, free energy.

Conventions (THEORY.md section 3): rho_ss ∝ exp(-beta Phi); the leftover field is
j = -grad f + D grad Phi - beta^-1 div D, so that the steady current is J_ss = j rho_ss and div(j rho_ss) = 0;
the free energy relative to the steady state is beta^-1 KL(rho || rho_ss).
"""
from __future__ import annotations

import numpy as np

from ..grid import Grid
from .coefficients import central_gradient, divergence


def normalised(grid: Grid, rho: np.ndarray, name: str = "rho") -> np.ndarray:
    """``rho`` checked (finite, shape grid.shape, positive mass) and scaled to unit mass."""
    rho = grid.check_field(name, rho)
    mass = rho.sum() * grid.cell_volume
    if not mass > 0:
        raise ValueError(f"{name} must have positive total mass, got {mass!r}")
    return rho / mass


def potential(grid: Grid, rho: np.ndarray, beta: float) -> np.ndarray:
    """Phi = -beta^-1 log(rho / mass), shifted so that min Phi = 0; +inf where rho <= 0."""
    p = normalised(grid, rho)
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = np.where(p > 0, -np.log(np.where(p > 0, p, 1.0)) / beta, np.inf)
    return phi - phi[np.isfinite(phi)].min()


def leftover_field(grid: Grid, grad_f: np.ndarray, D: np.ndarray, phi: np.ndarray, beta: float) -> dict:
    """j = -grad f + D grad Phi - beta^-1 div D at the cell centres (central differences), with diagnostics.

    Returns a dict with ``j`` (grid.shape + (d,)), ``div_j``, ``j_dot_grad_phi`` and ``div_j_rho``
    (div(j rho_ss) with rho_ss = exp(-beta Phi) normalised), the fields the paper's assumption div j = 0
    and the identity div(j rho_ss) = 0 are measured on.
    """
    d = grid.ndim
    grad_phi = central_gradient(grid, phi)
    div_D = np.stack([sum(central_gradient(grid, D[..., i, k])[..., k] for k in range(d)) for i in range(d)],
                     axis=-1)
    j = -grad_f + np.einsum("...ik,...k->...i", D, grad_phi) - div_D / beta
    rho = np.exp(-beta * (phi - phi.min()))
    rho /= rho.sum() * grid.cell_volume
    return {"j": j, "div_j": divergence(grid, j), "j_dot_grad_phi": np.einsum("...i,...i->...", j, grad_phi),
            "div_j_rho": divergence(grid, j * rho[..., None]), "grad_phi": grad_phi}


def kl_divergence(grid: Grid, rho: np.ndarray, rho_ref: np.ndarray) -> float:
    """KL(rho || rho_ref) = ∫ rho log(rho / rho_ref) for unit-mass versions of both (0 log 0 = 0).

    Only cells where both densities are > 0 contribute: cells with rho <= 0 carry no mass, and cells where
    rho_ref <= 0 can only be undershoots of the cross-diffusion stencil (see :mod:`.operator`), whose size is
    bounded and tested. For a monotone operator (diagonal D) rho_ref > 0 everywhere.
    """
    p = normalised(grid, rho)
    q = normalised(grid, rho_ref, "rho_ss")
    m = (p > 0) & (q > 0)
    # log p - log q, not log(p / q): q may be ~1e-300 where p is not (large beta), and p / q would overflow
    return float(np.sum(p[m] * (np.log(p[m]) - np.log(q[m]))) * grid.cell_volume)
