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
# # Lesson 1: local entropy and the Moreau envelope
#
# Two Hamilton-Jacobi equations smooth a loss $f$ (THEORY.md sections 1-2):
#
# * viscous: $u_t = -\tfrac12 |\nabla u|^2 + \tfrac{1}{2\beta} \Delta u$, whose solution is the
#   **local entropy** $u(x,t) = -\beta^{-1} \log \big(G_{t/\beta} * e^{-\beta f}\big)(x)$ (Cole-Hopf);
# * non-viscous: $u_t = -\tfrac12 |\nabla u|^2$, whose solution is the **Moreau envelope**
#   $u(x,t) = \min_y f(y) + |x-y|^2/(2t)$ (Hopf-Lax).
#
# The HJ time $t$ is the *scope* of local entropy (Entropy-SGD's coupling is $1/t$); $\beta$ is the inverse
# temperature. We smooth a wiggly loss, check the exact solutions against a time stepper, and see why local
# entropy prefers a wide valley over a deeper narrow one.

# %% tags=["parameters"]
import os

QUICK = os.environ.get("PDE_SGD_QUICK", "0") == "1"  # CI and the docs build set PDE_SGD_QUICK=1
N_CELLS = 300 if QUICK else 1000

# %%
import matplotlib.pyplot as plt
import numpy as np

from pde_sgd import Grid, hj, landscapes
from pde_sgd.widgets import explore

grid = Grid(-3.0, 3.0, N_CELLS)
x = grid.axes[0]
f = landscapes.wiggly(seed=0).on_grid(grid)  # x^2 + 1.5 sin(2 pi x) + a seeded smooth perturbation

# %% [markdown]
# ## Smoothing a wiggly loss
# Move $\beta$ and $t$: the viscous solution (local entropy) fills the small wells and, at small $\beta$,
# rounds the loss like a heat flow; the Moreau envelope keeps $\min u = \min f$ and cuts the maxima into
# parabolas of curvature $1/t$. As $\beta \to \infty$ the two coincide.

# %%
def draw_smoothing(beta, t):
    u_visc = hj.local_entropy(f, grid, t, beta).u
    u_inv, _ = hj.moreau_envelope(f, grid, t)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(x, f, color="0.6", lw=1, label="f")
    ax.plot(x, u_visc, label=f"viscous (local entropy), beta = {beta:g}")
    ax.plot(x, u_inv, "--", label="non-viscous (Moreau envelope)")
    ax.set(xlabel="x", ylabel="value", ylim=(-2, 10), title=f"t = {t:g}")
    ax.legend(fontsize=8)
    plt.show()


explore(draw_smoothing, beta=(1.0, 50.0, 10.0, 1.0), t=(0.01, 1.0, 0.2, 0.01),
        static=[{"beta": 10.0, "t": 0.2}, {"beta": 2.0, "t": 0.2}, {"beta": 10.0, "t": 1.0}])

# %% [markdown]
# ## The exact solution against a time stepper
# `hj.local_entropy` is the exact Cole-Hopf solution on the grid; `hj.solve_viscous` integrates the PDE with
# WENO5 and TVD-RK3. Their difference shrinks as the grid is refined (second order).

# %%
beta, t = 10.0, 0.2
for n in (100, 200) if QUICK else (100, 200, 400):
    g = Grid(-3.0, 3.0, n)
    fg = landscapes.wiggly(seed=0).on_grid(g)
    exact = hj.local_entropy(fg, g, t, beta).u
    stepped = hj.solve_viscous(fg, g, beta, times=t)["u"][-1]
    inner = np.abs(g.axes[0]) < 2.0  # away from the no-flux walls
    print(f"n = {n:4d}: max |stepped - exact| = {np.abs(stepped - exact)[inner].max():.2e}")

# %% [markdown]
# ## Local entropy prefers the wide valley (Entropy-SGD fig. 2)
# `wide_narrow` has a wide valley at $x=-1$ and a deeper narrow one at $x = 1.5$. Gaussian smoothing of $f$
# weights both valleys by depth; local entropy weights by $e^{-\beta f}$ integrated over a neighbourhood of
# width $\sqrt{t/\beta}$, i.e. by the valley's *volume*, so its minimum moves to the wide valley.

# %%
g2 = Grid(-3.0, 3.5, 650 if QUICK else 2600)
x2 = g2.axes[0]
f2 = landscapes.wide_narrow().on_grid(g2)


def draw_valleys(beta, t):
    u = hj.local_entropy(f2, g2, t, beta).u
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(x2, f2, color="0.4", label=f"f: min at x = {x2[np.argmin(f2)]:.2f}")
    ax.plot(x2, u, label=f"local entropy: min at x = {x2[np.argmin(u)]:.2f}")
    ax.set(xlabel="x", ylim=(-1.5, 1.0), title=f"beta = {beta:g}, t = {t:g}")
    ax.legend(fontsize=8)
    plt.show()


explore(draw_valleys, beta=(0.5, 20.0, 5.0, 0.5), t=(0.01, 2.0, 0.1, 0.01),
        static=[{"beta": 5.0, "t": 0.1}, {"beta": 5.0, "t": 1.0}])

# %% [markdown]
# ## Entropy-SGD finds it
# Entropy-SGD is gradient descent on the local entropy: its slow variable follows
# $\dot X = -(X - \langle y \rangle)/\gamma$, with $\langle y \rangle$ the mean of the Gibbs measure
# $\propto e^{-\beta f(y) - \beta |X-y|^2/(2\gamma)}$ (lesson 3 shows this limit). At $\beta = 2$ a small
# scope $\gamma = 0.1$ still sees both valleys, and starts right of the barrier end in the narrow one; at
# $\gamma = 2$ the narrow valley's basin is gone from $u(\cdot, \gamma)$ and every start reaches the wide valley.

# %%
from pde_sgd import sde

L = landscapes.wide_narrow()
starts = np.array([[-0.2], [0.6], [1.2], [2.0]])
fig, axes = plt.subplots(1, 2, figsize=(8, 3), sharey=True)
for ax, gamma in zip(axes, (0.1, 2.0)):
    run = sde.homogenized(L, x0=starts, gamma=gamma, beta=2.0, T=25.0, n_saves=60)
    for k in range(starts.shape[0]):
        ax.plot(run["times"], run["x"][:, k, 0], label=f"start {starts[k, 0]:+.1f}")
    ax.axhline(-1.0, color="C2", ls=":", label="wide valley")
    ax.axhline(1.5, color="C3", ls=":", label="narrow valley")
    ax.set(xlabel="s", title=f"scope gamma = {gamma:g}, beta = 2")
    print(f"gamma = {gamma:g}: end points", np.round(run["x"][-1, :, 0], 2))
axes[0].set_ylabel("X(s)")
axes[1].legend(fontsize=7)
plt.show()
