"""A user's data as a :class:`~pde_sgd.networks.data.Dataset`: tensors, a torch ``Dataset`` or a ``DataLoader``.

The tools here need the whole sample (X, y) at once (per-sample gradients over N samples, the Hessian of the
mean loss), so a data source is read once into two tensors:

- tensors or arrays ``(X, y)`` are taken as they are (numpy arrays become tensors);
- a ``torch.utils.data.DataLoader`` is iterated and its batches ``(x, y)`` are concatenated until ``n``
  samples are read (all of them if ``n`` is None). The iteration runs under a forked global RNG seeded with
  ``seed``, so a shuffling loader without its own generator gives the same samples for the same seed (and the
  caller's RNG is left as it was);
- a ``torch.utils.data.Dataset`` (map-style or iterable) is read in order, the first ``n`` samples.

Targets may be integer class labels (N,) or float regression targets of any shape (N, ...).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset
from torch.utils.data import IterableDataset

from ..validation import positive_int
from .data import Dataset, resolve_device, resolve_dtype

READ_BATCH = 256  # samples per batch when a torch Dataset is read through a plain DataLoader


def _tensor(name: str, value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {type(value).__name__}")


def _pair(batch: Any, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise ValueError(f"{where} must yield (inputs, targets) pairs, got {type(batch).__name__}"
                         + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
                         + "; wrap it so that it does (e.g. a collate_fn returning (x, y))")
    return _tensor("inputs", batch[0]), _tensor("targets", batch[1])


def read_loader(loader: DataLoader, n: int | None, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenate the loader's batches until ``n`` samples (all if None), under a forked RNG seeded by ``seed``."""
    xs, ys, got = [], [], 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for batch in loader:
            x, y = _pair(batch, "the DataLoader")
            xs.append(x)
            ys.append(y)
            got += x.shape[0]
            if n is not None and got >= n:
                break
    if not xs:
        raise ValueError("the DataLoader yielded no batches")
    X, Y = torch.cat(xs), torch.cat(ys)
    if n is not None and X.shape[0] < n:
        raise ValueError(f"n must be in [1, {X.shape[0]}] (the samples the DataLoader holds), got {n}")
    return (X, Y) if n is None else (X[:n], Y[:n])


def as_dataset(data: Any, y: Any = None, *, n: int | None = None, seed: int = 0,
               dtype: str | torch.dtype | None = None, device: str | torch.device | None = None,
               name: str = "user") -> Dataset:
    """The samples of ``data`` as a :class:`Dataset` (see the module docstring).

    Parameters
    ----------
    data : a :class:`Dataset` (returned as is, or its seeded subset of ``n``), tensors/arrays ``X`` with ``y``
        given, a pair ``(X, y)``, a torch ``DataLoader`` or a torch ``Dataset``.
    n : number of samples to read (a DataLoader's batches are concatenated up to it); None: all.
    seed : seed of the forked RNG a DataLoader is iterated under (and of a :class:`Dataset`'s subset).
    dtype : float type to convert floating inputs and targets to (``"float32"``/``"float64"``); None: as given.
    device : where the tensors go (``"auto"``, ``"cpu"``, ``"cuda"``); None: where they are.

    Returns
    -------
    Dataset with ``n_classes`` the number of classes when the targets are integer labels (N,), else 0.
    """
    n = None if n is None else positive_int("n", n)
    if isinstance(data, Dataset) and y is None:
        return data if n is None else data.subset(n, seed)
    if y is not None:
        X, Y = _tensor("X", data), _tensor("y", y)
    elif isinstance(data, (tuple, list)):
        X, Y = _pair(data, "data")
    elif isinstance(data, DataLoader):
        X, Y = read_loader(data, n, seed)
    elif isinstance(data, (TorchDataset, IterableDataset)):
        X, Y = read_loader(DataLoader(data, batch_size=READ_BATCH, shuffle=False), n, seed)
    else:
        raise TypeError(f"data must be a pde_sgd Dataset, tensors (X, y), a torch DataLoader or a torch Dataset; "
                        f"got {type(data).__name__}")
    if X.ndim == 0 or X.shape[0] == 0 or Y.ndim == 0 or Y.shape[0] != X.shape[0]:
        raise ValueError(f"inputs and targets must hold the same number N >= 1 of samples along axis 0, got "
                         f"{tuple(X.shape)} and {tuple(Y.shape)}")
    if n is not None:
        if n > X.shape[0]:
            raise ValueError(f"n must be in [1, {X.shape[0]}], got {n}")
        X, Y = X[:n], Y[:n]
    if dtype is not None:
        dt = resolve_dtype(dtype)
        X, Y = (t.to(dt) if t.is_floating_point() else t for t in (X, Y))
    if device is not None:
        dev = resolve_device(device)
        X, Y = X.to(dev), Y.to(dev)
    labels = Y.ndim == 1 and not Y.is_floating_point() and not Y.is_complex()
    n_classes = int(Y.max()) + 1 if labels and int(Y.min()) >= 0 else 0
    return Dataset(X, Y, n_classes, name, {"n": int(X.shape[0]), "seed": seed, "source": type(data).__name__})


def resolve_xy(X: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``(X, y)`` for functions taking a batch: tensors as given, or the samples of a data source in ``X``
    (a :class:`Dataset`, DataLoader or torch Dataset) when ``y`` is None."""
    if y is None:
        d = as_dataset(X)
        return d.X, d.y
    return _tensor("X", X), _tensor("y", y)
