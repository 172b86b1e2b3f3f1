"""F12: test error of SGD, Entropy-SGD, Elastic-SGD, Parle, VSGD and Adam on the digits MLP and CNN against epochs, effective epochs and wall-clock (mean ± std over 3 seeds), with the seeds' orderings marked holds / does not hold.

Rows: MLP, CNN. Columns: test error against epochs (outer steps x B / N), against effective epochs (gradient
evaluations per replica: x L for Entropy-SGD and Parle) and against training wall-clock (single thread, CPU;
only ratios within one run mean anything). The last column is the table of final test errors and the verdicts.
Experiment: simulations/optimizers.py (settings, hyper-parameters and the verdict rule are stated there).
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pde_sgd.plotting import save_figure, subplots  # noqa: E402
from simulations.optimizers import MODELS, OPTIMIZERS, optimizer_runs, summarize, table  # noqa: E402

X_AXES = (("epoch", "epochs"), ("effective_epoch", "effective epochs (gradient evaluations per replica x B / N)"),
          ("wall_time", "training wall-clock (s)"))


def _band(ax, runs, key, label):
    x = np.mean([r[key] for r in runs], axis=0)
    y = np.array([100 * r["test_error"] for r in runs])
    line, = ax.plot(x, y.mean(0), marker="o", ms=2.5, label=label)
    ax.fill_between(x, y.mean(0) - y.std(0, ddof=1), y.mean(0) + y.std(0, ddof=1), color=line.get_color(), alpha=0.2)


def make(out_dir: Path, full: bool = False) -> list[Path]:
    results = optimizer_runs(full=full)
    summary = summarize(results, full)
    summary.save(Path(out_dir) / f"fig_f12_summary_{'full' if full else 'quick'}")
    fig, axes = subplots(len(MODELS), 4, width=3.3, height=2.9)
    for i, model in enumerate(MODELS):
        for j, (key, xlabel) in enumerate(X_AXES):
            ax = axes[i, j]
            for opt in OPTIMIZERS:
                _band(ax, results[(model, opt)], key, opt)
            ax.set(yscale="log", xlabel=xlabel, ylabel=f"{model}: test error (%)")
        axes[i, 0].legend(fontsize=8)
        axes[i, 3].axis("off")
    p = summary.params
    rows = ["final test error (%), mean ± std", f"{'':<13}" + "".join(f"{m:>15}" for m in MODELS)]
    for j, o in enumerate(OPTIMIZERS):
        rows.append(f"{o:<13}" + "".join(f"{100 * summary['mean_test_error'][i, j]:8.2f} ± {100 * summary['std_test_error'][i, j]:4.2f}"
                                         for i in range(len(MODELS))))
    axes[0, 3].text(0.0, 1.0, "\n".join(rows), va="top", family="monospace", fontsize=8, transform=axes[0, 3].transAxes)
    lines = ["seeds' claims (test error; '~': within 2 SE):"]
    for m in MODELS:
        lines += [f"{m}: {v['claim']}: {'holds' if v['holds'] else 'does NOT hold'}"
                  f"{'' if v['resolved'] or '~' in v['claim'] else ' (gap < 2 SE)'}" for v in p["verdicts"][m]]
    axes[1, 3].text(0.0, 1.0, "\n".join(lines), va="top", fontsize=8, transform=axes[1, 3].transAxes)
    text = table(summary)
    s = summary.params["settings"]
    held = sum(v["holds"] for m in MODELS for v in summary.params["verdicts"][m])
    total = sum(len(summary.params["verdicts"][m]) for m in MODELS)
    fig.suptitle(f"F12: the seeds' optimizers on digits, {s['epochs']} epochs, L = {s['L']}, {len(s['seeds'])} seeds "
                 f"(mean ± std); seeds' orderings hold here in {held}/{total} cases (verdicts at right)", fontsize=9)
    paths = save_figure(fig, out_dir, "fig_f12_optimizers")
    md = Path(out_dir) / "fig_f12_optimizers.md"
    md.write_text(f"F12 final test errors ({'full' if full else 'quick'} setting)\n\n{text}\n")
    return paths + [md]


if __name__ == "__main__":
    make(Path(__file__).parent / "out", full="--full" in sys.argv)
