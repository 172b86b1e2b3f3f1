"""The panels that the F9 figures (MLP: fig_f9_hessian_along_training, 1-D CNN: fig_f9_cnn) share: lambda_max along
SGD per configuration (eta, B) with 2/eta dotted, the peaks over seeds, and the overshoot along e_1."""
import numpy as np
from matplotlib.ticker import FuncFormatter, NullFormatter

COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink")


def config(r) -> tuple[float, int]:
    """A run's configuration (eta, B)."""
    return r.params["eta"], r.params["batch_size"]


def label(c: tuple[float, int]) -> str:
    return f"η = {c[0]:g}, B = {c[1]}"


def trajectories(ax, results, configs, colors, title) -> None:
    """lambda_max of every seed (one legend entry per configuration) and 2/eta dotted in its colour."""
    first_seed = min(r.params["seed"] for r in results)
    for r in results:
        c = config(r)
        if c in configs:
            keep = r["epochs"] > 0
            ax.plot(r["epochs"][keep], r["eigenvalues"][keep, 0], color=colors[c], lw=1,
                    label=label(c) if r.params["seed"] == first_seed else None)
    one_eta = len({c[0] for c in configs}) == 1
    for c in configs:
        ax.axhline(2 / c[0], color="k" if one_eta else colors[c], ls=":", lw=1)
    top = max(float(r["eigenvalues"][:, 0].max()) for r in results if config(r) in configs)
    ax.set(xscale="log", xlabel="epoch", ylabel="$\\lambda_{max}$", title=title, ylim=(0, 1.25 * top))
    ax.legend(fontsize=8)


def _minor_label(ax, x: float) -> str:
    """2 and 5 times a power of ten, where the log x axis spans under two decades (else no minor labels)."""
    lo, hi = ax.get_xlim()
    return f"{x:g}" if hi < 100 * lo and f"{x:.0e}"[0] in "25" else ""


def _plain_log_ticks(ax) -> None:
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda x, _: _minor_label(ax, x)))


def peaks(ax, results, configs, colors) -> None:
    """Peak time and height: mean ± SE over seeds (squares) and each seed (dots)."""
    for c in configs:
        pk = [r.params["peak"] for r in results if config(r) == c]
        t, h = np.array([q["time"] for q in pk]), np.array([q["height"] for q in pk])
        se = np.sqrt(t.size)
        ax.errorbar(t.mean(), h.mean(), xerr=t.std(ddof=1) / se, yerr=h.std(ddof=1) / se, color=colors[c],
                    marker="s", ms=5, capsize=2, label=label(c))
        ax.plot(t, h, "o", ms=3, color=colors[c], alpha=0.5)
    ax.set(xscale="log", xlabel="peak time (epochs)", ylabel="peak height of $\\lambda_{max}$",
           title="peaks: mean ± SE (dots: seeds)")
    _plain_log_ticks(ax)
    ax.legend(fontsize=8)


def scans(axes, results, *, eta_ref: float, b_ref: int) -> tuple[list, dict]:
    """The top row of an F9 figure on three panels: the eta scan at B = b_ref, the B scan at eta = eta_ref, the
    peaks. Returns the configurations (sorted) and their colours."""
    configs = sorted({config(r) for r in results})
    colors = dict(zip(configs, COLORS))
    trajectories(axes[0], results, [c for c in configs if c[1] == b_ref], colors, f"η scan at B = {b_ref} (dotted: 2/η)")
    trajectories(axes[1], results, [c for c in configs if c[0] == eta_ref], colors,
                 f"B scan at η = {eta_ref:g} (dotted: 2/η)")
    peaks(axes[2], results, configs, colors)
    return configs, colors


def overshoot(ax, results, configs, colors, *, paper: dict | None = None) -> None:
    """The loss change L(theta - alpha eta g_1) / L - 1 (%) at the end of the runs, mean over seeds, against alpha;
    ``paper`` {alpha: per cent} drawn as stars."""
    for c in configs:
        rs = [r for r in results if config(r) == c]
        ax.plot(rs[0]["overshoot_alphas"], 100 * np.mean([r["overshoot_change"] for r in rs], axis=0), "o-",
                color=colors[c], ms=3, label=label(c))
    if paper:
        ax.plot(list(paper), list(paper.values()), "k*", ms=7, label="paper (SimpleCNN)")
    ax.axhline(0, color="k", lw=0.7)
    alphas = results[0]["overshoot_alphas"]
    ax.set_xscale("log")
    ax.set_xticks(alphas, [f"{a:g}" for a in alphas])
    ax.xaxis.set_minor_formatter(NullFormatter())            # the alphas are the labels
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set(xlabel="α", ylabel="loss change (%)", title="$L(\\theta - \\alpha\\eta g_1)/L - 1$ at the end")
    ax.legend(fontsize=8)
