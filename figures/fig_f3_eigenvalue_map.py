"""F3: the quadratic eigenvalue map λ → λ / (1 + tλ) of the local entropy.

For f = x^T A x / 2 the local entropy is u = x^T A (I + tA)^-1 x / 2 + const, so each Hessian eigenvalue
lambda of f becomes lambda / (1 + t lambda) <= 1/t: high curvature is flattened most. Lines: the formula for
several t (dotted: the bound 1/t). Markers: Hessian eigenvalues of u computed numerically by the package,
``hj.local_entropy`` (exact Cole-Hopf on a grid, beta = 20) of 2-D quadratics with rotated, non-diagonal A,
followed by central second differences (including the mixed one) at the origin and ``eigvalsh``.
"""
from pathlib import Path

import numpy as np

from pde_sgd import Grid, hj
from pde_sgd.plotting import save_figure, subplots

BETA = 20.0
SCOPES = (0.1, 0.25, 0.5, 1.0)
EIGEN_PAIRS = ((0.5, 2.0), (1.0, 4.0), (3.0, 6.0), (8.0, 10.0))


def hessian_at_centre(u: np.ndarray, h: float) -> np.ndarray:
    """Central-difference Hessian of a 2-D field at its centre cell (odd shape)."""
    i, j = u.shape[0] // 2, u.shape[1] // 2
    uxx = (u[i + 1, j] - 2 * u[i, j] + u[i - 1, j]) / h ** 2
    uyy = (u[i, j + 1] - 2 * u[i, j] + u[i, j - 1]) / h ** 2
    uxy = (u[i + 1, j + 1] - u[i + 1, j - 1] - u[i - 1, j + 1] + u[i - 1, j - 1]) / (4 * h ** 2)
    return np.array([[uxx, uxy], [uxy, uyy]])


def make(out_dir: Path, full: bool = False) -> list[Path]:
    n = 81 if full else 41
    grid = Grid([-1.0, -1.0], [1.0, 1.0], [n, n])
    X = np.stack(grid.coords, axis=-1)
    lam = np.linspace(0.0, 10.5, 300)
    fig, axes = subplots(1, 1, width=4.6, height=3.6)
    ax = axes[0, 0]
    worst = 0.0
    for c, t in zip(("C0", "C1", "C2", "C3"), SCOPES):
        ax.plot(lam, lam / (1 + t * lam), color=c, label=f"t = {t:g}: λ / (1 + t λ)")
        ax.axhline(1 / t, color=c, ls=":", lw=0.8)
        for k, (l1, l2) in enumerate(EIGEN_PAIRS):
            angle = 0.4 + 0.5 * k
            R = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
            A = R @ np.diag([l1, l2]) @ R.T
            u = hj.local_entropy(0.5 * np.einsum("...i,ij,...j->...", X, A, X), grid, t, BETA).u
            mu = np.linalg.eigvalsh(hessian_at_centre(u, grid.spacing[0]))
            ax.plot([l1, l2], mu, "o", color=c, ms=5, mfc="none")
            worst = max(worst, float(np.max(np.abs(mu - np.array([l1, l2]) / (1 + t * np.array([l1, l2]))))))
    ax.plot([], [], "o", color="k", mfc="none", label="numerical Hessian eigenvalues of u")
    ax.plot(lam, lam, color="0.6", lw=0.8, ls="--", label="identity (f itself)")
    ax.set(title=f"eigenvalue map of the local entropy (max |marker - line| = {worst:.1e})",
           xlabel="eigenvalue λ of the Hessian of f", ylabel="eigenvalue of the Hessian of u(., t)",
           ylim=(0, 10.5), xlim=(0, 10.5))
    ax.title.set_fontsize(8)
    ax.legend(fontsize=8, loc="upper left")
    return save_figure(fig, out_dir, "fig_f3_eigenvalue_map")


if __name__ == "__main__":
    make(Path(__file__).parent / "out")
