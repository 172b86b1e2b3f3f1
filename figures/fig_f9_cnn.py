"""F9 with a 1-D CNN (Jastrzebski et al.): λ_max along SGD on MNIST-1D for several η and B with 2/η drawn, the peaks with the seeds' spread, the overshoot along e_1, and the verdicts with their preconditions."""
import sys
from pathlib import Path
from textwrap import fill

import numpy as np
from matplotlib.ticker import FuncFormatter, NullFormatter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pde_sgd.plotting import save_titled, subplots  # noqa: E402
from pde_sgd.verdicts import write_verdicts  # noqa: E402
from simulations.jastrzebski import B_REF, CNN_ETA_REF, F9_CNN_CHANNELS, F9_DATA, f9_claims, f9_cnn_sweep, f9_peak_table  # noqa: E402
from simulations.sweep_results import sweep_results  # noqa: E402

COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink")


def _config(r) -> tuple[float, int]:
    return r.params["eta"], r.params["batch_size"]


def _label(c: tuple[float, int]) -> str:
    return f"η = {c[0]:g}, B = {c[1]}"


def _trajectories(ax, results, configs, colors, title) -> None:
    """lambda_max of every seed (one legend entry per configuration) and 2/eta dotted in its colour."""
    first_seed = min(r.params["seed"] for r in results)
    for r in results:
        c = _config(r)
        if c in configs:
            keep = r["epochs"] > 0
            ax.plot(r["epochs"][keep], r["eigenvalues"][keep, 0], color=colors[c], lw=1,
                    label=_label(c) if r.params["seed"] == first_seed else None)
    one_eta = len({c[0] for c in configs}) == 1
    for c in configs:
        ax.axhline(2 / c[0], color="k" if one_eta else colors[c], ls=":", lw=1)
    top = max(float(r["eigenvalues"][:, 0].max()) for r in results if _config(r) in configs)
    ax.set(xscale="log", xlabel="epoch", ylabel="$\\lambda_{max}$", title=title, ylim=(0, 1.25 * top))
    ax.legend(fontsize=8)


def _minor_label(ax, x: float) -> str:
    """2 and 5 times a power of ten, where the log x axis spans under two decades (else no minor labels)."""
    lo, hi = ax.get_xlim()
    return f"{x:g}" if hi < 100 * lo and f"{x:.0e}"[0] in "25" else ""


def _peaks(ax, results, configs, colors) -> None:
    """Peak time and height: mean ± SE over seeds (squares) and each seed (dots)."""
    for c in configs:
        pk = [r.params["peak"] for r in results if _config(r) == c]
        t, h = np.array([q["time"] for q in pk]), np.array([q["height"] for q in pk])
        se = np.sqrt(t.size)
        ax.errorbar(t.mean(), h.mean(), xerr=t.std(ddof=1) / se, yerr=h.std(ddof=1) / se, color=colors[c],
                    marker="s", ms=5, capsize=2, label=_label(c))
        ax.plot(t, h, "o", ms=3, color=colors[c], alpha=0.5)
    ax.set(xscale="log", xlabel="peak time (epochs)", ylabel="peak height of $\\lambda_{max}$",
           title="peaks: mean ± SE (dots: seeds)")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda x, _: _minor_label(ax, x)))
    ax.legend(fontsize=8)


def _overshoot(ax, results, configs, colors) -> None:
    for c in configs:
        rs = [r for r in results if _config(r) == c]
        ax.plot(rs[0]["overshoot_alphas"], 100 * np.mean([r["overshoot_change"] for r in rs], axis=0), "o-",
                color=colors[c], ms=3, label=_label(c))
    ax.axhline(0, color="k", lw=0.7)
    alphas = results[0]["overshoot_alphas"]
    ax.set_xscale("log")
    ax.set_xticks(alphas, [f"{a:g}" for a in alphas])
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda x, _: _minor_label(ax, x)))
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set(xlabel="α", ylabel="loss change (%)", title="$L(\\theta - \\alpha\\eta g_1)/L - 1$ at the end")
    ax.legend(fontsize=8)


def make(out_dir: Path, full: bool = False) -> list[Path]:
    results = sweep_results(f9_cnn_sweep(full))
    claims = f9_claims(results, eta_ref=CNN_ETA_REF, b_ref=B_REF)
    configs = sorted({_config(r) for r in results})
    colors = dict(zip(configs, COLORS))
    fig, axes = subplots(2, 3, width=3.9, height=3.3)
    _trajectories(axes[0, 0], results, [c for c in configs if c[1] == B_REF], colors,
                  f"η scan at B = {B_REF} (dotted: 2/η)")
    _trajectories(axes[0, 1], results, [c for c in configs if c[0] == CNN_ETA_REF], colors,
                  f"B scan at η = {CNN_ETA_REF:g} (dotted: 2/η)")
    _peaks(axes[0, 2], results, configs, colors)
    _overshoot(axes[1, 0], results, configs, colors)
    for ax in axes[1, 1:]:
        ax.axis("off")
    lines = [fill(f"{k.split(':')[0]}, {v['a']} vs {v['b']}: {v['verdict'].headline()}", 118)
             for k, v in claims.items()]
    verdicts = axes[1, 1].text(0, 1, "\n".join(lines), va="top", ha="left", fontsize=8,
                               transform=axes[1, 1].transAxes)
    verdicts.set_in_layout(False)   # it runs on over the empty panel to its right
    p = results[0].params
    n_seeds = len({r.params["seed"] for r in results})
    c1, c2 = F9_CNN_CHANNELS
    table = write_verdicts(Path(out_dir) / "fig_f9_cnn_verdicts.md", [v["verdict"] for v in claims.values()],
                           title=f"F9 1-D CNN (Jastrzebski et al.) verdicts, {'full' if full else 'quick'} setting",
                           notes=f9_peak_table(results))
    return [table] + save_titled(fig, out_dir, "fig_f9_cnn",
                       f"F9: MNIST-1D ({F9_DATA['n_train']} samples), 1-D CNN (conv 5 × {c1}, {c2}, tanh, "
                       f"avg-pool; {p['model']['n_params']} parameters), cross-entropy, no weight decay; Hessian on "
                       f"{p['hessian_samples']} samples by Lanczos; {n_seeds} seeds", full=full)


if __name__ == "__main__":
    make(Path(__file__).parent / "out")
