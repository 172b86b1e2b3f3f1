"""F4 (SGD-VI fig. 4): a rotational steady current leaves the steady state exp(-Φ) while f changes.

Phi = (x1^2 - 1)^2/4 + x2^2/2, J_ss = exp(-(x1^2 + x2^2)^2/4) (-x2, x1), j = lambda exp(Phi) J_ss,
grad f = grad Phi - j, D = I, beta = 1, for lambda in {0, 0.5, 1.5}. Top: streamlines of -grad f (colour:
|grad f|) over the contours of Phi with the critical points of f. Bottom: the grid Fokker-Planck steady state, whose relative
difference from exp(-Phi) is printed (it is a discretisation error, shrinking as h^2).
"""
from pathlib import Path

import numpy as np

from pde_sgd import Grid
from pde_sgd.fokker_planck import FokkerPlanck
from pde_sgd.fokker_planck.examples import critical_points, rotational_current
from pde_sgd.plotting import mark_points, save_figure, subplots

LAMBDAS = (0.0, 0.5, 1.5)


def make(out_dir: Path, full: bool = False) -> list[Path]:
    n = 256 if full else 64
    grid = Grid([-2.5, -2.5], [2.5, 2.5], [n, n])
    X, Y = grid.coords
    pts = grid.points()
    fig, axes = subplots(2, 3, width=3.3, height=3.0)
    for col, lam in enumerate(LAMBDAS):
        ex = rotational_current(lam)
        phi = ex["phi"](pts).reshape(grid.shape)
        fp = FokkerPlanck(grid=grid, beta=1.0, D=1.0, grad_f=ex["grad_f"])
        rho = fp.steady_state()
        target = np.exp(-phi)
        target /= target.sum() * grid.cell_volume
        err = np.max(np.abs(rho - target)) / target.max()
        crit = critical_points(ex["grad_f"], [-2.0, -1.5], [2.0, 1.5])
        drift = -ex["grad_f"](pts).reshape(grid.shape + (2,))
        ax = axes[0, col]
        ax.contour(X, Y, phi, levels=np.linspace(0, 3, 13), cmap="Greys", linewidths=0.6)
        stream = ax.streamplot(grid.axes[0], grid.axes[1], drift[..., 0].T, drift[..., 1].T, density=1.0,
                               color=np.linalg.norm(drift, axis=-1).T, cmap="viridis", linewidth=0.7,
                               arrowsize=0.7)
        fig.colorbar(stream.lines, ax=ax, shrink=0.8, label="|∇f| (streamline colour)")
        mark_points(ax, crit, "critical points of f", marker="o", color="red", s=18)
        mark_points(ax, [[-1, 0], [1, 0]], "minima of Φ", marker="x", color="k")
        ax.set(title=f"λ = {lam}: -grad f over Φ", xlabel="x1", ylabel="x2", xlim=(-2.5, 2.5),
               ylim=(-2.5, 2.5))
        ax.legend(loc="lower left", fontsize=8)
        ax = axes[1, col]
        im = ax.pcolormesh(X, Y, rho, shading="auto")
        ax.contour(X, Y, target, levels=5, colors="w", linewidths=0.6)
        fig.colorbar(im, ax=ax, shrink=0.8, label="ρ_ss (grid)")
        ax.set(title=f"steady state vs exp(-Φ) (white)\nmax rel. diff {err:.1e} ({n}x{n})", xlabel="x1",
               ylabel="x2")
    return save_figure(fig, out_dir, "fig_f4_rotational_current")


if __name__ == "__main__":
    make(Path(__file__).parent / "out")
