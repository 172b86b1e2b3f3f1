"""F1 completed (Deep Relaxation fig. 1): Fokker-Planck densities driven by f and by its HJ regularisations.

The seeded wiggly loss f = x^2 + 1.5 sin(2 pi x) + p(x) (``landscapes.wiggly(seed=0)``) on 500 cells in
[-3, 3]; the viscous HJ solution u(., 0.2) (local entropy, Cole-Hopf, same beta) and the non-viscous
u(., 0.1) (Moreau envelope). Each drives ρ_t = d_x(u' rho) + beta^-1 rho_xx (no flux at +-3), from a narrow
Gaussian at x = 2.5. Top left: the three potentials. Other panels: the densities at several times (SGD on f
stays trapped in the local minima near the start; the smoothed potentials let the mass reach the wide basin
around the global minimum), with the mass in each snapshot in the legend.
"""
from pathlib import Path

import numpy as np

from pde_sgd import Grid
from pde_sgd.animations import BETA_F1 as BETA, f1_potentials
from pde_sgd.fokker_planck import FokkerPlanck, exact
from pde_sgd.plotting import save_figure, subplots

TIMES = (0.0, 0.1, 1.0, 5.0, 20.0)


def make(out_dir: Path, full: bool = False) -> list[Path]:
    grid = Grid(-3.0, 3.0, 500)
    x = grid.axes[0]
    drivers = f1_potentials(grid)
    rho0 = exact.gaussian_density(grid, [2.5], [[0.05**2]])
    times = np.array(TIMES if not full else sorted(set(TIMES) | {0.3, 3.0, 10.0, 50.0}))
    fig, axes = subplots(2, 2, width=4.0, height=2.9)
    ax = axes[0, 0]
    for name, u in drivers.items():
        ax.plot(x, u, label=name)
    ax.axvline(2.5, color="k", ls=":", lw=0.8, label="start x = 2.5")
    ax.set(title=f"potentials (β = {BETA})", xlabel="x", ylabel="value")
    ax.legend(fontsize=8)
    for ax, (name, u) in zip(axes.ravel()[1:], drivers.items()):
        run = FokkerPlanck(u, grid, beta=BETA, D=1.0).evolve(rho0, times=times, method="implicit", dt=2e-3)
        colours = plt_colours(len(times))
        for c, t, r in zip(colours, run["times"], run["rho"]):
            ax.plot(x, r, color=c, lw=1.0, label=f"t = {t:g}")
        ax.set(title=f"FP driven by {name}", xlabel="x", ylabel="density", ylim=(0, 3.0))
        ax.legend(fontsize=8, loc="upper center")
        mean = (run["rho"][-1] * x).sum() * grid.cell_volume
        ax.text(0.02, 0.95, f"mean at t = {times[-1]:g}: {mean:.2f}\nmax |mass - 1|: "
                f"{np.max(np.abs(run['mass'] - 1)):.0e}", transform=ax.transAxes, va="top", fontsize=8)
    return save_figure(fig, out_dir, "fig_f1_densities")


def plt_colours(n: int) -> list:
    """n colours from light to dark along the viridis map (early to late times)."""
    from matplotlib import colormaps
    return [colormaps["viridis"](v) for v in np.linspace(0.9, 0.0, n)]


if __name__ == "__main__":
    make(Path(__file__).parent / "out")
