"""Hamilton-Jacobi theorems of THEORY.md sections 1-2 as measured checks (run them on your own settings).

Each function returns a list of :class:`Check` (measured value next to its tolerance).
"""
from __future__ import annotations

import numpy as np

from .. import hj
from ..grid import Grid
from ..grid import require_grid
from . import Check


def quadratic_matrix_form(A, t: float, beta: float, n: int = 101, box: float = 5.0,
                          tol: float = 1e-10) -> list[Check]:
    """2-D f = x^T A x / 2: local_entropy = x^T A (I+tA)^-1 x / 2 + log det(I+tA) / (2 beta), grad u = A(I+tA)^-1 x.

    Compared on the inner half of the box [-box, box]^2 (the mirror extension stays out of reach there).
    """
    A = np.asarray(A, dtype=float)
    grid = Grid([-box, -box], [box, box], [n, n])
    X = np.stack(grid.coords, axis=-1)
    le = hj.local_entropy(0.5 * np.einsum("...i,ij,...j->...", X, A, X), grid, t, beta)
    u, grad = le.u, le.grad
    inner = np.all(np.abs(X) < box / 2, axis=-1)
    M = A @ np.linalg.inv(np.eye(2) + t * A)
    e_u = float(np.max(np.abs(u - hj.exact.quadratic(X, A, t, beta))[inner]))
    e_g = float(np.max(np.abs(grad - X @ M.T)[inner]))
    return [Check("local entropy of a quadratic, matrix form (L-inf)", e_u, tol, f"t={t}, beta={beta}"),
            Check("grad u = (x - <y>)/t = A (I+tA)^-1 x (L-inf)", e_g, 10 * tol)]


def semiconcavity(f_values, grid: Grid, t: float, beta: float | None = None, tol: float = 1e-8) -> list[Check]:
    """Second differences of u(., t) along every axis are <= 1/t (local entropy, or Moreau envelope if beta=None)."""
    u = hj.moreau_envelope(f_values, grid, t)[0] if beta is None else hj.local_entropy(f_values, grid, t, beta).u
    worst = max(float(np.max(np.diff(u, 2, axis=a))) / h ** 2 for a, h in enumerate(grid.spacing))
    which = "Moreau envelope" if beta is None else f"local entropy (beta={beta})"
    return [Check(f"max second difference of the {which} minus 1/t", worst - 1.0 / t, tol, f"t={t}")]


def moreau_invariants(f_values, grid: Grid, times, tol: float = 1e-12) -> list[Check]:
    """u <= f, u non-increasing in t and min u = min f for the grid Moreau envelope at increasing ``times``."""
    f = require_grid(grid).check_field("f_values", f_values)
    us = [hj.moreau_envelope(f, grid, t)[0] for t in times]
    rise = max(float(np.max(b - a)) for a, b in zip([f] + us[:-1], us))
    return [Check("largest increase of u along t (u <= f, non-increasing)", max(rise, 0.0), tol),
            Check("|min u - min f|", max(abs(float(u.min() - f.min())) for u in us), tol)]


def viscous_gap_slope(f_values, grid: Grid, t: float, betas=(25.0, 50.0, 100.0, 200.0, 400.0),
                      interior: float = 0.7, tol: float = 0.15) -> list[Check]:
    """u_viscous - u_Hopf-Lax = O(1/beta): |log-log slope of the L-inf gap + 1| over ``betas``.

    The gap is measured over the central ``interior`` fraction of the box; the grid must resolve the Gibbs
    width sqrt(t / beta) at the largest beta.
    """
    u_hl = hj.moreau_envelope(f_values, grid, t)[0]
    centre = [0.5 * (lo + hi) for lo, hi in zip(grid.lower, grid.upper)]
    half = [0.5 * interior * (hi - lo) for lo, hi in zip(grid.lower, grid.upper)]
    inner = np.all([np.abs(c - m) < w for c, m, w in zip(grid.coords, centre, half)], axis=0)
    gaps = [float(np.max(np.abs(hj.local_entropy(f_values, grid, t, b).u - u_hl)[inner])) for b in betas]
    slope = float(np.polyfit(np.log(betas), np.log(gaps), 1)[0])
    return [Check("|slope of log gap vs log beta + 1|", abs(slope + 1.0), tol, f"slope={slope:.3f}")]


def solver_order(kind: str = "inviscid", scheme: str = "weno5", ns=(40, 80, 160, 320), target: float = 1.8
                 ) -> list[Check]:
    """Observed L-inf order of the time stepper on a smooth problem with an exact solution.

    inviscid: f = -cos(pi x), periodic [-1, 1), T = 0.5/pi^2 (before the kink), exact by Hopf-Lax.
    viscous: f = cos x + 0.3 sin 2x, periodic [0, 2 pi), beta = 5, T = 0.5, exact by spectral Cole-Hopf.
    The check's measured value is the shortfall target - (smallest order over the refinements).
    """
    errs = []
    for n in ns:
        if kind == "inviscid":
            T = 0.5 / np.pi ** 2
            g = Grid(-0.63, 1.37, n, bc="periodic")
            f = -np.cos(np.pi * g.axes[0])
            u = hj.solve_inviscid(f, g, times=[T], scheme=scheme)["u"][-1]
            ref = hj.exact.neg_cosine(g.axes[0], T)
        elif kind == "viscous":
            g = Grid(0.0, 2 * np.pi, n, bc="periodic")
            f = np.cos(g.axes[0]) + 0.3 * np.sin(2 * g.axes[0])
            u = hj.solve_viscous(f, g, 5.0, times=[0.5], scheme=scheme)["u"][-1]
            ref = hj.exact.cole_hopf_spectral(f, g, 0.5, 5.0)
        else:
            raise ValueError(f"unknown kind {kind!r}; allowed: 'inviscid', 'viscous'")
        errs.append(float(np.max(np.abs(u - ref))))
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    return [Check(f"{kind} {scheme}: order shortfall below {target}", target - float(orders.min()), 0.0,
                  f"orders={np.round(orders, 2).tolist()}")]
