"""F5, synthetic part (SGD-VI fig. 3): a linear SDE with Q ≠ 0 circulates at |Im λ(F)| / 2π.

dX = -F X dt + sqrt(2/beta D) dW with F = (D + Q) U, U = I, D = diag(1, 0.2), Q = pi J (steady state
exp(-beta |x|^2 / 2) as for Q = 0, but a steady current). Left: FFT of the increments of x_1 with the
predicted frequency. Middle: the power spectrum of x_1 against the exact OU spectral density. Right: the
autocorrelation of x_1 with its 99% band. Experiment: simulations/sde.py::linear_limit_cycle.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pde_sgd.plotting import save_figure, subplots  # noqa: E402
from simulations.sde import linear_limit_cycle  # noqa: E402


def make(out_dir: Path, full: bool = False) -> list[Path]:
    r = linear_limit_cycle(seed=0, full=full)
    f, nu = r["freqs"], float(r["anisotropic_nu_pred"])
    sel = (f > 0) & (f < 3)
    fig, ax = subplots(1, 3, width=3.6, height=3.0)
    ax[0, 0].plot(f[sel], r["anisotropic_P_increments"][sel])
    ax[0, 0].set(xlabel="frequency", ylabel="power", title="FFT of increments of x_1")
    ax[0, 1].semilogy(f[sel], r["anisotropic_P"][sel], label="simulated (Welch)")
    ax[0, 1].semilogy(f[sel], r["anisotropic_P_exact"][sel], "k--", label="exact OU density")
    ax[0, 1].set(xlabel="frequency", ylabel="power", title="spectrum of x_1")
    for a in ax[0, :2]:
        a.axvline(nu, color="r", ls=":", label=f"|Im λ(F)|/2pi = {nu:.3f}")
        a.legend(fontsize=8)
    band = float(r["anisotropic_band"])
    ax[0, 2].plot(r["lags"], r["anisotropic_acf"])
    ax[0, 2].axhspan(-band, band, color="gray", alpha=0.3, label="99% band")
    ax[0, 2].axvline(1 / nu, color="r", ls=":", label="predicted period")
    ax[0, 2].set(xlabel="lag (time)", ylabel="autocorrelation", title="autocorrelation of x_1")
    ax[0, 2].legend(fontsize=8)
    return save_figure(fig, out_dir, "fig_f5_linear_sde_spectrum")


if __name__ == "__main__":
    make(Path(__file__).parent / "out")
