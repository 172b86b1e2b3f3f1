"""Sharpness along and at the end of training (Jastrzebski et al.; THEORY.md sections 5 and 7).

- :func:`peak`: height and time of the peak of lambda_max(t) recorded along a run (after a running median of
  ``window`` records, so that one noisy iterate does not make the peak), and whether the run passed it.
- :func:`train_nudged`: mini-batch training with :class:`pde_sgd.optim.NudgedSGD` (step gamma * eta along the
  top-K Hessian eigenvectors, recomputed each epoch on a fixed subset, eta along the rest) on a
  :class:`FlatModel`, with eta decayed when the train loss has :func:`plateaued`, until a target loss.
- :func:`endpoint_sharpness`: top-K Hessian eigenvalues (Lanczos) at the end point, the spectral norm lambda_1
  and the Frobenius norm of the top-K part sqrt(sum_{i<=K} lambda_i^2) (their Table 1).
"""
from __future__ import annotations

import copy
from collections.abc import Sequence

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


def plateaued(losses: Sequence[float], *, patience: int = 3, min_drop: float = 0.01) -> bool:
    """Whether the train loss has plateaued (the rule that decays eta in :func:`train_nudged`).

    ``losses`` are the train losses recorded once per epoch since eta last changed (the first is the loss when
    it changed). With l = losses and p = ``patience``: at least p + 1 records and
    min(l[-p:]) > (1 - ``min_drop``) * min(l[:-p]), i.e. the last p epochs lowered the best loss by less than
    the fraction ``min_drop``.
    """
    p = positive_int("patience", patience)
    drop = positive("min_drop", min_drop)
    if drop >= 1:
        raise ValueError(f"min_drop must be in (0, 1), got {drop}")
    lo = finite_array("losses", losses, ndim=1)
    return bool(lo.size > p and lo[-p:].min() > (1.0 - drop) * lo[:-p].min())


def train_nudged(model: FlatModel, data: Dataset, *, gamma: float, eta: float, batch_size: int,
                 max_epochs: int, k: int = 5, hessian_data: Dataset | None = None, target_loss: float | None = None,
                 decay: float = 0.1, patience: int = 5, min_drop: float = 0.01, max_decays: int = 2,
                 snapshot_epoch: int | None = None, n_iter: int | None = None, seed: int = 0) -> dict:
    """Nudged SGD from the model's initial parameters, epoch by epoch, with eta decayed at plateaus.

    An epoch is N // B steps, each on a fresh batch of ``batch_size`` drawn without replacement (torch Generator
    seeded by ``seed``). The top-``k`` eigenvectors are recomputed at the start of every epoch from the Hessian
    of the loss on ``hessian_data`` (the paper: a fixed subset of >= 5% of the training data; None: the
    mini-batch of that step). After each epoch the full train loss is recorded; when the losses since eta last
    changed have :func:`plateaued` (``patience``, ``min_drop``), eta <- ``decay`` * eta (the epoch is recorded;
    at most ``max_decays`` times).
    Training stops once the train loss is <= ``target_loss`` or after ``max_epochs``. ``gamma = 1`` is plain SGD.
    The model itself is not modified (a copy of its module is trained).

    Returns a dict: ``theta`` (final), ``theta_snapshot`` (after epoch ``snapshot_epoch``, or the final theta if
    training ended before it or it is None), ``loss`` (max_epochs + 1 at most: before training and after each
    epoch), ``eta`` (the step used in each epoch), ``decay_epochs`` (epochs after which eta decayed), ``epochs`` run and ``reached`` (the target).
    """
    from ..optim import NudgedSGD
    B = data.checked_batch_size(batch_size)
    max_epochs = positive_int("max_epochs", max_epochs)
    decay = positive("decay", decay)
    if decay >= 1:
        raise ValueError(f"decay must be in (0, 1), got {decay}")
    target = -np.inf if target_loss is None else positive("target_loss", target_loss)
    plateaued([1.0], patience=patience, min_drop=min_drop)            # checks the rule's arguments now
    max_decays = positive_int("max_decays", max_decays, minimum=0)
    snap = None if snapshot_epoch is None else positive_int("snapshot_epoch", snapshot_epoch)
    module = copy.deepcopy(model.module)
    flat = FlatModel(module, model.weight_decay, model.config, loss=model.loss_spec)
    params = list(module.parameters())

    def theta() -> torch.Tensor:
        return torch.cat([p.reshape(-1) for p in params])
    hessian_loss = None if hessian_data is None else (lambda: flat.loss(theta(), hessian_data.X, hessian_data.y))
    per_epoch = max(data.n // B, 1)
    opt = NudgedSGD(params, lr=positive("eta", eta), gamma=positive("gamma", gamma), k=positive_int("k", k),
                    update_every=per_epoch, n_iter=n_iter, seed=seed, hessian_loss=hessian_loss)
    gen = torch.Generator(device="cpu").manual_seed(positive_int("seed", seed, minimum=0))

    def full_loss() -> float:
        with torch.no_grad():
            return float(flat.loss(theta(), data.X, data.y))
    losses, etas, decays, since, snapshot = [full_loss()], [], [], 0, None
    for epoch in range(1, max_epochs + 1):
        etas.append(opt.param_groups[0]["lr"])
        for _ in range(per_epoch):
            idx = data.batch_indices(B, gen)
            Xb, yb = data.X[idx], data.y[idx]
            opt.step(lambda: flat.loss(theta(), Xb, yb))
        losses.append(full_loss())
        if epoch == snap:
            snapshot = theta().detach().clone()
        if losses[-1] <= target:
            break
        if len(decays) < max_decays and plateaued(losses[since:], patience=patience, min_drop=min_drop):
            opt.param_groups[0]["lr"] *= decay
            decays.append(epoch)
            since = epoch
    final = flat.theta()
    return {"theta": final, "theta_snapshot": final if snapshot is None else snapshot,
            "loss": np.array(losses), "eta": np.array(etas), "decay_epochs": np.array(decays, dtype=int),
            "epochs": len(etas), "reached": bool(losses[-1] <= target)}


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
