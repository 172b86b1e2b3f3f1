"""F6 (SGD-VI figs. 1-2): the eigen-spectrum of the gradient-noise matrix D of the digits MLP and CNN.

D = (1/N) sum_k g_k g_k^T - g_bar g_bar^T over all 1797 digits (quick setting: a seeded 600), captured at 20%,
40% and 100% of SGD training (eta = 0.1, B = 32). Eigenvalues on a log scale in descending order; the legend
gives the mean +- std over all P eigenvalues (zeros included) and the rank fraction at the tolerance
lambda_max * P * eps (float64 eps, dotted line; and, in brackets, at float32 eps, as for networks trained in
single precision). Experiment:
simulations/networks.py::diffusion_spectra.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pde_sgd.plotting import save_figure, subplots  # noqa: E402
from simulations.networks import diffusion_spectra  # noqa: E402


def make(out_dir: Path, full: bool = False) -> list[Path]:
    res = diffusion_spectra(seed=0, full=full)
    fig, axes = subplots(1, 2, width=4.2, height=3.3)
    colors = ("tab:blue", "tab:orange", "tab:green")
    for ax, (name, caps) in zip(axes[0], res.items()):
        n_steps = max(c.params["step"] for c in caps)
        for c, col in zip(caps, colors):
            s = c.params["D_stats"]
            lam = c["D_eigenvalues"]
            keep = lam > 0
            ax.semilogy(np.arange(1, lam.size + 1)[keep], lam[keep], color=col,
                        label=f"{100 * c.params['step'] / n_steps:.0f}%: {s['mean']:.2g} ± {s['std']:.2g}, "
                              f"rank {100 * s['rank_fraction']:.1f}% ({100 * s['rank_fraction_float32_eps']:.1f}%)")
            ax.axhline(s["tolerance"], color=col, ls=":", lw=0.8)
        P = caps[0].params["n_params"]
        ax.set_xlim(0, P)
        ax.set_ylim(bottom=max(1e-18, 0.1 * min(c.params["D_stats"]["tolerance"] for c in caps)))
        ax.set_title(f"digits {name.upper()} (P = {P}, N = {caps[0].params['n_samples']})")
        ax.set_xlabel("eigenvalue index (descending)")
        ax.set_ylabel("eigenvalue of D")
        ax.legend(title="training: mean ± std, rank", loc="upper right", fontsize=8, title_fontsize=8)
    return save_figure(fig, out_dir, "fig_f6_diffusion_spectrum")


if __name__ == "__main__":
    make(Path(__file__).parent / "out")
