"""One call that checks the continuous-time theory of SGD on a user's model (THEORY.md section 3).

:func:`check_theory` measures, at parameters theta on N samples, with standard errors:

1. **Minibatch gradient covariance against D / B.** With per-sample gradients g_k, their mean g_bar and
   D = (1/N) sum_k (g_k - g_bar)(g_k - g_bar)^T (:mod:`.per_sample`), a batch of B samples drawn with
   replacement has gradient covariance D / B (without replacement D / B (N - B) / (N - 1)). ``n_batches``
   actual minibatch gradients (``torch.func.grad`` of the batch loss, not the per-sample ones) are projected
   on the top-``k`` eigenvectors v_i of D; the sample second moments about the exact mean, C_ij = mean over
   batches of (v_i . (g_B - g_bar)) (v_j . (g_B - g_bar)), are compared with lambda_i delta_ij / B. The
   standard error of each C_ij is the standard deviation of its per-batch products over sqrt(n_batches).
2. **Noise scale** B_noise = tr(D) / |g_bar|^2 (McCandlish et al. 2018, the "simple" noise scale; D is their
   per-example covariance Sigma). Its standard error is the jackknife over the N samples (leave one out,
   in closed form from the sums of g_k and |g_k|^2): the uncertainty of B_noise as an estimate of the
   population value from these N samples.
3. **SGD against the SDE.** :func:`.coupling.full_space_coupling`: the excess loss over noise-free gradient
   descent of SGD (eta, B) and of the SDE d theta = -grad f dt + sqrt(2 eta / (2 B)) L dW with D ~ L L^T,
   each with its standard error over chains, their z-score, and the locally quadratic prediction
   tr(D) eta / (4 B).

``agree`` in the params says whether each comparison is within ``z_max`` standard errors.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch.func import grad, vmap

from ..results import Result
from ..validation import positive, positive_int
from .coupling import full_space_coupling
from .models import FlatModel
from .per_sample import diffusion_from_grads, per_sample_grads
from .sources import as_dataset

BATCH_CHUNK = 64  # minibatch gradients evaluated together (memory ~ BATCH_CHUNK * B samples)


def minibatch_covariance(model: FlatModel, theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor,
                         basis: torch.Tensor, grad_mean: torch.Tensor, *, batch_size: int, n_batches: int,
                         replacement: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Second moments (k, k) of the projected minibatch-gradient deviations basis^T (g_B - grad_mean), and
    their standard errors, over ``n_batches`` seeded batches of ``batch_size`` samples."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    N = X.shape[0]
    batch_grad = vmap(grad(model.loss), in_dims=(None, 0, 0))
    prods = []
    for start in range(0, n_batches, BATCH_CHUNK):
        b = min(BATCH_CHUNK, n_batches - start)
        if replacement:
            idx = torch.randint(0, N, (b, batch_size), generator=gen)
        else:
            idx = torch.stack([torch.randperm(N, generator=gen)[:batch_size] for _ in range(b)])
        idx = idx.to(X.device)
        with torch.no_grad():
            p = (batch_grad(theta, X[idx], y[idx]) - grad_mean) @ basis  # (b, k)
        prods.append((p[:, :, None] * p[:, None, :]).cpu().numpy())
    prods = np.concatenate(prods)
    return prods.mean(0), prods.std(0, ddof=1) / math.sqrt(n_batches)


def noise_scale_jackknife(grads: torch.Tensor) -> tuple[float, float, float, float]:
    """B_noise = tr(D) / |g_bar|^2 from per-sample gradients (N, P), its jackknife standard error, tr(D) and
    |g_bar|^2. Leave-one-out: g_bar_(i) = (s - g_i) / (N - 1), tr D_(i) = (Q - q_i) / (N - 1) - |g_bar_(i)|^2
    with s = sum g_k, q_k = |g_k|^2, Q = sum q_k."""
    G = grads.double()
    N = G.shape[0]
    s, q = G.sum(0), (G * G).sum(1)
    gbar2 = float(s @ s) / N ** 2
    trace = float(q.sum()) / N - gbar2
    loo_g2 = (float(s @ s) - 2 * (G @ s) + q) / (N - 1) ** 2
    loo = ((q.sum() - q) / (N - 1) - loo_g2) / loo_g2
    se = math.sqrt((N - 1) / N * float(((loo - loo.mean()) ** 2).sum()))
    return trace / gbar2, se, trace, gbar2


def check_theory(model: FlatModel, data, theta: torch.Tensor | None = None, *, eta: float, batch_size: int,
                 k: int = 3, n_batches: int = 1000, replacement: bool = True, n_samples: int | None = None,
                 sde: bool = True, t_total: float = 5.0, n_chains: int = 8, n_saves: int = 20,
                 n_factor: int = 64, z_max: float = 4.0, seed: int = 0, chunk_size: int | None = None) -> Result:
    """Check the SDE picture of SGD on ``model`` at ``theta`` (default: its current parameters); see the module
    docstring.

    Parameters
    ----------
    data : tensors (X, y), a torch Dataset or DataLoader (read by :func:`as_dataset`, up to ``n_samples``).
    eta, batch_size : the SGD learning rate and batch size B (1 <= B <= N) the theory is checked for.
    k : number of top eigen-directions of D along which the minibatch covariance is compared.
    n_batches : minibatch gradients drawn (the covariance's relative standard error is about sqrt(2 / n_batches)).
    replacement : draw batches with replacement (covariance D / B) or without (D / B (N - B) / (N - 1)).
    sde : also run SGD against the SDE (:func:`.coupling.full_space_coupling`, needs float64) for SDE time
        ``t_total`` with ``n_chains`` chains, ``n_saves`` records over the second half and a rank-``n_factor``
        factor of D.
    z_max : the number of standard errors within which a comparison counts as agreeing.

    Returns
    -------
    Result ``"networks.theory_check"`` with arrays ``D_top`` (k,), ``minibatch_cov``, ``minibatch_cov_se``,
    ``predicted_cov`` (k, k) and, with ``sde``, ``excess_sgd``/``excess_sde`` (n_saves, n_chains); params
    ``covariance`` (per-direction ratio measured / predicted with its SE, the largest |z| on and off the
    diagonal), ``noise_scale`` (value, se, trace_D, grad_norm_sq), ``excess`` (SGD and SDE excess loss with
    SEs, their z, the quadratic prediction), ``agree`` and the run's settings.
    """
    eta, z_max = positive("eta", eta), positive("z_max", z_max)
    k, n_batches = positive_int("k", k), positive_int("n_batches", n_batches, minimum=2)
    data = as_dataset(data, n=n_samples, seed=seed)
    B = data.checked_batch_size(batch_size)
    theta = model.check_batch(model.theta() if theta is None else theta, data.X, data.y)
    if sde and theta.dtype != torch.float64:
        raise ValueError(f"sde=True needs float64 parameters (the torchsde bridge runs in float64), got "
                         f"{theta.dtype}; convert the model and data, or pass sde=False")
    with torch.no_grad():
        G = per_sample_grads(model, theta, data.X, data.y, chunk_size)
    fac = diffusion_from_grads(G, n_vectors=k)
    k = fac.eigenvectors.shape[1]
    lam = fac.eigenvalues[:k]
    cov, cov_se = minibatch_covariance(model, theta, data.X, data.y, fac.eigenvectors, fac.grad_mean,
                                       batch_size=B, n_batches=n_batches, replacement=replacement, seed=seed)
    finite_n = 1.0 if replacement else (data.n - B) / (data.n - 1)
    predicted = np.diag(lam.cpu().numpy().astype(np.float64)) * finite_n / B
    z = np.abs(cov - predicted) / np.where(cov_se > 0, cov_se, np.inf)
    off = ~np.eye(k, dtype=bool)
    diag = np.diag(predicted)
    covariance = {"ratio": (np.diag(cov) / diag).tolist(), "ratio_se": (np.diag(cov_se) / diag).tolist(),
                  "max_abs_z_diagonal": float(np.diag(z).max()),
                  "max_abs_z_off_diagonal": float(z[off].max()) if k > 1 else 0.0,
                  "replacement": replacement, "finite_population_factor": finite_n}
    b_noise, b_se, trace, g2 = noise_scale_jackknife(G)
    arrays = {"D_top": lam.cpu().numpy(), "minibatch_cov": cov, "minibatch_cov_se": cov_se,
              "predicted_cov": predicted}
    agree = {"covariance": max(covariance["max_abs_z_diagonal"], covariance["max_abs_z_off_diagonal"]) <= z_max}
    params = {"model": model.config, "data": {"name": data.name, **data.config}, "n_samples": data.n,
              "n_params": model.n_params, "eta": eta, "batch_size": B, "k": k, "n_batches": n_batches, "seed": seed,
              "z_max": z_max, "covariance": covariance,
              "noise_scale": {"value": b_noise, "se": b_se, "trace_D": trace, "grad_norm_sq": g2}}
    if sde:
        run = full_space_coupling(model, theta, data, [(eta, B)], t_total=t_total, n_chains=n_chains,
                                  n_factor=n_factor, n_saves=n_saves, seed=seed)
        row = run.params["summary"][0]
        s, d = row["sgd"], row["sde"]
        zx = (s["excess_mean"] - d["excess_mean"]) / math.sqrt(s["excess_mean_se"] ** 2 + d["excess_mean_se"] ** 2)
        params["excess"] = {"sgd": s["excess_mean"], "sgd_se": s["excess_mean_se"], "sde": d["excess_mean"],
                            "sde_se": d["excess_mean_se"], "z": zx, "predicted_quadratic": row["predicted_excess"],
                            "t_total": t_total, "n_chains": n_chains,
                            "factor_trace_fraction": run.params["factor_trace_fraction"]}
        arrays.update(excess_sgd=run["excess_sgd"][0], excess_sde=run["excess_sde"][0])
        agree["excess"] = abs(zx) <= z_max
    params["agree"] = agree
    return Result("networks.theory_check", arrays, params)
