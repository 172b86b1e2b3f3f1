"""F7 (Smith & Le sec. 3): logistic regression on digits with true vs random labels across the L2 strength: accuracy, margin, cross-entropy, log evidence."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pde_sgd.plotting import save_titled, subplots  # noqa: E402
from simulations.smith_le import f7_summary, f7_sweep  # noqa: E402
from simulations.sweep_results import sweep_results  # noqa: E402


def _curve(results, key, random_labels):
    rs = [r for r in results if r.params["random_labels"] == random_labels]
    lams = np.array(sorted({r.params["lam"] for r in rs}))
    vals = np.array([[float(r[key]) for r in rs if r.params["lam"] == lam] for lam in lams])
    return lams, vals.mean(1), vals.std(1)


def make(out_dir: Path, full: bool = False) -> list[Path]:
    results = sweep_results(f7_sweep(full))
    s = f7_summary(results)
    p = results[0].params
    lam_lo = min(r.params["lam"] for r in results)
    fig, grid = subplots(2, 2, width=3.8, height=2.9)
    axes = grid.reshape(1, 4)
    panels = (("accuracy", ("train_accuracy", "test_accuracy")), ("mean training margin: distance to boundary", ("train_geometric_margin",)),
              ("mean cross-entropy (nats)", ("train_cross_entropy", "test_cross_entropy")),
              ("log evidence ratio E / N", ("log_evidence_per_sample",)))
    for ax, (ylabel, keys) in zip(axes[0], panels):
        for rl, color in ((False, "tab:blue"), (True, "tab:red")):
            for key, ls in zip(keys, ("-", "--")):
                lam, m, sd = _curve(results, key, rl)
                ax.errorbar(lam, m, yerr=sd if rl else None, color=color, ls=ls, marker="o", ms=2.5,
                            label=f"{'random' if rl else 'true'} labels, {key.split('_')[0] if len(keys) > 1 else ''}".rstrip(", "))
        ax.set(xscale="log", xlabel="L2 strength λ", ylabel=ylabel)
        ax.legend(fontsize=8)
    axes[0, 3].axhline(0, color="k", lw=0.7)
    axes[0, 3].axvline(s["lam_evidence_min"], color="tab:blue", ls=":", lw=1)
    axes[0, 2].axvline(s["lam_test_ce_min"], color="tab:blue", ls=":", lw=1)
    same = abs(s["offset_decades"]) <= s["grid_step_decades"] + 1e-9
    axes[0, 3].set_title(f"argmin E = {s['lam_evidence_min']:.3g}, argmin test CE = {s['lam_test_ce_min']:.3g}: "
                         f"{'same λ (holds)' if same else 'offset (does not hold)'}\nrandom labels: min E = "
                         f"{s['random_E_min']:.3g} ({'> 0 everywhere: holds' if s['random_E_min'] > 0 else '< 0 somewhere: does not hold'})",
                         fontsize=8)
    axes[0, 1].set_title(f"margin true / random at λ = {lam_lo:.0e}: "
                         f"{s['margin_ratio']:.2f} (paper ~1.5)", fontsize=8)
    axes[0, 0].set_title(f"random labels memorised: train acc {s['random_train_accuracy_min_lam']:.2f}", fontsize=8)
    n_rand = len({r.params['label_seed'] for r in results if r.params['random_labels']})
    return save_titled(fig, out_dir, "fig_f7_evidence",
                       f"F7: digits 0-4 vs 5-9, N = {p['n_train']}, P = {p['n_params']} random ReLU features + bias, "
                       f"test N = {p['n_test']};\nrandom labels: mean ± std over {n_rand} seeds", full=full)


if __name__ == "__main__":
    make(Path(__file__).parent / "out")
