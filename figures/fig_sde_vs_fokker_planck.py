"""SDE ensembles against the Fokker-Planck steady state and exp(-βf).

Top: 2-D double well, beta = 3, anisotropic constant D = [[1, 0.4], [0.4, 0.5]]: histogram of 20,000 SDE
paths at t = 8 (Milstein), the finite-volume FP steady state, and the Gibbs density exp(-beta f), which the
anisotropic steady state is not. Bottom right: 1-D double well with D(x) = 1 + 2 f(x): histogram, FP steady
state (= the closed form (1 + a f)^(-beta/a - 1)) and exp(-beta f). Experiment: simulations/sde.py::sde_vs_fokker_planck.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pde_sgd.plotting import save_figure, subplots  # noqa: E402
from simulations.sde import sde_vs_fokker_planck  # noqa: E402


def make(out_dir: Path, full: bool = False) -> list[Path]:
    r = sde_vs_fokker_planck(seed=0, full=full)
    fig, ax = subplots(1, 4, width=3.0, height=2.8)
    x2, e2 = r["x2"], r["edges2"]
    c2 = 0.5 * (e2[1:] + e2[:-1])
    vmax = max(r["hist2"].max(), r["fp2"].max())
    levels = np.linspace(0, vmax, 12)
    for a, (X, Z, title) in zip(ax[0, :3], [(c2, r["hist2"], "SDE histogram"), (x2, r["fp2"], "FP steady state"),
                                           (x2, r["gibbs2"], "exp(-β f) (Gibbs)")]):
        cs = a.contourf(X, X, np.clip(Z, 0.0, None).T, levels=levels)  # FP stencil: tails may dip below 0
        a.contour(x2, x2, r["fp2"].T, levels=levels[1::2], colors="w", linewidths=0.5)
        a.set(xlabel="x_1", ylabel="x_2", title=title, aspect="equal")
    fig.colorbar(cs, ax=ax[0, 2], label="density (white lines: FP)", format="%.2f")
    a = ax[0, 3]
    e1 = r["edges1"]
    a.stairs(r["hist1"], e1, label="SDE histogram", fill=True, alpha=0.4)
    a.plot(r["x1"], r["fp1"], "k-", label="FP steady state")
    a.plot(r["x1"], r["gibbs1"], "r--", label="exp(-β f)")
    a.set(xlabel="x", ylabel="density", title="1-D, D(x) = 1 + 2 f(x)")
    a.legend(fontsize=8)
    return save_figure(fig, out_dir, "fig_sde_vs_fokker_planck")


if __name__ == "__main__":
    make(Path(__file__).parent / "out")
