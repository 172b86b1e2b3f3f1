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
    fp = FokkerPlanck(f, grid, beta=beta, D=c)
    fv = f.on_grid(grid)
    target = np.exp(-beta * (fv - fv.min()) / c)
    target /= target.sum() * grid.cell_volume
    err = float(np.max(np.abs(fp.steady_state() - target)) / target.max())
    return [Check("Gibbs steady state, isotropic D (rel. L-inf)", err, tol, f"beta={beta}, c={c}")]


_CUBIC = np.array([-1.0, 9.0, 9.0, -1.0]) / 16.0  # 4-point interpolation to the midpoint, error O(h^4)


def fine_to_coarse(v: np.ndarray, ndim: int, periodic=None) -> np.ndarray:
    """Values on the centres of a cell-centred grid from those of its 2x refinement (axes 0..ndim-1).

    Each coarse centre is the midpoint of two fine centres: cubic 4-point interpolation per axis, O(h^4).
    Beyond the box the field is wrapped on ``periodic`` axes (a sequence of bools, default none) and its edge
    value repeated otherwise (which only touches the outermost coarse cells)."""
    periodic = (False,) * ndim if periodic is None else tuple(periodic)
    for a in range(ndim):
        pad = [(1, 1) if b == a else (0, 0) for b in range(v.ndim)]
        p = np.moveaxis(np.pad(v, pad, mode="wrap" if periodic[a] else "edge"), a, 0)
        m = (p.shape[0] - 2) // 2
        v = np.moveaxis(sum(w * p[k: k + 2 * m: 2] for k, w in enumerate(_CUBIC)), 0, a)
    return v


def lyapunov(K, D, beta: float, n: int = 128, box: float = 5.0, safety: float = 1.5) -> list[Check]:
    """Linear drift K x with constant D: grid steady state vs N(0, Sigma) (Lyapunov) and the exact current.

    Tolerances are derived, not fixed: the scheme is second order, so the error of the n x n solution is
    estimated by Richardson from the n and 2n solutions as 4/3 max|u_n - I u_2n| (I: O(h^4) interpolation to
    the n-grid centres), and each check passes when the error against the closed form is within ``safety``
    times that estimate (the estimate is 1.02-1.17 times below the true error for n = 32-128 on the default
    box; it would not see a wrong beta or D, which both grids share, while the closed form does).
    """
    K = np.asarray(K, float)
    if not np.allclose(K, K.T):
        raise ValueError("K must be symmetric here (grad f = K x for f = x^T K x / 2)")
    solves = []
    for m in (n, 2 * n):
        grid = Grid([-box, -box], [box, box], [m, m])
        fp = FokkerPlanck(quadratic(K), grid, beta=beta, D=D)
        solves.append((grid, fp.steady_state(), fp.current()))
    (grid, rho, J), (_, rho2, J2) = solves
    S = exact.lyapunov_covariance(K, D, beta)
    rho_ex = exact.gaussian_density(grid, np.zeros(2), S)
    J_ex = exact.stationary_current(grid, K, D, beta)
    r_scale, J_scale = rho_ex.max(), max(np.abs(J_ex).max(), 1e-300)
    e_rho = float(np.max(np.abs(rho - rho_ex)) / r_scale)
    e_J = float(np.max(np.abs(J - J_ex)) / J_scale)
    est_rho = 4.0 / 3.0 * float(np.max(np.abs(rho - fine_to_coarse(rho2, 2)))) / r_scale
    est_J = 4.0 / 3.0 * float(np.max(np.abs(J - fine_to_coarse(J2, 2)))) / J_scale
    detail = f"{n}x{n}, tolerance {safety} x Richardson estimate ({n} vs {2 * n})"
    return [Check("Lyapunov steady state (rel. L-inf)", e_rho, max(safety * est_rho, 1e-12), detail),
            Check("stationary current (rel. L-inf)", e_J, max(safety * est_J, 1e-12), detail)]


def conservation_and_free_energy(fp: FokkerPlanck, rho0: np.ndarray, times, method: str = "implicit",
                                 tol: float = 1e-12) -> list[Check]:
    """Mass conserved and beta^-1 KL(rho_t || rho_ss) non-increasing along a run of ``fp`` from ``rho0``."""
    run = fp.evolve(rho0, times=times, method=method)
    mass = run["mass"]
    F = np.array([fp.free_energy(r) for r in run["rho"]])
    rise = float(max(np.max(np.diff(F)), 0.0)) / max(F[0], 1e-300)
    return [Check("mass drift (relative)", float(np.max(np.abs(mass - mass[0])) / mass[0]), tol),
            Check("largest free-energy increase (relative to F(0))", rise, tol),
            Check("undershoot -min(rho)/max(rho)", float(max(-run["min"].min(), 0.0) / run["rho"].max()),
                  0.0 if fp.operator.monotone else 1e-3,
                  "monotone operator" if fp.operator.monotone else "cross diffusion: bounded")]
