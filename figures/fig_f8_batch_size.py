"""F8 (Smith & Le secs. 4-5): test and train accuracy against batch size for several ε, momenta m (digits) and N (MNIST-1D), one-hidden-layer ReLU net, SGD + momentum; B_opt with brackets and bootstrap CIs beside the gradient noise scale B_noise (McCandlish et al.), its log-log slopes against ε, N, 1/(1-m) with verdicts."""
import sys
from pathlib import Path
from textwrap import fill

import numpy as np
from matplotlib.ticker import NullFormatter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pde_sgd.plotting import save_titled, subplots  # noqa: E402
from pde_sgd.verdicts import write_verdicts  # noqa: E402
from simulations.smith_le import F8_REF, MOMENTUM_EPS, f8_analysis, f8_sweep  # noqa: E402
from simulations.sweep_results import sweep_results  # noqa: E402

LABELS = {"eps": ("ε", "learning rate ε"), "N": ("N", "training set size N"),
          "momentum": ("1/(1-m)", "1/(1 - momentum)")}


def _curves_table(ana: dict) -> str:
    """Markdown: per scan the fitted slopes, then per curve B_opt with its bracket and bootstrap CI, the test and
    train accuracy there, B_noise and g at B_opt, and the diverged models per B."""
    rows = ["| scan | x | B_opt (bracket) | bootstrap 95% CI | test acc. at B_opt | train acc. at B_opt, left "
            "neighbour | B_noise at B_opt | g at B_opt | diverged models per B |", "|---|---|---|---|---|---|---|---|---|"]
    fits = []
    for scan, a in ana.items():
        if a["fit"] is not None:
            f = a["fit"]
            fits.append(f"{LABELS[scan][0]}: B_opt slope {f['slope']:.2f} (95% CI {f['ci95'][0]:.2f} to {f['ci95'][1]:.2f}), "
                        f"B_noise slope {f['B_noise_slope']:.2f}")
        for c in a["curves"]:
            i = int(np.flatnonzero(c["B"] == c["B_opt"])[0])
            ci = c["bootstrap"]["ci95"] if c["bootstrap"] is not None else (np.nan, np.nan)
            div = ", ".join(f"{b:.0f}: {n}" for b, n in zip(c["B"], c["diverged"]) if n) or "none"
            rows.append(f"| {LABELS[scan][0]} | {c['x']:g} | {c['B_opt']:.0f} ({c['lo']:.0f}, {c['hi']:.0f}) | "
                        f"{ci[0]:.0f} to {ci[1]:.0f} | {c['mean'][i]:.3f} ± {c['sem'][i]:.3f} | "
                        f"{c['train_accuracy'][i]:.3f}, {c['train_accuracy'][max(i - 1, 0)]:.3f} | "
                        f"{c['B_noise_at_B_opt']:.3g} | {c['g_at_B_opt']:.3g} | {div} |")
    return "\n".join(["Slopes (predicted 1): " + "; ".join(fits), "",
                      "B_noise is measured on 1000 training samples: exact on the digits scans (N = 1000); on the "
                      "N scan (N > 1000) its |G|² carries about tr Σ/1000 · (1 - 1000/N) of sampling bias, which caps "
                      "B_noise near 1000 late in training, so the N scan's B_noise slope says little.", ""] + rows)


def make(out_dir: Path, full: bool = False) -> list[Path]:
    results = sweep_results(f8_sweep(full))
    ana = f8_analysis(results)
    steps = {r.params["scan"]: r.params["n_steps"] for r in results}
    fig, axes = subplots(2, 3, width=3.6, height=3.1, gridspec_kw={"height_ratios": [1.3, 1]})
    for j, (scan, a) in enumerate(ana.items()):
        sym, name = LABELS[scan]
        ax = axes[0, j]
        for c in a["curves"]:
            line = ax.errorbar(c["B"], c["mean"], yerr=c["sem"], marker="o", ms=3, capsize=2,
                               label=f"{sym} = {c['x']:.6g}" + (f", g = {c['g_at_B_opt']:.3g}" if scan != "N" else ""))[0]
            ax.plot(c["B"], c["train_accuracy"], ls="--", lw=1, color=line.get_color())
            ax.plot(c["B_opt"], c["mean"].max(), "*", ms=9, color=line.get_color())
            bad = c["diverged"] > 0
            ax.plot(c["B"][bad], c["mean"][bad], "x", ms=7, mew=1.5, color="k")
        if any(c["diverged"].any() for c in a["curves"]):
            ax.plot([], [], "x", ms=7, mew=1.5, color="k", label="diverged (acc. 0)")
        fixed = {"eps": f"m = {F8_REF['momentum']}, N = {F8_REF['n_train']} digits",
                 "N": f"ε = {F8_REF['eps']}, m = {F8_REF['momentum']}; MNIST-1D, fresh per N",
                 "momentum": f"ε = {MOMENTUM_EPS}, N = {F8_REF['n_train']} digits, {steps['momentum']} steps"}[scan]
        test = "1000 MNIST-1D" if scan == "N" else "797 held-out digits"
        ax.set(xscale="log", xlabel="batch size B", ylabel=f"accuracy (test: {test})")
        ax.set_title(fill(f"{name} scan ({fixed})", 60), fontsize=8)
        ax.legend(fontsize=8, loc="lower right")   # below the curves, which rise to their plateau on the right
        ax = axes[1, j]
        x = np.array([c["x"] for c in a["curves"]])
        b = np.array([c["B_opt"] for c in a["curves"]])
        err = np.array([[c["B_opt"] - c["lo"] for c in a["curves"]], [c["hi"] - c["B_opt"] for c in a["curves"]]])
        ax.errorbar(x, b, yerr=err, fmt="o", capsize=3, label="B_opt (bars: next B tried)")
        ax.plot(x, [c["B_noise_at_B_opt"] for c in a["curves"]], "s", ms=5, mfc="none", color="tab:green",
                label="B_noise = tr Σ/|G|² at B_opt (end)"
                      + (f", slope {a['fit']['B_noise_slope']:.2f}" if a["fit"] is not None else ""))
        boot = [c["bootstrap"] for c in a["curves"]]
        if all(bt is not None for bt in boot):
            ci = np.array([bt["ci95"] for bt in boot]).T
            ax.errorbar(x * 1.08, b, yerr=np.abs(ci - b), fmt="none", ecolor="tab:red", elinewidth=3, alpha=0.5,
                        label="bootstrap 95% CI over seeds")
        f = a["fit"]
        if f is not None:
            xs = np.geomspace(x.min(), x.max(), 20)
            ax.plot(xs, np.exp(f["intercept"]) * xs ** f["slope"], label=f"fit: slope {f['slope']:.2f}")
            ax.plot(xs, b[0] * xs / x[0], ls=":", color="k", label="slope 1 (predicted)")
            ax.set_title(fill(f["verdict"].headline(), 52), fontsize=8)
        ax.set(xscale="log", yscale="log", xlabel=sym, ylabel="B_opt, B_noise")
        vals = np.concatenate([b - err[0], b + err[1], [c["B_noise_at_B_opt"] for c in a["curves"]]])
        lo, hi = max(vals.min(), 1.0) / 1.5, vals.max() * 1.5
        ax.set_ylim(lo, hi * (hi / lo) ** 1.1)   # the points in the lower half, the legend above them
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=8, loc="upper left")
    p = results[0].params
    table = write_verdicts(Path(out_dir) / "fig_f8_batch_size_verdicts.md",
                           [a["fit"]["verdict"] for a in ana.values() if a["fit"] is not None],
                           title=f"F8 (Smith & Le secs. 4-5) verdicts, {'full' if full else 'quick'} setting",
                           notes=_curves_table(ana))
    return [table] + save_titled(fig, out_dir, "fig_f8_batch_size",
                       f"F8: one-hidden-layer ReLU net (width {p['hidden']}), SGD + momentum, constant ε, no regularisation; "
                       f"ε and N scans: {p['steps_ref']}·{F8_REF['eps']}/ε steps (fixed in the N scan), momentum scan: "
                       f"{steps['momentum']} steps,\n"
                       f"{p['n_seeds']} seeds per point (mean ± s.e.; dashed: train accuracy; ★ B_opt); g = ε(N/B - 1)/(1 - m) at B_opt (ε and m scans; all in the verdicts table)",
                       full=full, quick_note="quick setting: short runs, coarse B grid")


if __name__ == "__main__":
    make(Path(__file__).parent / "out")
