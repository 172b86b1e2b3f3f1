"""F10 (Deep Relaxation): Entropy-SGD and Elastic-SGD converge to the homogenized dynamics as ε → 0.

Left: x_eps(s) (one path each) for eps in {1e-1, 1e-2, 1e-3} with 1 replica (Entropy-SGD) and 32 replicas
(Elastic-SGD) on the tilted 1-D double well (gamma = 0.5, beta = 10), against dX = -grad f_gamma(X) ds (black).
Right: the sup-error E sup_s |x_eps(s) - X(s)| (with 2 SE bars) against eps on log-log axes, for 1, 2, 8 and
32 replicas, with the fitted slopes (theory: 1/2). Experiment: simulations/sde.py::homogenization.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pde_sgd.plotting import save_figure, subplots  # noqa: E402
from simulations.sde import homogenization  # noqa: E402


def make(out_dir: Path, full: bool = False) -> list[Path]:
    r = homogenization(seed=0, full=full)
    t, eps, reps = r["times"], r["eps"], r["replicas"]
    fig, ax = subplots(1, 3, width=3.6, height=3.0)
    for k, (i, title) in enumerate([(0, "Entropy-SGD (1 replica)"), (3, "Elastic-SGD (32 replicas)")]):
        a = ax[0, k]
        for j, e in enumerate(eps):
            if e in (1e-1, 1e-2, 1e-3):
                a.plot(t, r["paths"][i, j], lw=1.0, label=f"ε = {e:g}")
        a.plot(t, r["X"], "k--", lw=1.6, label="homogenized X(s)")
        a.set(title=title, xlabel="s", ylabel="x(s)")
        a.legend()
    a = ax[0, 2]
    for i, n in enumerate(reps):
        a.errorbar(eps, r["sup_error"][i], yerr=2 * r["sup_error_se"][i], marker="o", ms=3, capsize=2,
                   label=f"{n} replica{'s' if n > 1 else ''}: slope {r['slopes'][i]:.2f}")
    a.plot(eps, r["sup_error"][0, 0] * np.sqrt(eps / eps[0]), "k:", label="$\\epsilon^{1/2}$")
    a.set(xscale="log", yscale="log", xlabel="ε", ylabel="$E \\sup_s |x_\\epsilon - X|$", title="homogenization error")
    a.legend(fontsize=8)
    return save_figure(fig, out_dir, "fig_f10_homogenization")


if __name__ == "__main__":
    make(Path(__file__).parent / "out")
