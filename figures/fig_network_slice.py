"""The real-network slice: f, Φ, ρ_ss, the SDE histogram and SGD iterates; and SGD vs SDE in full space.

Digits MLP (one tanh layer of 16, trained by SGD), 2-D slice theta0 + x1 b1 + x2 b2 along the top two Hessian
eigenvectors. Top: f with ellipses of the projected gradient-noise matrix D(x) (from per-sample gradients);
Phi = -beta^-1 log rho_ss of the Fokker-Planck steady state with that D(x) (solid) over f (dashed), both
shifted to min 0; rho_ss. Bottom: histogram of the SGD SDE with the real D(x) (torchsde, Euler-Maruyama);
iterates of SGD restricted to the slice on the actual network over the contours of rho_ss, at eta = 0.05,
B = 1 (beta = 2B/eta); and, in the full parameter space, the excess loss over noise-free gradient descent of
SGD and of the SDE with the low-rank factor of D, for two (eta, B) pairs with the same noise scale eta N / B
and one with a 4x smaller one (bars: mean +- standard error over chains; line: beta^-1 tr D / 2).
Experiment: simulations/networks.py::network_coupling.
"""
import sys
from pathlib import Path

import numpy as np
from matplotlib.patches import Ellipse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pde_sgd.plotting import save_figure, subplots  # noqa: E402
from simulations.networks import network_coupling  # noqa: E402


def _ellipses(ax, grid, D, every, scale):
    for i in range(every // 2, grid.shape[0], every):
        for j in range(every // 2, grid.shape[1], every):
            lam, V = np.linalg.eigh(D[i, j])
            w, h = 2 * scale * np.sqrt(np.clip(lam, 0, None))
            ang = np.degrees(np.arctan2(V[1, 1], V[0, 1]))
            ax.add_patch(Ellipse((grid.axes[0][i], grid.axes[1][j]), h, w, angle=ang, fill=False, color="w", lw=0.7))


def make(out_dir: Path, full: bool = False) -> list[Path]:
    res = network_coupling(seed=0, full=full)
    c = res["coupling"]
    p = c.params
    grid = p["grid"]
    X, Y = grid.coords
    ext = [grid.lower[0], grid.upper[0], grid.lower[1], grid.upper[1]]
    fig, axes = subplots(2, 3, width=3.4, height=3.0)
    f = c["f"] - c["f"].min()
    ax = axes[0, 0]
    im = ax.contourf(X, Y, f, levels=20, cmap="viridis")
    fig.colorbar(im, ax=ax, label="f - min f")
    every = max(grid.shape[0] // 5, 1)
    _ellipses(ax, grid, c["D"], every, 0.45 * every * grid.spacing[0] / np.sqrt(c["D"].max()))
    ax.set(xlim=ext[:2], ylim=ext[2:])
    ax.set_title("loss f on the slice, ellipses of D(x)")
    ax = axes[0, 1]
    levels = np.linspace(0, np.percentile(f, 60), 9)
    ax.contour(X, Y, c["phi"] - c["phi"].min(), levels=levels, cmap="plasma")
    ax.contour(X, Y, f, levels=levels, colors="k", linestyles="--", linewidths=0.7)
    d = p["phi_vs_f"]
    ax.set_title(f"Φ (solid) vs f (dashed): rel. RMS {d['relative_rms']:.2f}", fontsize=9)
    ax = axes[0, 2]
    im = ax.imshow(c["rho_ss"].T, origin="lower", extent=ext, aspect="auto", cmap="magma")
    fig.colorbar(im, ax=ax, label="ρ_ss")
    ax.set_title(f"Fokker-Planck steady state (β = {p['beta']:.0f})")
    ax = axes[1, 0]
    im = ax.imshow(c["sde_hist"].T, origin="lower", extent=ext, aspect="auto", cmap="magma")
    fig.colorbar(im, ax=ax, label="density")
    ax.set_title(f"torchsde SDE, {p['n_chains']} paths")
    ax = axes[1, 1]
    s = c["sgd_x"].reshape(-1, 2)
    s = s[np.random.default_rng(0).choice(len(s), min(len(s), 3000), replace=False)]
    ax.scatter(s[:, 0], s[:, 1], s=1.5, alpha=0.4, color="tab:blue", label="SGD iterates")
    cs = ax.contour(X, Y, c["rho_ss"], levels=c["rho_ss"].max() * np.array([0.01, 0.1, 0.5]), colors="k",
                    linewidths=0.7)
    cs.clabel(fmt={lv: f"{lv / c['rho_ss'].max():g} max ρ_ss" for lv in cs.levels}, fontsize=8)
    cmp = p["sde_vs_sgd"]
    ax.set_title(f"SGD on the slice; SDE vs SGD |z| ≤ {max(cmp['max_z_mean'], cmp['max_z_cov']):.1f}", fontsize=9)
    ax.legend(loc="upper right", fontsize=8)
    m = p["moments"]["fp"]
    half = 4.5 * np.sqrt(np.diag(np.asarray(m["cov"])))
    zoom = np.asarray(m["mean"]) - half, np.asarray(m["mean"]) + half
    for a in list(axes[0]) + list(axes[1, :2]):
        a.set(xlabel="x1 (top Hessian eigenvector)", ylabel="x2 (2nd eigenvector)")
    for a in list(axes[0, 1:]) + list(axes[1, :2]):  # zoom on the mass of rho_ss (+- 4.5 std)
        a.set(xlim=(zoom[0][0], zoom[1][0]), ylim=(zoom[0][1], zoom[1][1]))
    ax = axes[1, 2]
    summ = res["full"].params["summary"]
    xs = np.arange(len(summ))
    for k, (name, col) in enumerate((("sgd", "tab:blue"), ("sde", "tab:orange"))):
        ax.bar(xs + (k - 0.5) * 0.35, [r[name]["excess_mean"] for r in summ], 0.35,
               yerr=[r[name]["excess_mean_se"] for r in summ], color=col, label=name.upper(), capsize=2)
    for x, r in zip(xs, summ):
        ax.hlines(r["predicted_excess"], x - 0.4, x + 0.4, color="k", lw=1.2,
                  label="β⁻¹ tr D / 2" if x == 0 else None)
    ax.set_xticks(xs, [f"η={r['eta']}, B={r['batch_size']}\nηN/B={r['noise_scale_approx']:.0f}" for r in summ], fontsize=8)
    ax.set(ylabel="excess loss over GD", title="full parameter space: SGD vs SDE")
    ax.legend(fontsize=8)
    return save_figure(fig, out_dir, "fig_network_slice")


if __name__ == "__main__":
    make(Path(__file__).parent / "out")
