"""Smith & Le's optimal batch size (THEORY.md sections 5 and 7): a wide one-hidden-layer ReLU network trained
with SGD + momentum at a constant learning rate, no regularisation, many models at once.

:func:`train_relu_models` trains k independent networks x -> W2 relu(W1 x + b1) + b2 at once
(:func:`pde_sgd.networks.batched.train_batched`, torch.func vmap): each model has its own initialisation seed,
its own stream of mini-batches (uniform without replacement, fresh each step), its own learning rate eps and
momentum m; all share the batch size B, the number of steps and the data. Momentum is PyTorch's form
v <- m v + g, w <- w - eps v, whose noise scale is g = eps (N/B - 1) / (1 - m) (:func:`pde_sgd.noise_scale`).

:func:`teacher_data` generates the classification data (so that N can exceed the 1797 digits): x ~ N(0, I_d),
label = argmax of a random one-hidden-layer tanh teacher's logits. :func:`optimal_batch` reads B_opt off a
curve of test accuracy against B with its bracket, :func:`bootstrap_optimal_batch` its distribution over
seeds; :func:`loglog_slope` fits log B_opt = a + s log x. :func:`models_noise_scale` measures McCandlish et
al.'s gradient noise scale B_noise = tr(Sigma) / |G|^2 of trained models, to set beside B_opt.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..validation import finite_array, positive, positive_int
from .batched import batched_accuracy, batched_loss, train_batched
from .data import Dataset, resolve_device, resolve_dtype
from .models import FlatModel


def teacher_data(n: int, *, dim: int = 16, n_classes: int = 10, teacher_hidden: int = 32, teacher_seed: int = 0,
                 seed: int = 0, dtype: str | torch.dtype = "float32", device: str | torch.device = "auto") -> Dataset:
    """``n`` samples x ~ N(0, I_dim) labelled by a fixed random teacher (seeded by ``teacher_seed``):
    y = argmax_c [V^T tanh(U^T x / sqrt(dim))]_c, U, V standard normal. ``seed`` draws the inputs."""
    n, dim = positive_int("n", n), positive_int("dim", dim)
    nc, th = positive_int("n_classes", n_classes, minimum=2), positive_int("teacher_hidden", teacher_hidden)
    t_rng = np.random.default_rng(positive_int("teacher_seed", teacher_seed, minimum=0))
    U, V = t_rng.standard_normal((dim, th)), t_rng.standard_normal((th, nc))
    X = np.random.default_rng(positive_int("seed", seed, minimum=0)).standard_normal((n, dim))
    y = (np.tanh(X @ U / np.sqrt(dim)) @ V).argmax(1)
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    cfg = {"n": n, "dim": dim, "n_classes": nc, "teacher_hidden": th, "teacher_seed": teacher_seed, "seed": seed}
    return Dataset(torch.as_tensor(X, dtype=dt, device=dev), torch.as_tensor(y, device=dev), nc, "teacher", cfg)


def relu_models(data: Dataset, seeds, *, hidden: int = 512) -> tuple[FlatModel, torch.Tensor]:
    """The network x -> W2 relu(W1 x + b1) + b2 (nn.Linear layers, cross-entropy, no weight decay) as a
    :class:`FlatModel`, and the (k, P) stack of its initialisations (nn.Linear defaults under each seed)."""
    d, H = int(np.prod(data.input_shape)), positive_int("hidden", hidden)
    thetas = []
    for s in seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(positive_int("seeds", int(s), minimum=0))
            module = nn.Sequential(nn.Flatten(), nn.Linear(d, H), nn.ReLU(), nn.Linear(H, data.n_classes))
        module = module.to(device=data.X.device, dtype=data.X.dtype)
        thetas.append(torch.cat([p.detach().reshape(-1) for p in module.parameters()]))
    return FlatModel(module, 0.0, {"model": "relu1", "hidden": H}), torch.stack(thetas)


def models_noise_scale(model: FlatModel, thetas: torch.Tensor, data: Dataset, *, n_samples: int | None = None,
                       seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The gradient noise scale B_noise = tr(Sigma) / |G|^2 (McCandlish et al. 2018; Sigma = the per-sample
    gradient covariance D, G the mean gradient) of each of the k models ``thetas`` (k, P), and its jackknife
    standard error (:func:`pde_sgd.networks.theory_check.noise_scale_jackknife`), on ``n_samples`` training
    samples drawn without replacement (seeded; all N if None or >= N). Returns two arrays of shape (k,).

    On n < N samples the plug-in |G|^2 (the subsample's mean gradient squared) exceeds the full-data |G|^2 by
    about tr(Sigma) / n (1 - n / N) on average, so where |G| is small (late in training) B_noise is biased down and
    capped near n: use all samples (n_samples=None) when B_noise may approach n."""
    from .per_sample import per_sample_grads
    from .theory_check import noise_scale_jackknife
    N = data.X.shape[0]
    n = N if n_samples is None else min(positive_int("n_samples", n_samples, minimum=2), N)
    idx = torch.as_tensor(np.sort(np.random.default_rng(seed).permutation(N)[:n]), device=data.X.device)
    X, y = data.X[idx], data.y[idx]
    out = np.array([noise_scale_jackknife(per_sample_grads(model, th, X, y))[:2] for th in thetas])
    return out[:, 0], out[:, 1]


def train_relu_models(train: Dataset, test: Dataset, *, batch_size: int, lrs, momenta, n_steps: int, seeds,
                      hidden: int = 512, noise_at=(), noise_samples: int = 1000) -> dict[str, np.ndarray]:
    """Train k = len(seeds) one-hidden-layer ReLU networks (width ``hidden``) at once with SGD + momentum
    (:func:`pde_sgd.networks.batched.train_batched`), no regularisation; model j uses lrs[j], momenta[j] and
    seeds[j] (initialisation and batches), all ``n_steps`` steps. Returns per model the test and train accuracy
    and the train cross-entropy at the end.

    ``noise_at``: fractions in (0, 1] of the run at which each model's B_noise (:func:`models_noise_scale`, on
    ``noise_samples`` training samples) is measured; returned as ``noise_scale`` and ``noise_scale_se``
    (len(noise_at), k) with ``noise_steps``. The state after s < n_steps steps is recomputed by a run of s steps
    from the same initialisations and batch seeds, which is the prefix of the full run (train_batched is
    deterministic and starts from zero velocity); each such checkpoint costs s more steps.

    A model whose parameters or training loss are not finite at the end has diverged: ``diverged`` (k,) marks
    it, its accuracies are 0 (it classifies nothing), its train cross-entropy is NaN, and so is its B_noise (and
    SE) at every checkpoint where its parameters or its training loss are not finite.
    """
    seeds = [positive_int("seeds", int(s), minimum=0) for s in np.asarray(seeds).reshape(-1)]
    n_steps = positive_int("n_steps", n_steps)
    fractions = [float(f) for f in noise_at]
    if any(not 0.0 < f <= 1.0 for f in fractions):
        raise ValueError(f"noise_at must hold fractions in (0, 1], got {noise_at!r}")
    model, thetas = relu_models(train, seeds, hidden=hidden)

    def run(steps):
        return train_batched(model, thetas, train, eta=[float(v) for v in np.asarray(lrs).reshape(-1)],
                             momentum=[float(v) for v in np.asarray(momenta).reshape(-1)], batch_size=batch_size,
                             n_steps=steps, seeds=seeds)
    theta = run(n_steps)
    loss = batched_loss(model, theta, train).double().cpu().numpy()
    diverged = ~torch.isfinite(theta).all(1).cpu().numpy() | ~np.isfinite(loss)
    out = {"test_accuracy": np.where(diverged, 0.0, batched_accuracy(model, theta, test).cpu().numpy()),
           "train_accuracy": np.where(diverged, 0.0, batched_accuracy(model, theta, train).cpu().numpy()),
           "train_cross_entropy": np.where(diverged, np.nan, loss), "diverged": diverged}
    if fractions:
        steps = [max(int(round(f * n_steps)), 1) for f in fractions]
        noise = [_finite_models_noise_scale(model, theta if s == n_steps else run(s), train, n_samples=noise_samples)
                 for s in steps]
        out.update(noise_scale=np.array([b for b, _ in noise]), noise_scale_se=np.array([e for _, e in noise]),
                   noise_steps=np.array(steps))
    return out


def _finite_models_noise_scale(model: FlatModel, thetas: torch.Tensor, data: Dataset, *,
                               n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`models_noise_scale` of the models whose parameters and training loss are finite; NaN for the others."""
    idx = torch.isfinite(thetas).all(1).nonzero().flatten()
    if idx.numel():
        idx = idx[torch.isfinite(batched_loss(model, thetas[idx], data))]
    b, se = np.full(thetas.shape[0], np.nan), np.full(thetas.shape[0], np.nan)
    if idx.numel():
        i = idx.cpu().numpy()
        b[i], se[i] = models_noise_scale(model, thetas[idx], data, n_samples=n_samples)
    return b, se


def optimal_batch(batch_sizes, accuracy) -> tuple[float, float, float]:
    """B_opt = the batch size of highest accuracy, and its bracket (the neighbouring batch sizes tried; at an
    end of the grid the bracket is open on that side and equals B_opt there)."""
    B = finite_array("batch_sizes", batch_sizes, ndim=1)
    a = finite_array("accuracy", accuracy, shape=B.shape)
    if B.size < 2 or np.any(np.diff(B) <= 0):
        raise ValueError(f"batch_sizes must be >= 2 increasing values, got {B}")
    i = int(a.argmax())
    return float(B[i]), float(B[max(i - 1, 0)]), float(B[min(i + 1, B.size - 1)])


def bootstrap_optimal_batch(batch_sizes, accuracy, *, n_boot: int = 2000, seed: int = 0) -> dict:
    """The distribution of B_opt under resampling the seeds: ``accuracy`` (n_B, n_seeds) holds each seed's
    accuracy at each batch size; each of ``n_boot`` replicates draws n_seeds seeds with replacement, averages
    their curves and takes the argmax. Returns ``B_opt`` (argmax of the mean curve), ``probability`` (n_B,)
    the fraction of replicates whose optimum is each B, ``ci95`` (the 2.5% and 97.5% quantiles of the
    replicates' B_opt, on the grid) and ``p_at_grid_end`` (the fraction at the first or last B)."""
    B = finite_array("batch_sizes", batch_sizes, ndim=1)
    a = finite_array("accuracy", accuracy, ndim=2)
    if a.shape[0] != B.size or a.shape[1] < 2:
        raise ValueError(f"accuracy must have shape (n_B={B.size}, n_seeds >= 2), got {a.shape}")
    if B.size < 2 or np.any(np.diff(B) <= 0):
        raise ValueError(f"batch_sizes must be >= 2 increasing values, got {B}")
    n_boot = positive_int("n_boot", n_boot, minimum=10)
    rng = np.random.default_rng(positive_int("seed", seed, minimum=0))
    picks = rng.integers(0, a.shape[1], size=(n_boot, a.shape[1]))
    best = a[:, picks].mean(2).argmax(0)                        # (n_boot,) index of each replicate's optimum
    prob = np.bincount(best, minlength=B.size) / n_boot
    lo, hi = np.quantile(B[best], [0.025, 0.975], method="inverted_cdf")
    return {"B_opt": float(B[int(a.mean(1).argmax())]), "probability": prob, "ci95": (float(lo), float(hi)),
            "p_at_grid_end": float(prob[0] + prob[-1])}


def loglog_slope(x, b_opt, lo, hi) -> dict:
    """Weighted least-squares fit log B_opt = a + s log x. Each point's uncertainty is its bracket: log B_opt
    uniform within [log lo, log hi] up to the grid, sd = (log hi - log lo) / (2 sqrt 3) (floored at 1e-3).
    Returns slope, its standard error and 95% interval (+- 1.96 SE), and chi^2 / dof of the fit."""
    lx, ly = np.log(finite_array("x", x, ndim=1)), np.log(finite_array("b_opt", b_opt, ndim=1))
    sd = np.maximum((np.log(finite_array("hi", hi, shape=lx.shape)) - np.log(finite_array("lo", lo, shape=lx.shape)))
                    / (2 * np.sqrt(3)), 1e-3)
    if lx.size < 2 or np.ptp(lx) == 0:
        raise ValueError(f"x must hold at least two distinct values, got {np.exp(lx)}")
    w = 1 / sd ** 2
    xm = np.sum(w * lx) / w.sum()
    sxx = np.sum(w * (lx - xm) ** 2)
    s = float(np.sum(w * (lx - xm) * ly) / sxx)
    a = float(np.sum(w * (ly - s * lx)) / w.sum())
    se = float(1 / np.sqrt(sxx))
    chi2 = float(np.sum(w * (ly - a - s * lx) ** 2))
    return {"slope": s, "se": se, "ci95": (s - 1.96 * se, s + 1.96 * se), "intercept": a,
            "chi2_per_dof": chi2 / max(lx.size - 2, 1), "n_points": int(lx.size)}
