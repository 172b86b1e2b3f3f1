"""F5 on a real network (SGD-VI fig. 3): is SGD's trajectory Brownian? Digits MLP, long SGD run after training.

Left: Welch power spectrum of the weight increments w_{t+1} - w_t (32 random weights, averaged); Brownian
motion would give a flat (white) spectrum. Middle: autocorrelation of the weights (mean over the 32, and four
single weights) with the 99% band of a white-noise null, +- 2.576 / sqrt(n). Right: the full-data gradient norm
(every 10 steps) and a running mean of the mini-batch gradient norm: neither goes to zero.
Experiment: simulations/networks.py::long_sgd_run.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pde_sgd.plotting import save_figure, subplots  # noqa: E402
from simulations.networks import long_sgd_run  # noqa: E402


def make(out_dir: Path, full: bool = False) -> list[Path]:
    r = long_sgd_run(seed=0, full=full)
    p = r.params
    fig, axes = subplots(1, 3, width=3.3, height=2.9)
    ax = axes[0, 0]
    ax.loglog(r["freqs"][1:], r["power"][1:], lw=0.9)
    ax.set(xlabel="frequency (1 / SGD step)", ylabel="power of weight increments",
           title=f"FFT of increments ({p['n_periodograms']} periodograms)")
    ax = axes[0, 1]
    for i, a in enumerate(r["acf_each"]):
        ax.plot(r["lags"], a, lw=0.6, alpha=0.7, label="single weights" if i == 0 else None, color="tab:gray")
    ax.plot(r["lags"], r["acf_mean"], color="tab:blue", label="mean of 32 weights")
    ax.axhspan(-p["acf_band_99"], p["acf_band_99"], color="tab:red", alpha=0.2, label="99% white-noise band")
    ax.set(xlabel="lag (SGD steps)", ylabel="autocorrelation of weights", title="autocorrelation")
    ax.legend(fontsize=8)
    ax = axes[0, 2]
    steps = np.arange(len(r["full_grad_norm"])) * p["full_grad_every"]
    gb = r["batch_grad_norm"]
    k = 200
    ax.plot(np.arange(k, len(gb) + 1), np.convolve(gb, np.ones(k) / k, mode="valid"), lw=0.9,
            label=f"mini-batch (B = {p['batch_size']}), running mean of {k}")
    ax.plot(steps, r["full_grad_norm"], lw=0.9, label="full data")
    ax.set(yscale="log", xlabel=f"SGD step after {p['burn']} training steps", ylabel="|gradient|",
           title=f"gradient norm (η = {p['eta']})")
    ax.legend(fontsize=8)
    return save_figure(fig, out_dir, "fig_f5_network_spectrum")


if __name__ == "__main__":
    make(Path(__file__).parent / "out")
