"""Sharpness along and at the end of training (Jastrzebski et al.; THEORY.md sections 5 and 7).

- :func:`peak`: height and time of the peak of lambda_max(t) recorded along a run (after a running median of
  ``window`` records, so that one noisy iterate does not make the peak), and whether the run passed it.
- :func:`train_nudged`: mini-batch training with :class:`pde_sgd.optim.NudgedSGD` (step gamma * eta along the
  top-K Hessian eigenvectors of the mini-batch loss, eta along the rest) on a :class:`FlatModel`.
- :func:`endpoint_sharpness`: top-K Hessian eigenvalues (Lanczos) at the end point, the spectral norm lambda_1
  and the Frobenius norm of the top-K part sqrt(sum_{i<=K} lambda_i^2) (their Table 1).
"""
from __future__ import annotations

import copy

import numpy as np
import torch

from ..results import Result
from ..validation import finite_array, positive, positive_int
from .data import Dataset
from .hessian import top_pairs
from .models import FlatModel
from .sources import as_dataset


def peak(times: np.ndarray, values: np.ndarray, *, window: int = 3) -> dict:
    """The peak of ``values`` (recorded at increasing ``times``) after a centred running median of ``window``.

    Returns ``height`` and ``time`` of the maximum of the filtered curve, ``index``, ``time_resolution`` (half
    the gap between the records either side of the peak: the true peak time lies within about +- it), and
    ``passed``: the filtered curve ends at least 5% below the peak (a peak at the last record is no peak yet).
    """
    t = finite_array("times", times, ndim=1)
    v = finite_array("values", values, shape=t.shape)
    w = positive_int("window", window)
    if w % 2 == 0 or t.size < w:
        raise ValueError(f"window must be odd and <= the number of records ({t.size}), got {w}")
    h = w // 2
    padded = np.concatenate([np.full(h, v[0]), v, np.full(h, v[-1])])
    smooth = np.median(np.lib.stride_tricks.sliding_window_view(padded, w), axis=1)
    i = int(smooth.argmax())
    half_gap = 0.25 * (t[min(i + 1, t.size - 1)] - t[max(i - 1, 0)])
    return {"height": float(smooth[i]), "time": float(t[i]), "index": i, "time_resolution": float(half_gap),
            "passed": bool(smooth[-1] <= 0.95 * smooth[i]), "smoothed": smooth}


def train_nudged(model: FlatModel, data: Dataset, *, gamma: float, eta: float, batch_size: int, n_steps: int,
                 k: int = 5, update_every: int | None = None, n_iter: int | None = None,
                 seed: int = 0) -> torch.Tensor:
    """Nudged SGD from the model's initial parameters for ``n_steps`` steps; returns the final flat theta.

    Batches of ``batch_size`` drawn without replacement, fresh each step (torch Generator seeded by ``seed``);
    the top-``k`` eigenvectors are recomputed every ``update_every`` steps (default: once per epoch, N / B).
    ``gamma = 1`` is plain SGD. The model itself is not modified (a copy of its module is trained).
    """
    from ..optim import NudgedSGD
    B = data.checked_batch_size(batch_size)
    n_steps = positive_int("n_steps", n_steps, minimum=0)
    every = max(data.n // B, 1) if update_every is None else positive_int("update_every", update_every)
    module = copy.deepcopy(model.module)
    flat = FlatModel(module, model.weight_decay, model.config, loss=model.loss_spec)
    params = list(module.parameters())
    opt = NudgedSGD(params, lr=positive("eta", eta), gamma=positive("gamma", gamma), k=positive_int("k", k),
                    update_every=every, n_iter=n_iter, seed=seed)
    gen = torch.Generator(device="cpu").manual_seed(positive_int("seed", seed, minimum=0))
    for _ in range(n_steps):
        idx = data.batch_indices(B, gen)
        Xb, yb = data.X[idx], data.y[idx]
        opt.step(lambda: flat.loss(torch.cat([p.reshape(-1) for p in params]), Xb, yb))
    return flat.theta()


def endpoint_sharpness(model: FlatModel, theta: torch.Tensor, data: Dataset, *, k: int = 5,
                       n_iter: int | None = None, seed: int = 0) -> Result:
    """Top-``k`` Hessian eigenvalues of the loss on ``data`` (any source :func:`as_dataset` reads) at ``theta``.

    Returns Result ``"networks.endpoint_sharpness"`` with arrays ``eigenvalues`` (k,), ``spectral_norm``
    (0-d, max |lambda_i|) and ``frobenius_top_k`` (0-d, sqrt(sum_{i<=k} lambda_i^2)), params ``k``, ``seed``."""
    data = as_dataset(data)
    lam, _ = top_pairs(model, theta, data.X, data.y, k, n_iter=n_iter, seed=seed)
    lam = lam.cpu().numpy()
    return Result("networks.endpoint_sharpness",
                  {"eigenvalues": lam, "spectral_norm": np.array(np.abs(lam).max()),
                   "frobenius_top_k": np.array(np.sqrt(np.sum(lam ** 2)))},
                  {"k": k, "n_iter": n_iter, "seed": seed, "n_samples": data.n, "model": model.config})
