"""The leftover field j = -∇f + D∇Φ - β⁻¹ div D (THEORY.md section 3) as streamlines over Φ.

j is measured on the grid from the Fokker-Planck steady state (Phi = -beta^-1 log rho_ss) by central
differences; the steady current is J_ss = j rho_ss. Panels: (a) a tilted double well with the rotating
space-dependent D(x); (b) a linear force field grad f = F x (F not symmetric) with anisotropic D, where the
linear recipe gives j = -Q U x exactly; (c) the F4 saddle example (lambda = 1.5), where |j| is largest at the
saddle of Phi and the deterministic flow circles it. Titles give the measured max|div j| L / max|j| and
max|j . grad Phi| / (max|j| max|grad Phi|) over the bulk rho_ss > 1e-4 max rho_ss (the paper assumes both
vanish; in (b) both do exactly, in (a) and (c) they do not).
"""
from pathlib import Path

import numpy as np

from pde_sgd import Grid, landscapes
from pde_sgd.fokker_planck import FokkerPlanck, exact
from pde_sgd.fokker_planck.examples import rotating_diffusion, rotational_current
from pde_sgd.plotting import save_figure, subplots

F_LIN = np.array([[1.0, 1.5], [-1.5, 1.0]])
D_LIN = np.array([[1.0, 0.3], [0.3, 0.4]])


FLOOR = 1e-4  # the bulk: rho_ss > FLOOR * max rho_ss (Phi from the grid is noise-free there)


def _panel(fig, ax, grid, fp, title, j_exact=None):
    lf = fp.leftover_field(floor=FLOOR)
    phi = fp.potential(np.maximum(fp.steady_state(), 1e-300))
    X, Y = grid.coords
    bulk = lf["bulk"]
    j = lf["j"]
    speed = np.where(bulk, np.linalg.norm(j, axis=-1), np.nan)
    im = ax.pcolormesh(X, Y, speed, shading="auto", cmap="plasma")
    fig.colorbar(im, ax=ax, shrink=0.8, label=f"|j| (where ρ_ss > {FLOOR:g} max)")
    ax.contour(X, Y, np.where(bulk, phi, np.nan), levels=10, colors="w", linewidths=0.5)
    ax.streamplot(grid.axes[0], grid.axes[1], np.where(bulk, j[..., 0], 0).T, np.where(bulk, j[..., 1], 0).T,
                  color="k", density=0.9, linewidth=0.6, arrowsize=0.6)
    sub = f"div j: {lf['div_j_rel']:.2f}, j.gradPhi: {lf['j_dot_grad_phi_rel']:.2f}"
    if j_exact is not None:
        err = np.max(np.abs(j - j_exact)[bulk]) / np.max(np.abs(j_exact)[bulk])
        sub += f"\nrel. err vs exact j: {err:.1e}"
    ax.set(title=f"{title}\n{sub}", xlabel="x1", ylabel="x2")


def make(out_dir: Path, full: bool = False) -> list[Path]:
    n = 200 if full else 96
    fig, axes = subplots(1, 3, width=3.6, height=3.5)
    g = Grid([-2.5, -2.0], [2.5, 2.0], [n, n])
    fp = FokkerPlanck(landscapes.double_well(2, tilt=0.1), g, beta=4.0, D=rotating_diffusion(0.1, 1.0))
    _panel(fig, axes[0, 0], g, fp, "(a) double well, rotating D(x), β = 4")
    g = Grid([-3, -3], [3, 3], [n, n])
    beta = 2.0
    fp = FokkerPlanck(grid=g, beta=beta, D=D_LIN, grad_f=lambda x: x @ F_LIN.T)
    rec = exact.linear_recipe(F_LIN, D_LIN, beta)
    j_ex = -(g.points() @ (rec["Q"] @ rec["U"]).T).reshape(g.shape + (2,))
    _panel(fig, axes[0, 1], g, fp, "(b) force field grad f = F x, β = 2", j_ex)
    g = Grid([-2.5, -2.5], [2.5, 2.5], [n, n])
    ex = rotational_current(1.5)
    fp = FokkerPlanck(grid=g, beta=1.0, D=1.0, grad_f=ex["grad_f"])
    _panel(fig, axes[0, 2], g, fp, "(c) F4 saddle example, λ = 1.5",
           ex["j"](g.points()).reshape(g.shape + (2,)))
    return save_figure(fig, out_dir, "fig_fp_leftover_field")


if __name__ == "__main__":
    make(Path(__file__).parent / "out")
