"""Smith & Le's optimal batch size (THEORY.md sections 5 and 7): a wide one-hidden-layer ReLU network trained
with SGD + momentum at a constant learning rate, no regularisation, many models at once.

:func:`train_relu_models` trains k independent networks x -> W2^T relu(W1^T x + b1) + b2 in one batched
computation (``torch.bmm`` over a leading model axis): each model has its own initialisation seed, its own
stream of mini-batches (a torch Generator per model: uniform without replacement, fresh each step), its own
learning rate eps, momentum m and number of steps; all share the batch size B and the data. Momentum is
PyTorch's form v <- m v + g, w <- w - eps v, whose noise scale is g = eps (N/B - 1) / (1 - m)
(:func:`pde_sgd.noise_scale`). A model trained alone or in a group gets the same batches and initial weights.

:func:`teacher_data` generates the classification data (so that N can exceed the 1797 digits): x ~ N(0, I_d),
label = argmax of a random one-hidden-layer tanh teacher's logits. :func:`optimal_batch` reads B_opt off a
curve of test accuracy against B with its bracket; :func:`loglog_slope` fits log B_opt = a + s log x.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..validation import finite_array, positive, positive_int
from .data import Dataset, resolve_device, resolve_dtype


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


def _init(seeds, d, hidden, n_classes, dtype, device):
    """Per-model nn.Linear default initialisations, stacked: W1 (k, d, H), b1 (k, 1, H), W2 (k, H, C), b2 (k, 1, C)."""
    parts = []
    for s in seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(s))
            l1, l2 = nn.Linear(d, hidden), nn.Linear(hidden, n_classes)
        parts.append((l1.weight.T, l1.bias[None], l2.weight.T, l2.bias[None]))
    return [torch.stack([p[i] for p in parts]).detach().to(device=device, dtype=dtype).requires_grad_(True)
            for i in range(4)]


def _logits(params, X):
    W1, b1, W2, b2 = params
    return torch.baddbmm(b2, torch.relu(torch.baddbmm(b1, X, W1)), W2)


def train_relu_models(train: Dataset, test: Dataset, *, batch_size: int, lrs, momenta, n_steps, seeds,
                      hidden: int = 512) -> dict[str, np.ndarray]:
    """Train k = len(seeds) one-hidden-layer ReLU networks (width ``hidden``) with SGD + momentum, no
    regularisation; model j uses lrs[j], momenta[j], n_steps[j] and seeds[j]. Returns per model the test and
    train accuracy and the train cross-entropy at its last step."""
    lr = finite_array("lrs", lrs, ndim=1)
    k = lr.size
    mom, steps = finite_array("momenta", momenta, shape=(k,)), np.asarray(n_steps)
    if np.any(lr <= 0):
        raise ValueError(f"lrs must be > 0, got {lr}")
    if np.any((mom < 0) | (mom >= 1)):
        raise ValueError(f"momenta must be in [0, 1), got {mom}")
    if steps.shape != (k,) or not np.issubdtype(steps.dtype, np.integer) or np.any(steps < 1):
        raise ValueError(f"n_steps must be {k} integers >= 1, got {n_steps!r}")
    seeds = [positive_int("seeds", int(s), minimum=0) for s in np.asarray(seeds).reshape(-1)]
    if len(seeds) != k:
        raise ValueError(f"seeds must have {k} entries (one per model), got {len(seeds)}")
    B, N = positive_int("batch_size", batch_size), train.n
    if B > N:
        raise ValueError(f"batch_size must be in [1, N={N}], got {B}")
    dev, dt = train.X.device, train.X.dtype
    X, y = train.X.reshape(N, -1), train.y
    params = _init(seeds, X.shape[1], positive_int("hidden", hidden), train.n_classes, dt, dev)
    bufs = [torch.zeros_like(p) for p in params]
    gens = [torch.Generator(device="cpu").manual_seed(s) for s in seeds]
    shape = (k, 1, 1)
    lr_t, mom_t = (torch.as_tensor(a, dtype=dt, device=dev).reshape(shape) for a in (lr, mom))
    steps_t = torch.as_tensor(steps, device=dev).reshape(shape)
    for t in range(int(steps.max())):
        idx = torch.stack([torch.randperm(N, generator=g)[:B] for g in gens]).to(dev)
        loss = nn.functional.cross_entropy(_logits(params, X[idx]).reshape(k * B, -1), y[idx].reshape(-1),
                                           reduction="sum") / B      # sum over models of each model's mean loss
        grads = torch.autograd.grad(loss, params)
        active = (steps_t > t).to(dt)
        with torch.no_grad():
            for p, g, v in zip(params, grads, bufs):
                v.mul_(mom_t).add_(g)
                p.sub_(active * lr_t * v)
    with torch.no_grad():
        def evaluate(data):
            logits = _logits(params, data.X.reshape(1, data.n, -1).expand(k, -1, -1))
            acc = (logits.argmax(-1) == data.y).double().mean(1)
            ce = nn.functional.cross_entropy(logits.transpose(1, 2), data.y.expand(k, -1), reduction="none").mean(1)
            return acc.cpu().numpy(), ce.double().cpu().numpy()
        test_acc, _ = evaluate(test)
        train_acc, train_ce = evaluate(train)
    return {"test_accuracy": test_acc, "train_accuracy": train_acc, "train_cross_entropy": train_ce}


def optimal_batch(batch_sizes, accuracy) -> tuple[float, float, float]:
    """B_opt = the batch size of highest accuracy, and its bracket (the neighbouring batch sizes tried; at an
    end of the grid the bracket is open on that side and equals B_opt there)."""
    B = finite_array("batch_sizes", batch_sizes, ndim=1)
    a = finite_array("accuracy", accuracy, shape=B.shape)
    if B.size < 2 or np.any(np.diff(B) <= 0):
        raise ValueError(f"batch_sizes must be >= 2 increasing values, got {B}")
    i = int(a.argmax())
    return float(B[i]), float(B[max(i - 1, 0)]), float(B[min(i + 1, B.size - 1)])


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
