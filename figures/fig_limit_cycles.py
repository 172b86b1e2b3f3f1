"""Limit cycles of SGD: anisotropic D with Q ≠ 0 circulates, isotropic D (gradient flow) does not.

Rows: anisotropic D = diag(1, 0.2) with F = (D + Q) U, Q = pi J; isotropic D = I with F = U (Q = 0); both have
the steady state exp(-|x|^2 / 2). Columns: 8 time units of one trajectory (coloured by time), the Welch spectrum of
x_1 (predicted rotation frequency in red), the autocorrelation of x_1 with its 99% band.
Experiment: simulations/sde.py::linear_limit_cycle.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pde_sgd.plotting import save_figure, subplots  # noqa: E402
from simulations.sde import linear_limit_cycle  # noqa: E402


def make(out_dir: Path, full: bool = False) -> list[Path]:
    r = linear_limit_cycle(seed=0, full=full)
    f = r["freqs"]
    sel = (f > 0) & (f < 3)
    fig, ax = subplots(2, 3, width=3.4, height=2.9)
    for i, name in enumerate(("anisotropic", "isotropic")):
        label = "anisotropic D, Q = pi J" if i == 0 else "isotropic D = I, Q = 0"
        tr = r[f"{name}_traj"][:800]
        points = ax[i, 0].scatter(tr[:, 0], tr[:, 1], c=r.params["dt"] * np.arange(len(tr)), s=2, cmap="viridis")
        fig.colorbar(points, ax=ax[i, 0], label="time")
        ax[i, 0].plot(tr[:, 0], tr[:, 1], lw=0.3, color="gray")
        ax[i, 0].set(xlabel="x_1", ylabel="x_2", title=label, aspect="equal")
        ax[i, 1].semilogy(f[sel], r[f"{name}_P"][sel], label="simulated")
        ax[i, 1].semilogy(f[sel], r[f"{name}_P_exact"][sel], "k--", label="exact")
        nu = float(r[f"{name}_nu_pred"])
        if nu > 0:
            ax[i, 1].axvline(nu, color="r", ls=":", label=f"predicted {nu:.3f}")
        ax[i, 1].set(xlabel="frequency", ylabel="power of x_1", title="spectrum")
        ax[i, 1].legend(fontsize=8)
        band = float(r[f"{name}_band"])
        ax[i, 2].plot(r["lags"], r[f"{name}_acf"])
        ax[i, 2].axhspan(-band, band, color="gray", alpha=0.3, label="99% band")
        ax[i, 2].set(xlabel="lag (time)", ylabel="autocorrelation of x_1", title="autocorrelation")
        ax[i, 2].legend(fontsize=8)
    return save_figure(fig, out_dir, "fig_limit_cycles")


if __name__ == "__main__":
    make(Path(__file__).parent / "out")
