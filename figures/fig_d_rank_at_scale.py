"""Rank of the gradient-noise matrix D at scale: digits MLP with P = 132,810 on N << P samples: first the rank at float32 tolerance and the measures not capped by N (PR, stable rank), then the spectrum and the rank vs tolerance, with the 0.34% reading as a hypothesis."""
import sys
from pathlib import Path

import numpy as np
from matplotlib.ticker import NullFormatter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pde_sgd.networks.noise_rank import EPS  # noqa: E402
from pde_sgd.plotting import save_titled, subplots  # noqa: E402
from simulations.noise_rank import rank_summary, rank_sweep  # noqa: E402
from simulations.sweep_results import sweep_results  # noqa: E402


def make(out_dir: Path, full: bool = False) -> list[Path]:
    results = sweep_results(rank_sweep(full))
    s = rank_summary(results)
    P = s["n_params"]
    fig, axes = subplots(1, 3, width=3.7, height=3.1)
    big = results[-1]
    for i, step in enumerate(big["steps"]):
        lam = big["eigenvalues_float64"][i]
        line, = axes[0, 1].semilogy(np.arange(1, lam.size + 1), np.clip(lam, 1e-30, None),
                                    label=f"step {step} of {big.params['n_steps']}")
        axes[0, 1].semilogy(np.arange(1, lam.size + 1), np.clip(big["eigenvalues_float32"][i], 1e-30, None),
                            ls=":", color=line.get_color())
    lmax = big["eigenvalues_float64"][-1, 0]
    for k, ls in (("float32", "--"), ("float64", "-.")):
        axes[0, 1].axhline(lmax * P * EPS[k], color="k", ls=ls, lw=0.8, label=f"$\\lambda_{{max}} P \\epsilon_{{{k[-2:]}}}$ (end)")
    axes[0, 1].set(xlabel="index (descending)", ylabel="eigenvalue of D", ylim=(1e-22, None),
                   title=f"N = {big.params['n_samples']}: float64 (solid), float32 (dotted) grads")
    axes[0, 1].title.set_fontsize(8)
    axes[0, 1].legend(fontsize=8)
    eps = np.logspace(-17, -4, 120)
    for r in results:
        lam = r["eigenvalues_float64"][-1]
        axes[0, 2].loglog(eps, [np.sum(lam > lam[0] * P * e) / P for e in eps],
                          label=f"N = {r.params['n_samples']} (P/N = {P / r.params['n_samples']:.0f})")
    for k, ls in (("float32", "--"), ("float64", "-.")):
        axes[0, 2].axvline(EPS[k], color="k", ls=ls, lw=0.8)
    axes[0, 2].axhline(s["target"], color="tab:red", lw=0.8, label="0.34% (SGD-VI slides)")
    axes[0, 2].set(xlabel="ε in the tolerance $\\lambda_{max} P \\epsilon$", ylabel="rank / P (end of training)",
                   title=f"hypothesis, not reproduced: 0.34% = rank N - 1\nneeds N = {s['n_for_target_full_rank']}")
    axes[0, 2].title.set_fontsize(8)
    axes[0, 2].set_ylim(bottom=0.05 / P)                      # room below the plateaus for the legend
    axes[0, 2].legend(fontsize=8, loc="lower left")
    ns = np.array([row["n_samples"] for row in s["rows"]])
    for key, label in (("rank_float64", "rank at $\\epsilon_{64}$ tolerance"), ("rank_float32", "rank at $\\epsilon_{32}$ tolerance"),
                       ("participation_ratio", "participation ratio"), ("stable_rank", "stable rank")):
        axes[0, 0].loglog(ns, [row[key] for row in s["rows"]], marker="o", label=label)
    axes[0, 0].loglog(ns, ns - 1, color="k", lw=0.7, ls=":", label="N - 1 (the bound)")
    axes[0, 0].set(xlabel="N samples", ylabel="dimension count (end of training)",
                   title="rank at float32 tolerance, PR and stable rank vs N")
    axes[0, 0].title.set_fontsize(8)
    axes[0, 0].set_xticks(ns, [str(n) for n in ns])        # N spans under two decades: label each N
    axes[0, 0].xaxis.set_minor_formatter(NullFormatter())
    axes[0, 0].set_ylim(1, 30 * ns.max())                     # room above the data for the legend
    axes[0, 0].legend(fontsize=8, loc="upper left")
    return save_titled(fig, out_dir, "fig_d_rank_at_scale",
                       f"D of a {'-'.join(map(str, [64, *big.params['hidden'], 10]))} tanh MLP on digits, P = {P}, SGD "
                       f"η = {big.params['eta']}, B = {big.params['batch_size']}", full=full)


if __name__ == "__main__":
    make(Path(__file__).parent / "out")
