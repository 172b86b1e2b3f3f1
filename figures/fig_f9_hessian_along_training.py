"""F9 (Jastrzebski et al.): lambda_max and lambda_2 along SGD for several eta and B and seeds, the peak of each run, and the claim "larger eta or smaller B: smaller, earlier peak" tested with the seeds' spread."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pde_sgd.plotting import save_titled, subplots  # noqa: E402
from simulations.jastrzebski import f9_claims, f9_sweep  # noqa: E402
from simulations.sweep_results import sweep_results  # noqa: E402


def make(out_dir: Path, full: bool = False) -> list[Path]:
    results = sweep_results(f9_sweep(full))
    claims = f9_claims(results)
    configs = sorted({(r.params["eta"], r.params["batch_size"]) for r in results})
    fig, axes = subplots(1, 3, width=3.9, height=4.3)
    colors = dict(zip(configs, ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")))
    for r in results:
        c = (r.params["eta"], r.params["batch_size"])
        ep, keep = r["epochs"], r["epochs"] > 0
        first = r.params["seed"] == min(q.params["seed"] for q in results)
        axes[0, 0].plot(ep[keep], r["eigenvalues"][keep, 0], color=colors[c], lw=1,
                        label=f"η = {c[0]}, B = {c[1]}" if first else None)
        axes[0, 0].plot(ep[keep], r["eigenvalues"][keep, 1], color=colors[c], lw=0.6, ls="--")
        pk = r.params["peak"]
        axes[0, 1].plot(pk["time"], pk["height"], "o", ms=4, color=colors[c], mfc="none" if not pk["passed"] else colors[c])
        axes[0, 2].plot(ep[keep], r["loss"][keep], color=colors[c], lw=1)
    for c in configs:
        t = np.array([r.params["peak"]["time"] for r in results if (r.params["eta"], r.params["batch_size"]) == c])
        h = np.array([r.params["peak"]["height"] for r in results if (r.params["eta"], r.params["batch_size"]) == c])
        axes[0, 1].errorbar(t.mean(), h.mean(), xerr=t.std(ddof=1), yerr=h.std(ddof=1), color=colors[c], marker="s",
                            ms=6, capsize=2, label=f"η = {c[0]}, B = {c[1]}: mean ± std")
    n_seeds = len({r.params["seed"] for r in results})
    axes[0, 0].set(xscale="log", xlabel="epoch", ylabel="top Hessian eigenvalues",
                   title="λ_max (solid), λ_2 (dashed), every seed")
    axes[0, 0].title.set_fontsize(8)
    axes[0, 0].legend(fontsize=6)
    axes[0, 1].set(xscale="log", xlabel="peak time (epochs)", ylabel="peak height of λ_max (median of 3 records)")
    axes[0, 1].legend(fontsize=6)
    text = "\n".join(f"{k.split(':')[0]} smaller for {v['a']} than {v['b']}: {v['verdict']} "
                     f"({v['diff']:+.3g} ± {v['se']:.2g}){'; peaks not passed: ' + str(v['peaks_not_passed']) if v['peaks_not_passed'] else ''}"
                     for k, v in claims.items())
    axes[0, 1].set_title(text, fontsize=5.5)
    axes[0, 2].set(xscale="log", yscale="log", xlabel="epoch", ylabel="training loss (all 1797 digits)")
    p = results[0].params
    return save_titled(fig, out_dir, "fig_f9_hessian_along_training",
                       f"F9: digits MLP (tanh 32, weight decay 1e-3), Hessian on {p['hessian_samples']} samples by "
                       f"Lanczos; {n_seeds} seeds, {sorted({r.params['epochs'] for r in results})} epochs; open "
                       f"circles: peak not passed", full=full)


if __name__ == "__main__":
    make(Path(__file__).parent / "out")
