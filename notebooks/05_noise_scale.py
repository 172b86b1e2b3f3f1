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
# # Lesson 5: the noise scale and the optimal batch size
#
# Smith & Le: the SGD noise scale is $g = \eta\,(N/B - 1) \approx \eta N / B$ (with momentum $m$:
# $\eta N / (B(1-m))$); the test accuracy peaks at a batch size $B_{\rm opt} \propto \eta N$. In the SDE
# picture of lesson 2 the temperature is $\beta^{-1} = \eta / (2B)$: only the ratio $\eta/B$ sets the noise.
# We check that on a quadratic finite sum, where the stationary spread of discrete mini-batch SGD is known
# exactly, and then measure the test accuracy against $B$ on a small digits network.

# %% tags=["parameters"]
import os

QUICK = os.environ.get("PDE_SGD_QUICK", "0") == "1"  # CI and the docs build set PDE_SGD_QUICK=1
N_CHAINS = 400 if QUICK else 4000
TRAIN_STEPS = 300 if QUICK else 3000
BATCHES = (2, 8, 32, 128, 512) if QUICK else (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000)

# %%
import matplotlib.pyplot as plt
import numpy as np

from pde_sgd import noise_scale, sde
from pde_sgd.widgets import explore

# %% [markdown]
# ## The noise scale
# Move $\eta$ and $B$ (with $N = 1000$ samples, momentum 0 and 0.9): equal $\eta/B$, equal noise.

# %%
def draw_noise_scale(eta, momentum):
    Bs = np.arange(1, 1001)
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.loglog(Bs, [noise_scale(eta, 1000, int(b), momentum) + 1e-12 for b in Bs], label="g = eta (N/B - 1)/(1 - m)")
    ax.loglog(Bs, eta * 1000 / Bs / (1 - momentum), "--", label="eta N / (B (1 - m))")
    ax.set(xlabel="batch size B", ylabel="noise scale g", title=f"eta = {eta:g}, momentum = {momentum:g}, N = 1000",
           ylim=(1e-2, 1e5))
    ax.legend(fontsize=8)
    plt.show()


explore(draw_noise_scale, eta=(0.01, 2.0, 0.1, 0.01), momentum=(0.0, 0.95, 0.0, 0.05),
        static=[{"eta": 0.1, "momentum": 0.0}, {"eta": 0.1, "momentum": 0.9}])

# %% [markdown]
# ## Only eta / B matters: discrete SGD on a quadratic finite sum
# $f = \frac1N \sum_k |x - a_k|^2/2$: with batches drawn with replacement the stationary covariance of SGD is
# exactly $\eta D / (B(2 - \eta))$, $D$ the covariance of the anchors; the SDE predicts $\beta^{-1} D = \eta D/(2B)$,
# correct to first order in $\eta$. Pairs with the same $\eta/B$ have the same spread.

# %%
problem = sde.QuadraticFiniteSum.random(200, 2, seed=0)
D = problem.diffusion()
print(f"trace D = {np.trace(D):.3f}")
print(" eta     B   eta/B   measured tr Cov   exact SGD   SDE (eta/2B)")
for eta, B in [(0.05, 4), (0.1, 8), (0.2, 16), (0.1, 32), (0.4, 32)]:
    run = sde.minibatch_sgd(problem, eta, B, problem.mean, n_steps=4000, n_chains=N_CHAINS, seed=1)
    measured = np.trace(np.cov(run["x"][-1].T))
    exact = eta * np.trace(D) / (B * (2 - eta))
    print(f"{eta:4g} {B:5d} {eta / B:7.4f} {measured:14.5f} {exact:11.5f} {eta * np.trace(D) / (2 * B):11.5f}")

# %% [markdown]
# The measured traces carry a sampling error of about $\sqrt{2/n_{\rm chains}}$ relative. The rows with
# $\eta/B = 0.0125$ share the SDE's prediction; discrete SGD's spread grows with $\eta$ by the factor
# $2/(2-\eta)$ that the SDE (a first-order model in $\eta$) leaves out.
#
# ## Test accuracy against the batch size
# A one-hidden-layer MLP on 1000 digits (the other 797 are the test set), plain SGD at $\eta = 0.5$ for a fixed
# number of steps, for several $B$. Smith & Le predict a peak at $B_{\rm opt} \propto \eta N$; whether one shows
# here, in this small setting, is what the run measures (the quick setting trains briefly, so large batches
# that see more data per step can simply win).

# %%
import torch

from pde_sgd.networks import Dataset, build_model, digits, torch_threads, train

data = digits(seed=0)
perm = torch.as_tensor(np.random.default_rng(0).permutation(data.n))
tr, te = perm[:1000], perm[1000:]
train_set = Dataset(data.X[tr], data.y[tr], 10, "digits", {"split": "train", "seed": 0})
test_set = Dataset(data.X[te], data.y[te], 10, "digits", {"split": "test", "seed": 0})
eta = 0.5
accs = []
with torch_threads(1):
    for B in BATCHES:
        model = build_model("mlp", train_set, seed=0, hidden=(32,))
        theta = train(model, train_set, eta=eta, batch_size=B, n_steps=TRAIN_STEPS, seed=0)
        accs.append(model.accuracy(theta, test_set))
        print(f"B = {B:4d}: noise scale {noise_scale(eta, train_set.n, B):8.2f}, test accuracy {accs[-1]:.3f}")
best = BATCHES[int(np.argmax(accs))]
fig, ax = plt.subplots(figsize=(6, 3))
ax.semilogx(BATCHES, accs, "o-")
ax.axvline(best, color="r", ls=":", label=f"best measured B = {best}")
ax.set(xlabel="batch size B", ylabel="test accuracy", title=f"digits MLP, eta = {eta}, {TRAIN_STEPS} steps")
ax.legend(fontsize=8)
plt.show()
