"""Fokker-Planck theorems of THEORY.md section 3 as measured checks (run them on your own settings).

Each function builds a :class:`pde_sgd.fokker_planck.FokkerPlanck` and returns a list of :class:`Check`.
"""
from __future__ import annotations

import numpy as np

from ..fokker_planck import FokkerPlanck, exact
from ..grid import Grid
from ..landscapes import Landscape, quadratic
from . import Check


def gibbs(grid: Grid, f: Landscape, beta: float, c: float = 1.0, tol: float = 1e-10) -> list[Check]:
    """Isotropic D = c I: the grid steady state equals exp(-beta f / c) (exact for the exponential fitting)."""
    fp = FokkerPlanck(grid, f, beta=beta, D=c)
    fv = f.on_grid(grid)
    target = np.exp(-beta * (fv - fv.min()) / c)
    target /= target.sum() * grid.cell_volume
    err = float(np.max(np.abs(fp.steady_state() - target)) / target.max())
    return [Check("Gibbs steady state, isotropic D (rel. L-inf)", err, tol, f"beta={beta}, c={c}")]


def lyapunov(K, D, beta: float, n: int = 128, box: float = 5.0, tol: float = 1e-2) -> list[Check]:
    """Linear drift K x with constant D: grid steady state vs N(0, Sigma) (Lyapunov) and the exact current."""
    K = np.asarray(K, float)
    if not np.allclose(K, K.T):
        raise ValueError("K must be symmetric here (grad f = K x for f = x^T K x / 2)")
    grid = Grid([-box, -box], [box, box], [n, n])
    fp = FokkerPlanck(grid, quadratic(K), beta=beta, D=D)
    S = exact.lyapunov_covariance(K, D, beta)
    rho_ex = exact.gaussian_density(grid, np.zeros(2), S)
    J_ex = exact.stationary_current(grid, K, D, beta)
    e_rho = float(np.max(np.abs(fp.steady_state() - rho_ex)) / rho_ex.max())
    e_J = float(np.max(np.abs(fp.current() - J_ex)) / max(np.abs(J_ex).max(), 1e-300))
    return [Check("Lyapunov steady state (rel. L-inf)", e_rho, tol, f"{n}x{n}"),
            Check("stationary current (rel. L-inf)", e_J, 4 * tol, f"{n}x{n}")]


def conservation_and_free_energy(fp: FokkerPlanck, rho0: np.ndarray, times, method: str = "implicit",
                                 tol: float = 1e-12) -> list[Check]:
    """Mass conserved and beta^-1 KL(rho_t || rho_ss) non-increasing along a run of ``fp`` from ``rho0``."""
    run = fp.evolve(rho0, times, method=method)
    mass = run["mass"]
    F = np.array([fp.free_energy(r) for r in run["rho"]])
    rise = float(max(np.max(np.diff(F)), 0.0)) / max(F[0], 1e-300)
    return [Check("mass drift (relative)", float(np.max(np.abs(mass - mass[0])) / mass[0]), tol),
            Check("largest free-energy increase (relative to F(0))", rise, tol),
            Check("undershoot -min(rho)/max(rho)", float(max(-run["min"].min(), 0.0) / run["rho"].max()),
                  0.0 if fp.operator.monotone else 1e-3,
                  "monotone operator" if fp.operator.monotone else "cross diffusion: bounded")]
