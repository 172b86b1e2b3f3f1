"""F1, Hamilton-Jacobi part (Deep Relaxation fig. 1): the wiggly loss and its viscous / non-viscous HJ solutions.

Left: the seeded wiggly loss f = x^2 + 1.5 sin(2 pi x) + p(x) (``landscapes.wiggly(seed=0)``) on 500 cells in
[-3, 3]; the viscous solution (local entropy) at T = 0.2 and the non-viscous one (Moreau envelope) at
T = 0.1, each from the exact grid formula (lines: Cole-Hopf / Hopf-Lax) and from the Numba time stepper
(markers, every 12th cell: WENO5 + Godunov + TVD-RK3), with the largest difference in the legend.
Right: contours of the 2-D Rastrigin-like surface, its local entropy and its Moreau envelope (same times).
"""
from pathlib import Path

import numpy as np

from pde_sgd import Grid, hj, landscapes
from pde_sgd.plotting import save_figure, subplots

BETA = 10.0
T_VISCOUS, T_INVISCID = 0.2, 0.1


def make(out_dir: Path, full: bool = False) -> list[Path]:
    grid = Grid(-3.0, 3.0, 500)
    x = grid.axes[0]
    f = landscapes.wiggly(seed=0).on_grid(grid)
    u_visc = hj.local_entropy(f, grid, T_VISCOUS, BETA).u
    u_inv, _ = hj.moreau_envelope(f, grid, T_INVISCID)
    num_visc = hj.solve_viscous(f, grid, BETA, times=[T_VISCOUS])["u"][-1]
    num_inv = hj.solve_inviscid(f, grid, times=[T_INVISCID])["u"][-1]

    fig, axes = subplots(1, 4, width=3.3, height=3.0)
    ax = axes[0, 0]
    ax.plot(x, f, color="0.5", lw=1.0, label="f (wiggly, seed 0)")
    ax.plot(x, u_visc, color="C0", label=f"viscous HJ, T = {T_VISCOUS} (Cole-Hopf)")
    ax.plot(x, u_inv, color="C3", label=f"non-viscous HJ, T = {T_INVISCID} (Hopf-Lax)")
    sl = slice(6, None, 12)
    ax.plot(x[sl], num_visc[sl], "o", ms=3, mfc="none", color="C0",
            label=f"solver, max diff {np.max(np.abs(num_visc - u_visc)):.1e}")
    ax.plot(x[sl], num_inv[sl], "s", ms=3, mfc="none", color="C3",
            label=f"solver, max diff {np.max(np.abs(num_inv - u_inv)):.1e}")
    ax.set(title=f"1-D, β = {BETA:g}", xlabel="x", ylabel="value", ylim=(-2.0, 10.5))
    ax.legend(fontsize=8, loc="upper center")

    n2 = 201 if full else 121
    g2 = Grid([-2.0, -2.0], [2.0, 2.0], [n2, n2])
    f2 = landscapes.rastrigin(2, b=0.5).on_grid(g2)
    panels = {"f (Rastrigin-like, b = 0.5)": f2,
              f"local entropy, T = {T_VISCOUS}, β = {BETA:g}": hj.local_entropy(f2, g2, T_VISCOUS, BETA).u,
              f"Moreau envelope, T = {T_INVISCID}": hj.moreau_envelope(f2, g2, T_INVISCID)[0]}
    levels = np.linspace(f2.min(), np.quantile(f2, 0.9), 14)
    X, Y = g2.coords
    for ax, (title, field) in zip(axes[0, 1:], panels.items()):
        cs = ax.contourf(X, Y, field, levels=levels, extend="max")
        ax.contour(X, Y, field, levels=levels, colors="k", linewidths=0.3)
        i = np.unravel_index(np.argmin(field), field.shape)
        ax.plot(X[i], Y[i], "r*", ms=8, label=f"min {field[i]:.2f}")
        ax.set(title=title, xlabel="x1", ylabel="x2", aspect="equal")
        ax.legend(fontsize=8, loc="upper right")
    fig.colorbar(cs, ax=axes[0, 1:].tolist(), shrink=0.8, label="value", format="%.1f")
    return save_figure(fig, out_dir, "fig_f1_hj")


if __name__ == "__main__":
    make(Path(__file__).parent / "out")
