"""F9 (Jastrzebski et al.): the top Hessian eigenvalues along SGD training for several learning rates and batch sizes.

Digits MLP (one tanh layer of 32), Hessian of the loss on a fixed subset of 256 samples, top-2 eigenvalues by
Lanczos with full reorthogonalisation, at log-spaced steps; x-axis in epochs so that different batch sizes are
comparable. The expected pattern: lambda_max rises early to a peak set by eta and B (larger eta or smaller B:
smaller, earlier peak), then falls or levels off. Experiment: simulations/networks.py::hessian_along_training.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pde_sgd.plotting import save_figure, subplots  # noqa: E402
from simulations.networks import hessian_along_training  # noqa: E402


def make(out_dir: Path, full: bool = False) -> list[Path]:
    results = hessian_along_training(seed=0, full=full)
    fig, axes = subplots(1, 2, width=3.8, height=3.0)
    for r in results:
        p = r.params
        epochs = r["steps"] * p["batch_size"] / p["n_samples"]
        keep = epochs > 0  # log axis: step 0 is left out; the first recorded step is step 1
        label = f"η = {p['eta']}, B = {p['batch_size']} (η/B = {p['eta'] / p['batch_size']:.2g})"
        line, = axes[0, 0].plot(epochs[keep], r["eigenvalues"][keep, 0], marker="o", ms=2.5, label=label)
        axes[0, 0].plot(epochs[keep], r["eigenvalues"][keep, 1], ls="--", lw=0.8, color=line.get_color())
        axes[0, 1].plot(epochs[keep], r["loss"][keep], color=line.get_color(), label=label)
    axes[0, 0].set(xscale="log", xlabel="epoch", ylabel="top Hessian eigenvalues",
                   title="λ_max (solid) and λ_2 (dashed) along SGD")
    axes[0, 1].set(xscale="log", yscale="log", xlabel="epoch", ylabel="training loss",
                   title="loss (all 1797 digits)")
    axes[0, 1].legend(fontsize=7, loc="lower left")
    return save_figure(fig, out_dir, "fig_f9_hessian_along_training")


if __name__ == "__main__":
    make(Path(__file__).parent / "out")
