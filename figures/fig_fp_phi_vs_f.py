"""Most likely locations are not the critical points of f (SGD-VI, THEORY.md section 3).

A 2-D tilted double well f with an anisotropic, space-dependent diffusion D(x) = R(theta(x)) diag(1, 0.1)
R(theta(x))^T whose principal axis (white bars) turns with x1. Left: exp(-beta f), what isotropic noise would
give. Middle: the grid Fokker-Planck steady state rho_ss = exp(-beta Phi). Right: Phi - f. Minima of f (x) and
modes of rho_ss (o) are marked on every panel: the modes sit away from the minima, and the well that holds
most of the mass can change.
"""
from pathlib import Path

import numpy as np

from pde_sgd import Grid, landscapes
from pde_sgd.fokker_planck import FokkerPlanck
from pde_sgd.fokker_planck.examples import critical_points, local_extrema, rotating_diffusion
from pde_sgd.plotting import mark_points, save_figure, subplots

BETA, EPS, TURN = 4.0, 0.1, 1.0


def make(out_dir: Path, full: bool = False) -> list[Path]:
    n = 320 if full else 96
    grid = Grid([-2.5, -2.0], [2.5, 2.0], [n, n])
    f = landscapes.double_well(2, tilt=0.1)
    Dfun = rotating_diffusion(EPS, TURN)
    fp = FokkerPlanck(f, grid, beta=BETA, D=Dfun)
    rho = fp.steady_state()
    phi = fp.potential(np.maximum(rho, 1e-300))
    fv = f.on_grid(grid)
    gibbs = np.exp(-BETA * (fv - fv.min()))
    gibbs /= gibbs.sum() * grid.cell_volume
    pts = grid.points().reshape(grid.shape + (2,))
    crit = critical_points(f.grad, [-2, -1.5], [2, 1.5], n_seeds=9)
    minima = np.array([p for p in crit if np.all(np.linalg.eigvalsh(f.hessian(p)) > 0)])
    modes = np.array([pts[tuple(i)] for i in local_extrema(rho, "max") if rho[tuple(i)] > 0.02 * rho.max()])
    X, Y = grid.coords
    fig, axes = subplots(1, 3, width=3.6, height=3.2)
    panels = [(gibbs, "exp(-β f) (isotropic noise)"), (rho, "ρ_ss = exp(-β Φ), D(x) anisotropic"),
              (None, "Φ - f (shifted to min 0)")]
    for ax, (field, title) in zip(axes[0], panels):
        if field is None:
            diff = phi - (fv - fv.min())
            bulk = rho > 1e-4 * rho.max()
            diff = np.where(bulk, diff - diff[bulk].min(), np.nan)
            im = ax.pcolormesh(X, Y, diff, shading="auto", cmap="magma")
            fig.colorbar(im, ax=ax, shrink=0.8, label="Φ - f (where ρ_ss > 1e-4 max)")
        else:
            im = ax.pcolormesh(X, Y, field, shading="auto")
            fig.colorbar(im, ax=ax, shrink=0.8, label="density")
        ax.contour(X, Y, fv, levels=np.linspace(fv.min(), fv.min() + 1.5, 7), colors="w", linewidths=0.4)
        mark_points(ax, minima, "minima of f", marker="x", color="white", s=40)
        mark_points(ax, modes, "modes of ρ_ss", marker="o", color="red", s=25, facecolors="none")
        ax.set(title=title, xlabel="x1", ylabel="x2")
        ax.legend(loc="lower left", fontsize=8)
    # principal axis of D on the middle panel
    q = np.array([[x, y] for x in np.linspace(-2.2, 2.2, 9) for y in np.linspace(-1.7, 1.7, 7)])
    w, v = np.linalg.eigh(Dfun(q))
    axes[0, 1].quiver(q[:, 0], q[:, 1], v[:, 0, 1], v[:, 1, 1], color="w", pivot="mid", headwidth=0,
                      headlength=0, headaxislength=0, scale=18, width=0.006)
    fig.suptitle(f"β = {BETA}, D(x) = R(pi/4 + {TURN} x1) diag(1, {EPS}) R^T; mode - minimum distances: "
                 + ", ".join(f"{np.min(np.linalg.norm(minima - m, axis=1)):.2f}" for m in modes), fontsize=9)
    return save_figure(fig, out_dir, "fig_fp_phi_vs_f")


if __name__ == "__main__":
    make(Path(__file__).parent / "out")
