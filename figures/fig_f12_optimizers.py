"""F12: SGD, Entropy-SGD, Elastic-SGD, Parle, VSGD and Adam on the digits MLP (and CNN, full setting), each at
its learning rate selected on a validation split and at one equal learning rate, with the seeds' claims judged.

One row per model. Columns: final validation error against the shared lr grid (mean ± SE over seeds; the star
marks each optimizer's selected lr η*); final test error against lr (never used for the selection); final test
error at η* (best of grid, η* printed above the bar) and at the equal lr 0.01 (the VSGD authors' MNIST demo
setting with B = 32); the verdicts (HOLDS / DOES NOT HOLD / REGIME NOT REACHED / UNRESOLVED with the failed
precondition or the effect in SE). Experiment, grid, selection and verdict rule: simulations/optimizers.py.
"""
import sys
from pathlib import Path
from textwrap import fill

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pde_sgd.plotting import save_titled, subplots  # noqa: E402
from pde_sgd.results import atomic_write_bytes  # noqa: E402
from simulations.optimizers import CLAIMS, optimizer_runs, summarize, table  # noqa: E402

SETTINGS = (("best of grid", "at η* (validation)"), ("equal lr", "at η = 0.01"))


def _versus_lr(ax, summary, i, split, ylabel):
    lrs = summary["lrs"]
    for j, o in enumerate(summary.params["optimizers"]):
        y, se = 100 * summary[f"{split}_mean"][i, j], 100 * summary[f"{split}_se"][i, j]
        line = ax.errorbar(lrs, y, yerr=se, marker="o", ms=3, capsize=2, label=o)[0]
        k = int(summary["selected"][i, j])
        ax.plot(lrs[k], y[k], "*", ms=10, color=line.get_color(), markeredgecolor="k", markeredgewidth=0.5)
    ax.set(xscale="log", yscale="log", xlabel="learning rate η (shared grid)", ylabel=ylabel)


def _bars(ax, summary, i):
    p, lrs = summary.params, summary["lrs"]
    eq = int(np.flatnonzero(np.isclose(lrs, p["equal_lr"]))[0])
    y = np.arange(len(p["optimizers"]))
    for off, (k_of, label) in zip((-0.2, 0.2), ((lambda j: int(summary["selected"][i, j]), "at η* (validation)"),
                                               (lambda j: eq, f"at η = {p['equal_lr']:g}"))):
        ks = [k_of(j) for j in y]
        x = np.array([100 * summary["test_mean"][i, j, k] for j, k in zip(y, ks)])
        se = np.array([100 * summary["test_se"][i, j, k] for j, k in zip(y, ks)])
        ax.barh(y + off, x, height=0.4, xerr=se, capsize=2, label=label)
        if off < 0:
            for j, k in zip(y, ks):
                ax.text(x[j] + se[j], j + off, f" η* = {lrs[k]:.3g}", ha="left", va="center", fontsize=8)
    ax.set_yticks(y, p["optimizers"])
    ax.invert_yaxis()
    ax.set(xlabel="final test error (%)", xlim=(0, 1.5 * ax.get_xlim()[1]))
    ax.legend(fontsize=8, loc="lower right")


def _headlines(ax, summary, model):
    ax.axis("off")
    lines = []
    for setting, where in SETTINGS:
        lines.append(f"{model}, {setting} ({where}):")
        for (a, rel, b), v in zip(CLAIMS, summary.params["verdicts"][model][setting]):
            failed = [q for q in v["preconditions"] if not q["met"]]
            why = (f"{failed[0]['name']} = {failed[0]['measured']:.3g} (needs {failed[0]['required']})"
                   + (f" +{len(failed) - 1} more" if len(failed) > 1 else "")) if failed else v["evidence"]
            lines.append(fill(f"{a} {rel} {b}: {v['outcome']}: {why}", 62, subsequent_indent="   "))
    ax.text(0, 1, "\n".join(lines), va="top", ha="left", fontsize=8, transform=ax.transAxes)


def make(out_dir: Path, full: bool = False) -> list[Path]:
    results = optimizer_runs(full=full)
    summary = summarize(results, full)
    summary.save(Path(out_dir) / f"fig_f12_summary_{'full' if full else 'quick'}")
    models = summary.params["models"]
    fig, axes = subplots(len(models), 4, width=3.6, height=4.2, gridspec_kw={"width_ratios": [1, 1, 1, 1.6]})
    for i, model in enumerate(models):
        _versus_lr(axes[i, 0], summary, i, "val", f"{model}: final validation error (%)")
        axes[i, 0].legend(fontsize=8, loc="lower left", ncol=2)
        _versus_lr(axes[i, 1], summary, i, "test", f"{model}: final test error (%)")
        _bars(axes[i, 2], summary, i)
        _headlines(axes[i, 3], summary, model)
    s = summary.params["settings"]
    paths = save_titled(fig, out_dir, "fig_f12_optimizers",
                        f"F12: digits, B = {s['batch_size']}, {s['epochs']} epochs, L = {s['L']}, {len(s['seeds'])} "
                        f"seeds (mean ± SE); one lr grid for all, η* chosen on a validation split "
                        f"({s['val_fraction']:g} of the training digits), test error reported", full=full)
    md = Path(out_dir) / "fig_f12_optimizers_verdicts.md"
    atomic_write_bytes(md, f"# F12 final errors and verdicts ({'full' if full else 'quick'} setting)\n\n"
                           f"{table(summary)}\n".encode())
    return paths + [md]


if __name__ == "__main__":
    make(Path(__file__).parent / "out", full="--full" in sys.argv)
