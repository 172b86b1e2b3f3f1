"""F9 with a 1-D CNN (Jastrzebski et al.): λ_max along SGD on MNIST-1D for several η and B with 2/η drawn, the peaks with the seeds' spread, the overshoot along e_1, and the verdicts with their preconditions."""
import sys
from pathlib import Path
from textwrap import fill

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from figures._f9_panels import overshoot, scans  # noqa: E402
from pde_sgd.plotting import save_titled, subplots  # noqa: E402
from pde_sgd.verdicts import write_verdicts  # noqa: E402
from simulations.jastrzebski import B_REF, CNN_ETA_REF, F9_CNN_CHANNELS, F9_DATA, f9_claims, f9_cnn_sweep, f9_peak_table  # noqa: E402
from simulations.sweep_results import sweep_results  # noqa: E402


def make(out_dir: Path, full: bool = False) -> list[Path]:
    results = sweep_results(f9_cnn_sweep(full))
    claims = f9_claims(results, eta_ref=CNN_ETA_REF, b_ref=B_REF)
    fig, axes = subplots(2, 3, width=3.9, height=3.3)
    configs, colors = scans(axes[0], results, eta_ref=CNN_ETA_REF, b_ref=B_REF)
    overshoot(axes[1, 0], results, configs, colors)
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
