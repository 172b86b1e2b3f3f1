"""Checks a model and a batch must pass before torch.func transforms them, with errors that say what to do.

``torch.func`` (``vmap``, ``grad``, ``jvp``) needs the loss to be a pure, deterministic function of the flat
parameters and the batch. The usual ways a user's model breaks that, and what :func:`check_batch` reports:

- BatchNorm in training mode (batch statistics mix the samples, and it updates its running buffers);
- dropout in training mode, or any other randomness in ``forward`` (vmap refuses random operations);
- a ``forward`` that changes a buffer (a counter, running statistics);
- data of another dtype or device than the parameters;
- for the built-in losses, targets that are not integer labels in [0, C).

The forward runs on at most :data:`CHECK_SAMPLES` samples (twice, under a forked RNG,
with the buffers restored), so the check costs a few forward passes whatever N.
"""
from __future__ import annotations

import torch
from torch import nn

CHECK_SAMPLES = 4  # samples run through the forward by check_batch (shape, purity and randomness checks)

EVAL_HINT = "call module.eval() first (per-sample gradients need a fixed, deterministic forward)"


def training_mode_layers(module: nn.Module) -> list[str]:
    """Names of BatchNorm and dropout submodules (with p > 0) that are in training mode."""
    bad = []
    for name, m in module.named_modules():
        if not m.training:
            continue
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            bad.append(f"{name or 'module'} ({type(m).__name__})")
        elif isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0:
            bad.append(f"{name or 'module'} ({type(m).__name__}, p={m.p})")
    return bad


def check_data(model: "FlatModel", theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> None:
    """Types, sample counts, finiteness, dtype and device of (X, y) against theta; labels of built-in losses."""
    for name, t in (("X", X), ("y", y)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}; pass data sources (a "
                            f"DataLoader, a torch Dataset) through pde_sgd.networks.as_dataset")
    if X.ndim == 0 or X.shape[0] == 0 or y.ndim == 0 or y.shape[0] != X.shape[0]:
        raise ValueError(f"X and y must hold the same number N >= 1 of samples along axis 0, got X "
                         f"{tuple(X.shape)} and y {tuple(y.shape)}")
    for name, t in (("X", X), ("y", y)):
        if t.is_floating_point() and t.dtype != theta.dtype:
            raise ValueError(f"{name} is {t.dtype} but the parameters are {theta.dtype}: convert the data "
                             f"({name}.to({theta.dtype}), or as_dataset(..., dtype=...)) or the model "
                             f"(module.to({t.dtype}))")
        if t.device != theta.device:
            raise ValueError(f"{name} is on {t.device} but the parameters are on {theta.device}: move one of them")
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} contains NaN or inf; all values must be finite")


def check_labels(y: torch.Tensor, n_outputs: int) -> None:
    """Integer class labels in [0, n_outputs), shape (N,), for the built-in classification losses."""
    if y.ndim != 1 or y.dtype not in (torch.int32, torch.int64) or int(y.min()) < 0 or int(y.max()) >= n_outputs:
        raise ValueError(f"y must hold integer class labels in [0, {n_outputs - 1}] of shape (N,) for the "
                         f"built-in losses, got {y.dtype} {tuple(y.shape)}"
                         + (f" in [{y.min().item()}, {y.max().item()}]" if y.numel() else "")
                         + "; for regression targets pass loss=torch.nn.MSELoss(reduction='none') or your own")


def check_forward(model: "FlatModel", theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> None:
    """Run the loss twice on a few samples: the same values to sqrt(eps) relative (no randomness; GPU reductions
    may differ in the last bits), unchanged buffers, shape (n,)."""
    Xs, ys = X[:CHECK_SAMPLES], y[:CHECK_SAMPLES]
    buffers = {n: b.detach().clone() for n, b in model.module.named_buffers()}
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[theta.device] if theta.is_cuda else []):
            first = model.sample_losses(theta, Xs, ys)
            second = model.sample_losses(theta, Xs, ys)
    except (RuntimeError, TypeError, IndexError) as exc:
        raise ValueError(f"the loss failed on the first {Xs.shape[0]} samples (X {tuple(X.shape)}, y "
                         f"{tuple(y.shape)} {y.dtype}): {exc}") from exc
    finally:
        changed = [n for n, b in model.module.named_buffers() if n in buffers and not torch.equal(b, buffers[n])]
        with torch.no_grad():
            for n, b in model.module.named_buffers():
                if n in buffers:
                    b.copy_(buffers[n])
    if changed:
        raise ValueError(f"forward changes the buffers {changed} (restored): the loss must be a pure function of "
                         f"the parameters; {EVAL_HINT}, or stop updating buffers in forward")
    bad = int((~torch.isfinite(first)).sum())
    if bad:
        raise ValueError(f"the loss is NaN or inf on {bad} of the first {Xs.shape[0]} samples at this theta (finite "
                         f"parameters, e.g. a run that diverged): per-sample gradients need finite losses")
    if not torch.allclose(first, second, rtol=torch.finfo(first.dtype).eps ** 0.5, atol=0):  # GPU reductions
        raise ValueError(f"forward is random (two calls gave different losses; dropout or sampling in forward?): "
                         f"{EVAL_HINT}, or make forward deterministic")


def check_batch(model: "FlatModel", theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """All checks of the module docstring, before any work; returns theta detached."""
    model.check_theta(theta)
    theta = theta.detach()
    bad = training_mode_layers(model.module)
    if bad:
        raise ValueError(f"the module has layers in training mode: {', '.join(bad)}; BatchNorm mixes the samples "
                         f"of a batch and dropout is random, neither of which per-sample gradients allow: "
                         f"{EVAL_HINT}")
    check_data(model, theta, X, y)
    if model.classifies:
        with torch.no_grad():
            check_labels(y, model.logits(theta, X[:1]).shape[-1])
    check_forward(model, theta, X, y)
    return theta
