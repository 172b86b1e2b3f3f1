"""k small networks of one architecture trained at once: stacked flat parameters, torch.func vmap.

Model i has the flat parameters theta_i (row i of a (k, P) tensor), its own learning rate eta_i, momentum m_i
and batch stream (a torch Generator seeded with ``seeds[i]``, B samples drawn without replacement each step,
as in :func:`.training.sgd_iterates`). Heavy-ball momentum in torch's convention (``torch.optim.SGD``):

    v_{t+1} = m v_t + g_B(theta_t),   theta_{t+1} = theta_t - eta v_{t+1},   v_0 = 0,

so m = 0 is the plain SGD of :func:`.training.train`, and the noise scale is eta (N/B - 1) / (1 - m)
(``pde_sgd.noise_scale``). The k batch gradients are one ``vmap(grad(loss))`` call on the stacked
parameters and batches, so one step costs about as many kernel launches as one model's step; the result
equals k separate trainings up to floating-point summation order.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.func import grad, vmap
from tqdm.auto import tqdm

from ..validation import positive, positive_int
from .data import Dataset
from .models import FlatModel, build_model


def stack_models(name: str, data: Dataset, seeds: Sequence[int], **build_kw) -> tuple[FlatModel, torch.Tensor]:
    """One :class:`FlatModel` of the architecture and the (k, P) stack of its initialisations from ``seeds``.

    ``build_kw`` go to :func:`.models.build_model` (hidden, weight_decay, dtype, device...).
    """
    seeds = _seeds(seeds, None)
    models = [build_model(name, data, seed=s, **build_kw) for s in seeds]
    return models[0], torch.stack([m.theta() for m in models])


def train_batched(model: FlatModel, thetas: torch.Tensor, data: Dataset, *, eta: float | Sequence[float],
                  batch_size: int, n_steps: int, seeds: Sequence[int], momentum: float | Sequence[float] = 0.0,
                  progress: bool = False) -> torch.Tensor:
    """Train the k models ``thetas`` (k, P) together for ``n_steps``; returns their parameters (k, P).

    ``eta`` and ``momentum`` are one value for all models or one per model; ``seeds`` (k,) seed each model's
    batches. ``thetas`` is not modified. Raises ValueError for bad shapes or values, before any step.
    """
    k = _check_thetas(model, thetas)
    seeds = _seeds(seeds, k)
    eta_t = _per_model("eta", eta, k, thetas, lambda n, v: positive(n, v))
    mom_t = _per_model("momentum", momentum, k, thetas, _momentum)
    B = data.checked_batch_size(batch_size)
    n_steps = positive_int("n_steps", n_steps, minimum=0)
    gens = [torch.Generator(device="cpu").manual_seed(s) for s in seeds]
    grads = vmap(grad(model.loss))
    theta, velocity = thetas.detach().clone(), torch.zeros_like(thetas)
    for _ in tqdm(range(n_steps), disable=not progress, desc=f"SGD x{k}", leave=False):
        idx = torch.stack([data.batch_indices(B, g) for g in gens])
        velocity = mom_t * velocity + grads(theta, data.X[idx], data.y[idx])
        theta = theta - eta_t * velocity
    return theta


def batched_loss(model: FlatModel, thetas: torch.Tensor, data: Dataset) -> torch.Tensor:
    """The full-data loss of each of the k models, shape (k,)."""
    _check_thetas(model, thetas)
    with torch.no_grad():
        return vmap(model.loss, in_dims=(0, None, None))(thetas, data.X, data.y)


def batched_accuracy(model: FlatModel, thetas: torch.Tensor, data: Dataset) -> torch.Tensor:
    """The classification accuracy of each of the k models on ``data``, shape (k,)."""
    _check_thetas(model, thetas)
    with torch.no_grad():
        logits = vmap(model.logits, in_dims=(0, None))(thetas, data.X)
        return (logits.argmax(-1) == data.y).double().mean(1)


def _check_thetas(model: FlatModel, thetas: torch.Tensor) -> int:
    if not isinstance(thetas, torch.Tensor) or thetas.ndim != 2 or thetas.shape[1] != model.n_params \
            or thetas.shape[0] < 1:
        shape = tuple(thetas.shape) if isinstance(thetas, torch.Tensor) else type(thetas).__name__
        raise ValueError(f"thetas must be a tensor of shape (k >= 1, P={model.n_params}), got {shape}")
    return int(thetas.shape[0])


def _seeds(seeds: Sequence[int], k: int | None) -> list[int]:
    seeds = [positive_int("seeds", s, minimum=0) for s in seeds]
    if not seeds or (k is not None and len(seeds) != k):
        raise ValueError(f"seeds must hold one seed per model ({k if k is not None else '>= 1'}), got {len(seeds)}")
    return seeds


def _momentum(name: str, m: float) -> float:
    m = positive(name, m, allow_zero=True)
    if m >= 1:
        raise ValueError(f"{name} must be in [0, 1), got {m}")
    return m


def _per_model(name: str, value, k: int, like: torch.Tensor, check) -> torch.Tensor:
    """A scalar or k values, each checked, as a (k, 1) tensor of ``like``'s dtype and device."""
    values = [value] * k if isinstance(value, (int, float)) else list(value)
    if len(values) != k:
        raise ValueError(f"{name} must be one value or one per model (k={k}), got {len(values)} values")
    return torch.tensor([check(name, v) for v in values], dtype=like.dtype, device=like.device)[:, None]
