# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 3: homogenization — Entropy-SGD and Elastic-SGD are gradient descent on the local entropy
#
# Entropy-SGD is a fast/slow system (THEORY.md section 4): the slow variable $x$ is pulled towards a fast
# Langevin variable $y$ that explores $f$ near $x$,
#
# $$dx = -\gamma^{-1}(x - y)\,ds, \qquad
#   dy = -\epsilon^{-1}\big[\nabla f(y) + \gamma^{-1}(y - x)\big]\,ds + \sqrt{2\beta^{-1}/\epsilon}\,dW.$$
#
# Elastic-SGD couples $n$ replicas $y^k$ to $x$ the same way. As $\epsilon \to 0$ both converge to the
# deterministic $dX = -\gamma^{-1}(X - \langle y\rangle)\,ds = -\nabla f_\gamma(X)\,ds$: gradient descent on the
# local entropy $f_\gamma = u(\cdot, \gamma)$ of lesson 1, with the sup-error shrinking like $\epsilon^{1/2}$.

# %% tags=["parameters"]
import os

QUICK = os.environ.get("PDE_SGD_QUICK", "0") == "1"  # CI and the docs build set PDE_SGD_QUICK=1
EPS_LIST = [1e-1, 3e-2, 1e-2] if QUICK else [1e-1, 3e-2, 1e-2, 3e-3, 1e-3]
N_PATHS = 8 if QUICK else 32

# %%
import matplotlib.pyplot as plt
import numpy as np

from pde_sgd import Grid, hj, landscapes, sde
from pde_sgd.widgets import explore

f = landscapes.double_well(1, tilt=0.1)
x0, gamma, beta, T = [1.8], 0.5, 10.0, 1.5

# %% [markdown]
# ## The limit: gradient descent on the local entropy
# Move the scope $\gamma$ and $\beta$: the local entropy $f_\gamma$ (exact Cole-Hopf on a grid) and the path of
# the homogenized dynamics from $x_0 = 1.8$.

# %%
grid = Grid(-2.5, 2.5, 500)
xg = grid.axes[0]
fv = f.on_grid(grid)


def draw_limit(gamma, beta):
    u = hj.local_entropy(fv, grid, gamma, beta).u
    H = sde.homogenized(f, beta, x0, gamma=gamma, T=4.0, n_saves=80)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    axes[0].plot(xg, fv, color="0.5", label="f")
    axes[0].plot(xg, u, label=f"f_gamma (gamma = {gamma:g}, beta = {beta:g})")
    axes[0].plot(H["x"][-1, 0, 0], np.interp(H["x"][-1, 0, 0], xg, u), "ko", label="X(4)")
    axes[0].set(xlabel="x", ylim=(-0.6, 1.5))
    axes[0].legend(fontsize=7)
    axes[1].plot(H["times"], H["x"][:, 0, 0])
    axes[1].set(xlabel="s", ylabel="X(s)", title="dX = -grad f_gamma(X) ds")
    plt.show()


explore(draw_limit, gamma=(0.05, 3.0, 0.5, 0.05), beta=(1.0, 30.0, 10.0, 1.0),
        static=[{"gamma": 0.5, "beta": 10.0}, {"gamma": 2.0, "beta": 10.0}])

# %% [markdown]
# ## Entropy-SGD and Elastic-SGD as epsilon shrinks
# One path of each system per $\epsilon$ against the homogenized path (black), then the mean sup-error over
# the ensemble with two standard errors, on log-log axes, with the fitted slope (theory: 1/2).

# %%
H = sde.homogenized(f, beta, x0, gamma=gamma, T=T, n_saves=150)
errors = {}
fig, axes = plt.subplots(1, 3, figsize=(11, 3))
for ax, n_rep in zip(axes[:2], (1, 8)):
    errs = []
    for k, eps in enumerate(EPS_LIST):
        r = sde.elastic_sgd(f, beta, x0, gamma=gamma, eps=eps, T=T, dt=0.01 * eps, n_paths=N_PATHS, seed=10 + k,
                            n_replicas=n_rep, n_saves=150)
        e = np.abs(r["x"] - H["x"]).max(axis=(0, 2))
        errs.append((e.mean(), e.std(ddof=1) / np.sqrt(e.size)))
        ax.plot(r["times"], r["x"][:, 0, 0], lw=0.8, label=f"eps = {eps:g}")
    errors[n_rep] = np.array(errs)
    ax.plot(H["times"], H["x"][:, 0, 0], "k--", lw=1.5, label="homogenized")
    ax.set(title="Entropy-SGD (1 replica)" if n_rep == 1 else f"Elastic-SGD ({n_rep} replicas)", xlabel="s")
    ax.legend(fontsize=7)
for n_rep, e in errors.items():
    slope = np.polyfit(np.log(EPS_LIST), np.log(e[:, 0]), 1)[0]
    axes[2].errorbar(EPS_LIST, e[:, 0], yerr=2 * e[:, 1], marker="o", capsize=2,
                     label=f"{n_rep} replica(s): slope {slope:.2f}")
    print(f"{n_rep} replica(s): sup-errors {np.round(e[:, 0], 4)}, fitted slope {slope:.2f} (theory 0.5)")
axes[2].set(xscale="log", yscale="log", xlabel="eps", ylabel="E sup |x_eps - X|", title="homogenization error")
axes[2].legend(fontsize=7)
plt.show()

# %% [markdown]
# More replicas average the fast noise: the error constant drops with $n$ while the rate in $\epsilon$ stays.
# The figure `fig_f10_homogenization` (`pde-sgd figures --only fig_f10`) runs the same experiment with more
# paths, replica counts and smaller $\epsilon$.
