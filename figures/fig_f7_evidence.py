"""F7 (Smith & Le sec. 3): logistic regression on digits (full-rank random ReLU features) with true vs random labels, L2 strength 1e-7 to 1e3: accuracy, geometric margin, cross-entropy, log evidence, one verdict per claim."""
import sys
from pathlib import Path
from textwrap import fill

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pde_sgd.plotting import save_titled, subplots  # noqa: E402
from pde_sgd.verdicts import write_verdicts  # noqa: E402
from simulations.smith_le import f7_summary, f7_sweep, f7_verdicts  # noqa: E402
from simulations.sweep_results import sweep_results  # noqa: E402


# the paper's statements judged in each panel (short names; the verdicts carry the full claims)
TITLES = {"accuracy": {"memorises": "memorises random labels",
                       "generalises": "generalises (true labels)"},
          "margin": {"margin": "margin true > random"},
          "ce": {"overconfident": "weak λ: test CE over-confident", "same_minimum": "argmin E = argmin test CE"},
          "E": {"random_E_positive": "random labels: E > 0 at every λ",
                "true_E_positive": "weak λ, true labels: E > 0"}}


def _curve(results, key, random_labels):
    rs = [r for r in results if r.params["random_labels"] == random_labels]
    lams = np.array(sorted({r.params["lam"] for r in rs}))
    vals = np.array([[float(r[key]) for r in rs if r.params["lam"] == lam] for lam in lams])
    return lams, vals.mean(1), vals.std(1)


def make(out_dir: Path, full: bool = False) -> list[Path]:
    results = sweep_results(f7_sweep(full))
    s = f7_summary(results)
    p = results[0].params
    fig, grid = subplots(2, 2, width=4.4, height=3.6)
    axes = grid.reshape(1, 4)
    panels = (("accuracy", ("train_accuracy", "test_accuracy")),
              ("mean training geometric margin\n(distance to the boundary)", ("train_geometric_margin",)),
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
    v = f7_verdicts(s)
    for ax, panel in zip(axes[0], TITLES):
        ax.set_title("\n".join([fill(f"{name}: {v[k].headline()}", 56) for k, name in TITLES[panel].items()]),
                     fontsize=8)
    n_rand = len({r.params['label_seed'] for r in results if r.params['random_labels']})
    notes = (f"N = {p['n_train']}, P = {p['n_params']}, features' numerical rank {s['feature_rank_min']}, "
             f"λ from {s['lam_min']:.0e} to {s['lam_max']:.0e} ({s['n_lams']} values); at λ = {s['lam_min']:.0e}: "
             f"true-label train / test accuracy {s['true_train_accuracy_min_lam']:.3f} / "
             f"{s['true_test_accuracy_min_lam']:.3f}, geometric margin true / random {s['margin_ratio']:.2f}x, "
             f"functional margin {s['functional_margin_ratio']:.2f}x.")
    table = write_verdicts(Path(out_dir) / "fig_f7_evidence_verdicts.md", v, notes=notes,
                           title=f"F7 (Smith & Le sec. 3) verdicts, {'full' if full else 'quick'} setting")
    return [table] + save_titled(fig, out_dir, "fig_f7_evidence",
                       f"F7: digits 0-4 vs 5-9, N = {p['n_train']}, P = {p['n_params']} random ReLU features "
                       f"max(0, a·x/2 + b) + bias (numerical rank {s['feature_rank_min']}), test N = {p['n_test']};\nrandom labels: "
                       f"mean ± std over {n_rand} seeds; functional margin (2y-1)z, not plotted: true / random "
                       f"{s['functional_margin_ratio']:.2f} at λ = {s['lam_min']:.0e}", full=full)


if __name__ == "__main__":
    make(Path(__file__).parent / "out")
