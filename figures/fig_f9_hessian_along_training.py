"""F9 (Jastrzebski et al.): λ_max along SGD on MNIST-1D for several η and B with 2/η drawn, peaks, the overshoot curve along e_1, the edge-of-stability control, and the verdicts with their preconditions."""
import sys
from pathlib import Path
from textwrap import fill

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from figures._f9_panels import COLORS, overshoot, scans  # noqa: E402
from pde_sgd.plotting import save_titled, subplots  # noqa: E402
from pde_sgd.verdicts import write_verdicts  # noqa: E402
from simulations.jastrzebski import B_REF, ETA_REF, F9_DATA, edge_of_stability_control, f9_claims, f9_peak_table, f9_sweep  # noqa: E402
from simulations.sweep_results import sweep_results  # noqa: E402

PAPER_OVERSHOOT = {0.25: -2.0, 0.5: -2.0, 2.0: 2.1, 4.0: 11.1}   # their SimpleCNN, per cent (THEORY.md 8)


def make(out_dir: Path, full: bool = False) -> list[Path]:
    results = sweep_results(f9_sweep(full))
    claims = f9_claims(results)
    control = edge_of_stability_control(full)
    fig, axes = subplots(2, 3, width=3.9, height=3.3)
    configs, colors = scans(axes[0], results, eta_ref=ETA_REF, b_ref=B_REF)
    overshoot(axes[1, 0], results, configs, colors, paper=PAPER_OVERSHOOT)
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
