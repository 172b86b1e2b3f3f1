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
# # Lesson 4: the gradient noise of a real network
#
# For SGD on a network with loss $f = \frac1N\sum_k f_k$, the diffusion matrix of lesson 2 is the per-sample
# gradient covariance $D(\theta) = \frac1N\sum_k \nabla f_k \nabla f_k^T - \nabla f\,\nabla f^T$
# (a mini-batch gradient has covariance $D/b$). We train a small MLP on scikit-learn's bundled digits
# (offline), capture $D$ — its spectrum, rank and mean ± std of the eigenvalues, which SGD-VI reports as
# highly non-isotropic — and look at a 2-D slice of the loss along the top Hessian eigenvectors, where the
# Fokker-Planck potential $\Phi$ of the projected $D(x)$ can be compared with $f$.

# %% tags=["parameters"]
import os

QUICK = os.environ.get("PDE_SGD_QUICK", "0") == "1"  # CI and the docs build set PDE_SGD_QUICK=1
N_SAMPLES = 500 if QUICK else None  # None: all 1797 digits
TRAIN_STEPS = 400 if QUICK else 3000
N_GRID = 15 if QUICK else 41

# %%
import matplotlib.pyplot as plt
import numpy as np

from pde_sgd import Grid, beta_from_sgd
from pde_sgd.fokker_planck import FokkerPlanck
from pde_sgd.networks import build_model, capture, digits, torch_threads, train
from pde_sgd.networks.slice import make_slice, suggest_extent

eta, B, seed = 0.1, 16, 0
with torch_threads(1):
    data = digits(N_SAMPLES, seed=seed)
    model = build_model("mlp", data, seed=seed, hidden=(16,))
    theta = train(model, data, eta=eta, batch_size=B, n_steps=TRAIN_STEPS, seed=seed)
print(f"{model.n_params} parameters, {data.n} samples, training accuracy {model.accuracy(theta, data):.3f}")

# %% [markdown]
# ## The spectrum of D
# All $P$ eigenvalues of $D$ (at most $N$ of them non-zero: $D$ is a covariance of $N$ gradients). The rank
# counts eigenvalues above $\lambda_{\max} P \varepsilon$ (machine epsilon).

# %%
with torch_threads(1):
    cap = capture(model, theta, data, eta=eta, batch_size=B, step=TRAIN_STEPS, seed=seed, k_hessian=2,
                  n_store=4, hessian_samples=256)
stats = cap.params["D_stats"]
ev = cap["D_eigenvalues"]
print(f"rank {stats['rank']} of {stats['n_params']} ({100 * stats['rank_fraction']:.1f}% of the dimension)")
print(f"eigenvalues: mean {stats['mean']:.2e} ± std {stats['std']:.2e}, lambda_max {stats['lambda_max']:.2e}")
print("top Hessian eigenvalues:", np.round(cap["H_eigenvalues"], 3))
fig, ax = plt.subplots(figsize=(6, 3))
ax.semilogy(np.arange(1, ev.size + 1), np.maximum(ev, 1e-30), ".", ms=2)
ax.axhline(stats["tolerance"], color="r", ls=":", label="rank threshold")
ax.set(xlabel="index", ylabel="eigenvalue of D", title="eigen-spectrum of the gradient noise D", ylim=(1e-20, None))
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## A slice: Phi against f
# The loss on the plane through $\theta$ spanned by the top two Hessian eigenvectors, the projected $D(x)$ on a
# grid, and the Fokker-Planck steady state at $\beta = 2b/\eta$ for SGD with $b = 1$. If $D$ were isotropic,
# $\Phi$ would equal $f$ up to a constant; the right panel shows how far it is.

# %%
eta_s, b_s = 0.05, 1
beta = beta_from_sgd(eta_s, b_s)
with torch_threads(1):
    sl, info = make_slice(model, theta, data, "hessian", hessian_samples=256, seed=seed)
    ext = suggest_extent(info["H_eigenvalues"], info["D0"], beta, n_std=6.0)
    grid = Grid(-ext, ext, (N_GRID, N_GRID))
    fields = sl.on_grid(grid)
fp = FokkerPlanck(fields["f"], grid, fields["D"], beta)
rho = fp.steady_state()
phi = fp.potential(rho)
f0 = fields["f"] - fields["f"].min()
X1, X2 = grid.coords
fig, axes = plt.subplots(1, 3, figsize=(11, 3.2), layout="constrained")
for ax, field, title in zip(axes, (f0, phi, phi - f0), ("f (shifted)", "Phi", "Phi - f")):
    im = ax.pcolormesh(X1, X2, field, shading="auto")
    fig.colorbar(im, ax=ax)
    ax.set(title=title, xlabel="Hessian direction 1", ylabel="Hessian direction 2")
plt.show()
print("projected D at the anchor:\n", np.round(info["D0"], 5))
