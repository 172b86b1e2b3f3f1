"""Plain mini-batch SGD on a flat parameter vector, and quantities tracked along it.

theta_{t+1} = theta_t - eta * g_B(theta_t), g_B the mean gradient of a batch of B samples drawn uniformly
without replacement (fresh each step) from the N training samples. In the SDE picture one step is a time
eta, and beta^-1 = eta / (2 B) (``pde_sgd.beta_from_sgd``).
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.func import grad
from tqdm.auto import tqdm

from ..results import Result
from ..validation import positive, positive_int
from .data import Dataset
from .hessian import top_pairs
from .models import FlatModel
from .sources import as_dataset


def sgd_iterates(model: FlatModel, theta0: torch.Tensor, data: Dataset, *, eta: float, batch_size: int,
                 n_steps: int, seed: int, progress: bool = False,
                 project: torch.Tensor | None = None) -> Iterator[tuple[int, torch.Tensor, torch.Tensor | None]]:
    """Yield ``(t, theta_t, g_t)`` for t = 0..n_steps; g_t is the batch gradient that produced theta_t (None at 0).

    ``project`` (P, k) with orthonormal columns constrains SGD to theta0 + span(project): the batch gradient is
    replaced by its projection B B^T g (SGD on the k-dimensional slice). Batches come from a torch Generator
    seeded by ``seed``; ``theta0`` is not modified. Arguments are checked when called, not on first use.
    """
    eta = positive("eta", eta)
    model.check_theta(theta0, "theta0")
    data = as_dataset(data)
    model.check_batch(theta0, data.X, data.y)
    n_steps = positive_int("n_steps", n_steps, minimum=0)
    B = data.checked_batch_size(batch_size)
    if project is not None and (project.ndim != 2 or project.shape[0] != model.n_params):
        raise ValueError(f"project must have shape ({model.n_params}, k), got {tuple(project.shape)}")
    return _iterates(model, theta0, data, eta, B, n_steps, positive_int("seed", seed, minimum=0), progress, project)


def _iterates(model, theta0, data, eta, B, n_steps, seed, progress, project):
    gen = torch.Generator(device="cpu").manual_seed(seed)
    grad_fn = grad(model.loss)
    theta = theta0.detach().clone()
    yield 0, theta, None
    for t in tqdm(range(1, n_steps + 1), disable=not progress, desc="SGD", leave=False):
        idx = data.batch_indices(B, gen)
        g = grad_fn(theta, data.X[idx], data.y[idx])
        if project is not None:
            g = project @ (project.T @ g)
        theta = theta - eta * g
        yield t, theta, g


def train(model: FlatModel, data: Dataset, *, eta: float, batch_size: int, n_steps: int, seed: int,
          theta0: torch.Tensor | None = None, progress: bool = False) -> torch.Tensor:
    """Run SGD for ``n_steps`` from ``theta0`` (default: the model's initial parameters); returns theta."""
    theta = model.theta() if theta0 is None else theta0
    for _, theta, _ in sgd_iterates(model, theta, data, eta=eta, batch_size=batch_size, n_steps=n_steps,
                                    seed=seed, progress=progress):
        pass
    return theta


def track_hessian(model: FlatModel, data: Dataset, *, eta: float, batch_size: int, n_steps: int,
                  record_steps: Sequence[int], k: int = 3, hessian_samples: int | None = None,
                  n_iter: int | None = None, seed: int = 0, progress: bool = False,
                  return_theta: bool = False) -> Result | tuple[Result, torch.Tensor]:
    """Top-``k`` Hessian eigenvalues (Lanczos) at ``record_steps`` of one SGD run (Jastrzebski et al.).

    The Hessian is that of the loss on a fixed seeded subset of ``hessian_samples`` training samples (all of
    them if None). Returns a Result ``networks.hessian_track`` with arrays ``steps``, ``eigenvalues``
    (n_records, k), ``loss`` (full-data loss) and ``accuracy`` at those steps (NaN for regression targets);
    with ``return_theta`` the pair (Result, theta after ``n_steps``), theta equal to :func:`train`'s with the
    same arguments (the run is not repeated to get it).
    """
    rec = sorted(set(int(s) for s in record_steps))
    if not rec or rec[0] < 0 or rec[-1] > n_steps:
        raise ValueError(f"record_steps must lie in [0, n_steps={n_steps}], got {list(record_steps)}")
    data = as_dataset(data)
    sub = data if hessian_samples is None else data.subset(hessian_samples, seed)
    steps, evals, losses, accs = [], [], [], []
    theta = model.theta()
    for t, theta, _ in sgd_iterates(model, theta, data, eta=eta, batch_size=batch_size, n_steps=n_steps,
                                    seed=seed, progress=progress):
        if t in rec:
            lam, _ = top_pairs(model, theta, sub.X, sub.y, k, n_iter=n_iter, seed=seed)
            steps.append(t)
            evals.append(lam.cpu().numpy())
            with torch.no_grad():
                losses.append(float(model.loss(theta, data.X, data.y)))
            accs.append(model.accuracy(theta, data) if data.n_classes else np.nan)
    params = {"model": model.config, "data": {"name": data.name, **data.config}, "eta": eta,
              "batch_size": batch_size, "n_steps": n_steps, "k": k, "hessian_samples": sub.n, "seed": seed,
              "n_samples": data.n,
              "device": str(data.X.device)}
    res = Result("networks.hessian_track", {"steps": np.array(steps), "eigenvalues": np.array(evals),
                                            "loss": np.array(losses), "accuracy": np.array(accs)}, params)
    return (res, theta) if return_theta else res
