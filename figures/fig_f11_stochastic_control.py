"""F11: stochastic control view of SGD (THEORY.md section 1) on the 1-D double well.

Left: the HJB value function u(x, s) at several times (u(., T) = V = (x - 1)^2). Middle: the optimal feedback
alpha*(x, s) = u_x. Right: the distribution of V(x(T)) from x0 = -1 under plain SGD and under optimally
controlled SGD (same Brownian paths), with E V, E V + 1/2 E∫alpha*^2 = J(alpha*), u(x0, 0) from the HJB
solve and the Feynman-Kac estimate. Experiment: simulations/sde.py::stochastic_control.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pde_sgd.plotting import save_figure, subplots  # noqa: E402
from simulations.sde import stochastic_control  # noqa: E402


def make(out_dir: Path, full: bool = False) -> list[Path]:
    r = stochastic_control(seed=0, full=full)
    x, ts, u, alpha = r["x"], r["hjb_times"], r["u"], r["alpha"]
    inner = np.abs(x) <= 2.5
    fig, ax = subplots(1, 3, width=3.6, height=3.0)
    for frac in (0.0, 0.5, 0.9, 1.0):
        k = int(round(frac * (len(ts) - 1)))
        ax[0, 0].plot(x[inner], u[k, inner], label=f"s = {ts[k]:.2f}")
    ax[0, 0].set(xlabel="x", ylabel="u(x, s)", title="HJB value function")
    ax[0, 0].legend()
    im = ax[0, 1].pcolormesh(x[inner], ts, alpha[:, inner], cmap="RdBu_r", shading="auto",
                             vmin=-np.abs(alpha[:, inner]).max(), vmax=np.abs(alpha[:, inner]).max())
    fig.colorbar(im, ax=ax[0, 1], label="alpha*(x, s) = u_x")
    ax[0, 1].set(xlabel="x", ylabel="s", title="optimal control")
    p = r.params
    bins = np.linspace(0, np.quantile(r["V_sgd"], 0.995), 60)
    a = ax[0, 2]
    a.hist(r["V_sgd"], bins=bins, density=True, alpha=0.6, label=f"SGD: E V = {r['V_sgd'].mean():.3f}")
    a.hist(r["V_controlled"], bins=bins, density=True, alpha=0.6,
           label=f"controlled: E V = {r['V_controlled'].mean():.3f}")
    a.axvline(r["J"].mean(), color="k", ls="--", label=f"J(alpha*) = {r['J'].mean():.3f}")
    a.axvline(p["u0"], color="r", ls=":", label=f"u(x0, 0) = {p['u0']:.3f} (FK {p['feynman_kac']:.3f})")
    a.set(xlabel="V(x(T))", ylabel="density", title=f"terminal cost from x0 = {p['x0']:g}", yscale="log")
    a.legend(fontsize=8)
    return save_figure(fig, out_dir, "fig_f11_stochastic_control")


if __name__ == "__main__":
    make(Path(__file__).parent / "out")
