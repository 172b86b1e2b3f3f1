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
# # Lesson 2: SGD as an SDE and its Fokker-Planck equation
#
# SGD with learning rate $\eta$ and batch size $b$ is modelled by the Itô SDE
# $dX = -\nabla f(X)\,dt + \sqrt{2\beta^{-1} D(X)}\,dW$ with temperature $\beta^{-1} = \eta / (2b)$ and $D$
# the per-sample gradient covariance. Its density solves the Fokker-Planck equation
# $\rho_t = \nabla\cdot\big(\nabla f\,\rho + \beta^{-1} \nabla\cdot(D\rho)\big)$, whose steady state defines
# the potential $\Phi$: $\rho_{ss} \propto e^{-\beta\Phi}$ (THEORY.md section 3).
#
# * isotropic $D = I$: $\Phi = f$, SGD samples the Gibbs measure $e^{-\beta f}$;
# * anisotropic $D$: $\Phi \ne f$ — the most likely places of SGD are not the critical points of $f$ — and a
#   leftover current $j = -\nabla f + D\nabla\Phi - \beta^{-1}\nabla\cdot D$ remains, which can make SGD
#   circulate (limit cycles).

# %% tags=["parameters"]
import os

QUICK = os.environ.get("PDE_SGD_QUICK", "0") == "1"  # CI and the docs build set PDE_SGD_QUICK=1
N_PATHS = 2000 if QUICK else 20000
N_GRID = 48 if QUICK else 96

# %%
import matplotlib.pyplot as plt
import numpy as np

from pde_sgd import Grid, beta_from_sgd, landscapes, sde
from pde_sgd.fokker_planck import FokkerPlanck
from pde_sgd.widgets import explore

# %% [markdown]
# ## Temperature from the learning rate and the batch size
# Only the ratio $\eta/b$ enters the temperature: doubling both leaves $\beta$ unchanged.

# %%
for eta, b in [(0.1, 32), (0.2, 64), (0.1, 128), (0.4, 32)]:
    print(f"eta = {eta:4g}, b = {b:4d}:  beta = 2 b / eta = {beta_from_sgd(eta, b):7.1f}")

# %% [markdown]
# ## Isotropic noise: SGD samples exp(-beta f)
# An ensemble of the SDE on the 1-D double well against the Fokker-Planck steady state and the Gibbs density.

# %%
beta = 4.0
well = landscapes.double_well(1, tilt=0.1)
run = sde.simulate_sgd(well, 1.0, beta, [1.0], dt=0.01, n_steps=1500 if QUICK else 5000, n_paths=N_PATHS, seed=0)
g1 = Grid(-2.5, 2.5, 200)
rho_ss = FokkerPlanck(well, g1, beta=beta, D=1.0).steady_state()
gibbs = np.exp(-beta * well.on_grid(g1))
gibbs /= gibbs.sum() * g1.spacing[0]
fig, ax = plt.subplots(figsize=(6, 3))
ax.hist(run["x"][-1, :, 0], bins=60, range=(-2.5, 2.5), density=True, alpha=0.4, label="SDE ensemble")
ax.plot(g1.axes[0], rho_ss, label="Fokker-Planck steady state")
ax.plot(g1.axes[0], gibbs, "k:", label="exp(-beta f) / Z")
ax.set(xlabel="x", ylabel="density", title=f"isotropic D = 1, beta = {beta:g}")
ax.legend(fontsize=8)
plt.show()
print("max |rho_ss - Gibbs| / max Gibbs =", float(np.abs(rho_ss - gibbs).max() / gibbs.max()))

# %% [markdown]
# ## Anisotropic D: Phi is not f
# A constant $D = R(\theta)\,\mathrm{diag}(1, \epsilon)\,R(\theta)^T$ on the 2-D double well. Turn the principal
# axis ($\theta$) and change the anisotropy ($\epsilon$; $\epsilon = 1$ is isotropic): the steady state's modes
# (red circles) leave the minima of $f$ (white crosses), and $\Phi - f$ stops being constant.

# %%
f2 = landscapes.double_well(2, tilt=0.1)
g2 = Grid([-2.2, -1.8], [2.2, 1.8], [N_GRID, N_GRID])
X1, X2 = g2.coords
fv = f2.on_grid(g2)
minima_f = [r.real for r in np.roots([1.0, 0.0, -1.0, 0.1]) if abs(r.imag) < 1e-12 and 3 * r.real**2 - 1 > 0]


def rotated_D(theta, eps):
    c, s = np.cos(theta), np.sin(theta)
    R = np.array([[c, -s], [s, c]])
    return R @ np.diag([1.0, eps]) @ R.T


def draw_anisotropy(theta, eps):
    fp = FokkerPlanck(f2, g2, beta=beta, D=rotated_D(theta, eps))
    rho = fp.steady_state()
    phi = fp.potential()
    diff = np.where(rho > 1e-3 * rho.max(), phi - (fv - fv.min()), np.nan)
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    axes[0].pcolormesh(X1, X2, rho, shading="auto")
    axes[0].contour(X1, X2, fv, levels=8, colors="w", linewidths=0.4)
    for m in minima_f:
        axes[0].plot(m, 0.0, "wx")
    i = np.unravel_index(np.argmax(rho), rho.shape)
    axes[0].plot(X1[i], X2[i], "o", mfc="none", color="r", label="mode of rho_ss")
    axes[0].quiver(0, 1.3, np.cos(theta), np.sin(theta), color="y", pivot="mid", scale=6, label="principal axis of D")
    axes[0].set(title=f"rho_ss, theta = {theta:.2f}, eps = {eps:.2f}", xlabel="x1", ylabel="x2")
    axes[0].legend(fontsize=6, loc="lower left")
    im = axes[1].pcolormesh(X1, X2, diff - np.nanmin(diff), shading="auto", cmap="magma")
    fig.colorbar(im, ax=axes[1], label="Phi - f (bulk)")
    axes[1].set(title="Phi - f, where rho_ss > 1e-3 max", xlabel="x1")
    plt.show()


explore(draw_anisotropy, theta=(0.0, 3.1416, 0.7854, 0.05), eps=(0.05, 1.0, 0.1, 0.05),
        static=[{"theta": 0.7854, "eps": 1.0}, {"theta": 0.7854, "eps": 0.1}, {"theta": 2.3562, "eps": 0.1}])

# %% [markdown]
# ## The leftover current
# With $\Phi$ from the steady state, $j = -\nabla f + D\nabla\Phi - \beta^{-1}\nabla\cdot D$ need not vanish.
# The steady current $J_{ss} = j\rho_{ss}$ is divergence free; SGD-VI further assumes $\nabla\cdot j = 0$ — the
# package measures both.

# %%
fp = FokkerPlanck(f2, g2, beta=beta, D=rotated_D(np.pi / 4, 0.1))
lf = fp.leftover_field()
print(f"relative div j over the bulk:      {lf['div_j_rel']:.3f}")
print(f"relative j . grad Phi over the bulk: {lf['j_dot_grad_phi_rel']:.3f}")
step = max(1, N_GRID // 16)
sl = (slice(None, None, step), slice(None, None, step))
j = np.where(lf["bulk"][..., None], lf["j"], np.nan)
fig, ax = plt.subplots(figsize=(5, 3.4))
ax.contourf(X1, X2, fp.steady_state(), levels=12, cmap="Greys")
ax.quiver(X1[sl], X2[sl], j[sl][..., 0], j[sl][..., 1], color="C3")
ax.set(title="leftover field j over rho_ss (theta = pi/4, eps = 0.1)", xlabel="x1", ylabel="x2")
plt.show()

# %% [markdown]
# ## Limit cycles
# A linear drift $-(D + Q)X$ with $Q$ antisymmetric keeps the steady state $e^{-|x|^2/2}$ ($\beta = 1$) but the
# paths rotate: the spectrum of $x_1$ peaks at $|\mathrm{Im}\,\lambda(D+Q)| / 2\pi$. With $Q = 0$ there is no
# peak: gradient flow does not circulate.

# %%
D = np.diag([1.0, 0.2])
Q = np.pi * np.array([[0.0, 1.0], [-1.0, 0.0]])
n_steps = 20000 if QUICK else 100000
fig, axes = plt.subplots(1, 2, figsize=(8, 3))
for name, M in (("D + Q (Q = pi J)", D + Q), ("D (Q = 0)", D)):
    r = sde.simulate_sgd(landscapes.quadratic(np.eye(2)), D, 1.0, [0.0, 0.0], dt=0.01, n_steps=n_steps, n_paths=4,
                         seed=1,
                         precondition=M, n_saves=n_steps)
    x = r["x"][500:]
    freqs, power, _ = sde.power_spectrum(x[:, :, 0], 0.01, segment=2048)
    keep = (freqs > 0) & (freqs < 3)
    axes[0].plot(x[:600, 0, 0], x[:600, 0, 1], lw=0.5, label=name)
    axes[1].semilogy(freqs[keep], power[keep], label=name)
    nu = sde.rotation_frequency(M)
    print(f"{name}: predicted frequency {nu:.3f}"
          + (f", spectral peak {sde.peak_frequency(freqs[keep], power[keep]):.3f}" if nu > 0 else " (no rotation)"))
axes[0].set(title="one path (6 time units)", xlabel="x1", ylabel="x2", aspect="equal")
axes[1].axvline(sde.rotation_frequency(D + Q), color="k", ls=":", label="|Im lambda| / 2 pi")
axes[1].set(title="power spectrum of x1", xlabel="frequency")
axes[1].legend(fontsize=7)
plt.show()
