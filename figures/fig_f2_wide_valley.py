"""F2 (Entropy-SGD fig. 2): local entropy prefers the wide valley.

f = ``landscapes.wide_narrow()``: a wide valley at x = -1 (depth 1, width 0.5) and a deeper, narrow one at
x = 1.5 (depth 1.3, width 0.06). The local entropy u(., t) (viscous HJ / Cole-Hopf, ``hj.local_entropy``) at
beta = 5 for two scopes t = 0.1 and t = 1: the minimum of f is in the narrow valley, the minimum of u in the
wide one for both scopes. Right: the Gibbs measure rho(y; x) ∝ exp(-beta f(y) - beta |x - y|^2 / (2t)) at
the two minima of f for t = 0.1; its mean <y> gives grad u = (x - <y>) / t.
"""
from pathlib import Path

import numpy as np

from pde_sgd import Grid, hj, landscapes
from pde_sgd.plotting import save_figure, subplots

BETA = 5.0
SCOPES = (0.1, 1.0)


def make(out_dir: Path, full: bool = False) -> list[Path]:
    grid = Grid(-3.0, 3.5, 2600 if full else 1300)
    x = grid.axes[0]
    f = landscapes.wide_narrow().on_grid(grid)
    fig, axes = subplots(1, 2, width=4.2, height=3.2)
    ax = axes[0, 0]
    i = np.argmin(f)
    ax.plot(x, f, color="0.3", label=f"f: min at x = {x[i]:.2f} (narrow valley)")
    ax.plot(x[i], f[i], "v", color="0.3", ms=6)
    for c, t in zip(("C0", "C3"), SCOPES):
        u = hj.local_entropy(f, grid, t, BETA).u
        j = np.argmin(u)
        ax.plot(x, u, color=c, label=f"local entropy u(., t = {t:g}): min at x = {x[j]:.2f} (wide)")
        ax.plot(x[j], u[j], "o", color=c, ms=6)
    ax.set(title=f"wide vs narrow valley, β = {BETA:g}", xlabel="x", ylabel="value", ylim=(-1.4, 1.0))
    ax.legend(fontsize=8, loc="upper left")

    ax = axes[0, 1]
    t = SCOPES[0]
    le = hj.local_entropy(f, grid, t, BETA)
    u, mean_y = le.u, le.mean_y
    for x0, c in ((-1.0, "C2"), (1.5, "C4")):
        k = np.argmin(np.abs(x - x0))
        logw = -BETA * f - BETA * (x[k] - x) ** 2 / (2 * t)
        w = np.exp(logw - logw.max())
        w /= w.sum() * grid.spacing[0]
        ax.plot(x, w, color=c, label=f"rho(y; x = {x[k]:.2f}), <y> = {mean_y[k, 0]:.2f}, u = {u[k]:.2f}")
    ax.set(title=f"Gibbs measure of the local entropy, t = {t:g}", xlabel="y", ylabel="density",
           xlim=(-2.2, 2.5))
    ax.legend(fontsize=8, loc="upper left")
    return save_figure(fig, out_dir, "fig_f2_wide_valley")


if __name__ == "__main__":
    make(Path(__file__).parent / "out")
