"""The instrument's controls for sharpness claims (THEORY.md section 8).

- :func:`edge_of_stability`: full-batch gradient descent theta <- theta - eta grad L(theta) with lambda_max
  (Lanczos on the full-data Hessian) recorded along the run. On a model that sharpens (MSE, no weight decay)
  lambda_max rises until it meets the stability edge 2/eta and then hovers there (Cohen et al., ICLR 2021).
  The run reports the plateau (median lambda_max over the last ``tail`` fraction of the records) and its
  ratio to 2/eta; a ratio near 1 shows that the sharpness tracker measures what the claims rely on.
- :func:`overshoot_curve`: Jastrzebski et al.'s test of SGD bouncing along the top eigenvector e_1 of the
  Hessian: with g_1 = (g_B . e_1) e_1 the mini-batch gradient's component along e_1, the mean relative loss
  change E_B[L(theta - alpha eta g_1)] / L(theta) - 1 for each alpha. It is negative for alpha < 1 and positive
  for alpha > 1 only when eta lambda_1 is large enough for a step to cross the valley along e_1
  (for a quadratic: Delta L = -s (G . e_1) + s^2 lambda_1 / 2 with s = alpha eta (g_B . e_1), G the full gradient).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.func import grad

from ..results import Result
from ..validation import finite_array, positive, positive_int
from ..verdicts import stability_edge
from .data import Dataset
from ..linalg import lanczos
from .hessian import hvp_fn
from .models import FlatModel
from .training import track_hessian

ALPHAS = (0.25, 0.5, 1.0, 2.0, 4.0)


def edge_of_stability(model: FlatModel, data: Dataset, *, eta: float, n_steps: int, record_every: int,
                      tail: float = 0.25, n_iter: int | None = None, seed: int = 0,
                      progress: bool = False) -> Result:
    """Full-batch GD with step ``eta`` for ``n_steps``; lambda_max recorded every ``record_every`` steps.

    Returns a Result ``networks.edge_of_stability`` with the arrays of
    :func:`pde_sgd.networks.track_hessian` (``steps``, ``eigenvalues`` (n_records, 1), ``loss``, ``accuracy``)
    and params ``edge`` = 2/eta, ``plateau`` (median of lambda_max over the last ``tail`` of the records),
    ``ratio`` = plateau / edge, ``spread`` (max - min over that tail, relative to the plateau) and the
    precondition record ``stability_edge`` (met when the plateau reaches 0.8 of the edge).
    """
    eta = positive("eta", eta)
    every = positive_int("record_every", record_every)
    n_steps = positive_int("n_steps", n_steps)
    tail = positive("tail", tail)
    if tail > 1 or n_steps // every < 4:
        raise ValueError(f"tail must be in (0, 1] and n_steps / record_every >= 4 records, got tail={tail}, "
                         f"n_steps={n_steps}, record_every={every}")
    run = track_hessian(model, data, eta=eta, batch_size=data.n, n_steps=n_steps,
                        record_steps=range(0, n_steps + 1, every), k=1, n_iter=n_iter, seed=seed,
                        progress=progress)
    lam = run.arrays["eigenvalues"][:, 0]
    last = lam[-max(2, int(round(tail * lam.size))):]
    plateau = float(np.median(last))
    edge = 2.0 / eta
    params = {**run.params, "edge": edge, "plateau": plateau, "ratio": plateau / edge, "tail": tail,
              "spread": float((last.max() - last.min()) / plateau),
              "stability_edge": stability_edge(plateau, eta).to_dict()}
    return Result("networks.edge_of_stability", run.arrays, params)


def _top_direction(model: FlatModel, theta: torch.Tensor, data: Dataset, n_iter: int | None, seed: int):
    lam, V = lanczos(hvp_fn(model, theta, data.X, data.y), model.n_params, 1, n_iter=n_iter, seed=seed,
                     dtype=theta.dtype, device=theta.device)
    return float(lam[0]), V[:, 0]


def overshoot_curve(model: FlatModel, theta: torch.Tensor, data: Dataset, *, eta: float, batch_size: int,
                    alphas: Sequence[float] = ALPHAS, n_batches: int = 32, hessian_samples: int | None = None,
                    n_iter: int | None = None, seed: int = 0) -> Result:
    """Mean relative loss change along the top eigenvector for steps alpha * eta * g_1 (see the module doc).

    e_1 is the top eigenvector of the Hessian of the loss on ``hessian_samples`` training samples (all if None);
    the loss L is the training loss on the same samples; ``n_batches`` mini-batches of ``batch_size`` drawn
    without replacement (torch Generator seeded by ``seed``) give the expectation and its standard error.
    Returns a Result ``networks.overshoot`` with arrays ``alphas``, ``relative_change`` (mean over batches),
    ``relative_change_se`` and params ``lambda_1``, ``eta_lambda_1``, ``loss``.
    """
    eta = positive("eta", eta)
    model.check_theta(theta)
    a = finite_array("alphas", alphas, ndim=1)
    if a.size == 0 or np.any(a <= 0):
        raise ValueError(f"alphas must be a non-empty list of positive numbers, got {list(alphas)}")
    n_batches = positive_int("n_batches", n_batches, minimum=2)
    B = data.checked_batch_size(batch_size)
    sub = data if hessian_samples is None else data.subset(hessian_samples, seed)
    theta = theta.detach()
    lam1, e1 = _top_direction(model, theta, sub, n_iter, seed)
    grad_fn = grad(model.loss)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    steps = torch.as_tensor(a, dtype=theta.dtype, device=theta.device)
    with torch.no_grad():
        L0 = float(model.loss(theta, sub.X, sub.y))
    changes = np.empty((n_batches, a.size))
    for b in range(n_batches):
        idx = data.batch_indices(B, gen)
        g1 = torch.dot(grad_fn(theta, data.X[idx], data.y[idx]), e1)
        with torch.no_grad():
            for j, s in enumerate(steps):
                changes[b, j] = float(model.loss(theta - s * eta * g1 * e1, sub.X, sub.y)) / L0 - 1.0
    params = {"eta": eta, "batch_size": B, "n_batches": n_batches, "hessian_samples": sub.n, "seed": seed,
              "lambda_1": lam1, "eta_lambda_1": eta * lam1, "loss": L0, "model": model.config,
              "data": {"name": data.name, **data.config}}
    return Result("networks.overshoot", {"alphas": a, "relative_change": changes.mean(0),
                                         "relative_change_se": changes.std(0, ddof=1) / np.sqrt(n_batches)},
                  params)
