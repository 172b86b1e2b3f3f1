"""F9 (Jastrzebski et al.): λ_max along SGD on MNIST-1D for several η and B with 2/η drawn, peaks, the overshoot curve along e_1, the edge-of-stability control, and the verdicts with their preconditions."""
import sys
from pathlib import Path
from textwrap import fill

import numpy as np
from matplotlib.ticker import NullFormatter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pde_sgd.plotting import save_titled, subplots  # noqa: E402
from pde_sgd.verdicts import write_verdicts  # noqa: E402
from simulations.jastrzebski import B_REF, ETA_REF, F9_DATA, edge_of_stability_control, f9_claims, f9_peak_table, f9_sweep  # noqa: E402
from simulations.sweep_results import sweep_results  # noqa: E402

PAPER_OVERSHOOT = {0.25: -2.0, 0.5: -2.0, 2.0: 2.1, 4.0: 11.1}   # their SimpleCNN, per cent (THEORY.md 8)
COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink")


def _config(r):
    return r.params["eta"], r.params["batch_size"]


def _trajectories(ax, results, configs, colors, title):
    for r in results:
        c = _config(r)
        if c not in configs:
            continue
        ep, keep = r["epochs"], r["epochs"] > 0
        first = r.params["seed"] == min(q.params["seed"] for q in results)
        ax.plot(ep[keep], r["eigenvalues"][keep, 0], color=colors[c], lw=1,
                label=f"η = {c[0]:g}, B = {c[1]}" if first else None)
    for eta in sorted({c[0] for c in configs}):
        c = next(k for k in configs if k[0] == eta)
        ax.axhline(2 / eta, color=colors[c] if len({k[0] for k in configs}) > 1 else "k", ls=":", lw=1)
    top = max(float(r["eigenvalues"][:, 0].max()) for r in results if _config(r) in configs)
    ax.set(xscale="log", xlabel="epoch", ylabel="$\\lambda_{max}$", title=title, ylim=(0, 1.25 * top))
    ax.legend(fontsize=8)


def make(out_dir: Path, full: bool = False) -> list[Path]:
    results = sweep_results(f9_sweep(full))
    claims = f9_claims(results)
    control = edge_of_stability_control(full)
    configs = sorted({_config(r) for r in results})
    colors = dict(zip(configs, COLORS))
    fig, axes = subplots(2, 3, width=3.9, height=3.3)
    _trajectories(axes[0, 0], results, [c for c in configs if c[1] == B_REF], colors,
                  f"η scan at B = {B_REF} (dotted: 2/η)")
    _trajectories(axes[0, 1], results, [c for c in configs if c[0] == ETA_REF], colors,
                  f"B scan at η = {ETA_REF:g} (dotted: 2/η)")
    ax = axes[0, 2]
    for c in configs:
        pk = [r.params["peak"] for r in results if _config(r) == c]
        t, h = np.array([q["time"] for q in pk]), np.array([q["height"] for q in pk])
        ax.errorbar(t.mean(), h.mean(), xerr=t.std(ddof=1), yerr=h.std(ddof=1), color=colors[c], marker="s",
                    ms=5, capsize=2, label=f"η = {c[0]:g}, B = {c[1]}")
        ax.plot(t, h, "o", ms=3, color=colors[c], alpha=0.5)
    ax.set(xscale="log", xlabel="peak time (epochs)", ylabel="peak height of $\\lambda_{max}$",
           title="peaks: mean ± std over seeds (dots: seeds)")
    ax.legend(fontsize=8)
    ax = axes[1, 0]
    for c in configs:
        rs = [r for r in results if _config(r) == c]
        ax.plot(rs[0]["overshoot_alphas"], 100 * np.mean([r["overshoot_change"] for r in rs], axis=0), "o-",
                color=colors[c], ms=3, label=f"η = {c[0]:g}, B = {c[1]}")
    ax.plot(list(PAPER_OVERSHOOT), list(PAPER_OVERSHOOT.values()), "k*", ms=7, label="paper (SimpleCNN)")
    ax.axhline(0, color="k", lw=0.7)
    alphas = results[0]["overshoot_alphas"]
    ax.set_xscale("log")
    ax.set_xticks(alphas, [f"{a:g}" for a in alphas])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set(xlabel="α", ylabel="loss change (%)",
           title="$L(\\theta - \\alpha\\eta g_1)/L - 1$ at the end of each run")
    ax.legend(fontsize=8)
    ax = axes[1, 1]
    for res, col in zip(control, COLORS):
        eta = res.params["eta"]
        ax.plot(res["steps"], res["eigenvalues"][:, 0], color=col,
                label=f"η = {eta:g}: plateau {res.params['plateau']:.2f} ({res.params['ratio']:.2f} × 2/η)")
        ax.axhline(2 / eta, color=col, ls=":", lw=1)
    ax.set(xlabel="full-batch GD step", ylabel="$\\lambda_{max}$", ylim=(0, None),
           title="control: GD with MSE sharpens to 2/η")
    ax.legend(fontsize=8)
    ax = axes[1, 2]
    ax.axis("off")
    lines = [fill(f"{k.split(':')[0]}, {v['a']} vs {v['b']}: {v['verdict'].headline()}", 58)
             for k, v in claims.items()]
    ax.text(0, 1, "\n".join(lines), va="top", ha="left", fontsize=8, transform=ax.transAxes)
    p = results[0].params
    n_seeds = len({r.params["seed"] for r in results})
    table = write_verdicts(Path(out_dir) / "fig_f9_hessian_along_training_verdicts.md", [v["verdict"] for v in claims.values()],
                           title=f"F9 MLP (Jastrzebski et al.) verdicts, {'full' if full else 'quick'} setting",
                           notes=f9_peak_table(results) + "\n\nEdge-of-stability control (full-batch GD, MSE): plateau "
                           + ", ".join(f"{r.params['ratio']:.2f} × 2/η at η = {r.params['eta']:g}" for r in control))
    return [table] + save_titled(fig, out_dir, "fig_f9_hessian_along_training",
                       f"F9: MNIST-1D ({F9_DATA['n_train']} samples), MLP tanh {F9_DATA['hidden']}, cross-entropy, "
                       f"no weight decay; Hessian on {p['hessian_samples']} samples by Lanczos; {n_seeds} seeds",
                       full=full)


if __name__ == "__main__":
    make(Path(__file__).parent / "out")
