"""MNIST-1D (Greydanus 2020; pip ``mnist1d``), generated offline, deterministic per seed, cached on disk.

Ten classes of 1-D signals of length 40, each a digit template (12 points) padded, shifted, scaled, sheared
and blurred, with correlated and i.i.d. noise (``mnist1d.make_dataset``). Logistic regression reaches ~32%,
an MLP ~68% and a CNN ~94% test accuracy (the authors' numbers), so architectures differ clearly on a CPU.

Only the generator is used, never ``mnist1d.get_dataset``'s download path. ``n_train + n_test`` samples are made
in one call (rounded up to a multiple of 10, one tenth per class, shuffled by the generator), standardised
over the whole set as the generator does, and split in order: the first ``n_train`` train, the next ``n_test``
test. A different N gives fresh samples; the same arguments give the same arrays on any machine. The arrays
are cached in ``$PDE_SGD_CACHE/mnist1d`` (default ``~/.cache/pde_sgd/mnist1d``) under a hash of every
generator argument; a cache file that does not load or does not match is regenerated. Signals are stored as
(N, 1, 40) tensors (channels first, for a 1-D CNN; an MLP flattens them), labels as int64.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import random
from pathlib import Path

import numpy as np
import torch

from ..results import atomic_write_bytes
from ..validation import positive_int, seed_int
from .data import Dataset, resolve_device, resolve_dtype

LENGTH = 40
N_CLASSES = 10


def cache_dir() -> Path:
    """Where generated data sets are kept: ``$PDE_SGD_CACHE/mnist1d`` or ``~/.cache/pde_sgd/mnist1d``."""
    root = os.environ.get("PDE_SGD_CACHE") or Path.home() / ".cache" / "pde_sgd"
    return Path(root) / "mnist1d"


def _generator_args(n_samples: int, seed: int) -> dict:
    from mnist1d.data import get_dataset_args
    args = get_dataset_args(as_dict=True)
    args.pop("url", None)
    args.update(num_samples=n_samples, train_split=1.0, seed=seed)
    return args


def _generate(args: dict) -> tuple[np.ndarray, np.ndarray]:
    """``mnist1d.make_dataset`` with the global numpy/random state it seeds restored afterwards."""
    from mnist1d.data import make_dataset
    from mnist1d.utils import ObjectView
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        raw = make_dataset(ObjectView(dict(args)))
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return np.asarray(raw["x"], dtype=np.float64), np.asarray(raw["y"], dtype=np.int64)


def _cached(args: dict) -> tuple[np.ndarray, np.ndarray]:
    key = hashlib.sha256(json.dumps(args, sort_keys=True).encode()).hexdigest()[:20]
    path = cache_dir() / f"{key}.npz"
    n = args["num_samples"]
    try:
        with np.load(path, allow_pickle=False) as z:
            x, y, stored = z["x"], z["y"], json.loads(str(z["args"]))
        if x.shape == (n, LENGTH) and y.shape == (n,) and stored == args:
            return x, y
    except (OSError, ValueError, KeyError):
        pass  # missing, unreadable or another generation: make it again
    x, y = _generate(args)
    buf = io.BytesIO()
    np.savez(buf, x=x, y=y, args=np.array(json.dumps(args, sort_keys=True)))
    try:
        atomic_write_bytes(path, buf.getvalue())
    except OSError:
        pass  # a read-only cache only costs a regeneration next time
    return x, y


def mnist1d(n_train: int = 4000, n_test: int = 1000, *, seed: int = 0, dtype: str | torch.dtype = "float64",
            device: str | torch.device = "auto") -> tuple[Dataset, Dataset]:
    """MNIST-1D train and test sets of ``n_train`` and ``n_test`` fresh samples from one seeded generation.

    Returns two :class:`Dataset` with X of shape (N, 1, 40) and 10 classes; their ``config`` records the
    generator's arguments. See the module docstring for the split, the normalisation and the cache.
    """
    n_train, n_test = positive_int("n_train", n_train), positive_int("n_test", n_test)
    seed = seed_int(seed)
    if seed >= 2**32:
        raise ValueError(f"seed must be in [0, 2**32 - 1] (the generator seeds numpy's legacy RNG), got {seed}")
    total = n_train + n_test
    if total > 10_000_000:
        raise ValueError(f"n_train + n_test must be <= 10,000,000 (memory), got {total}")
    n_samples = -(-total // N_CLASSES) * N_CLASSES
    args = _generator_args(n_samples, seed)
    x, y = _cached(args)
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    cfg = {"n_train": n_train, "n_test": n_test, "seed": seed,
           "generator": {k: v for k, v in args.items() if k not in ("num_samples", "train_split", "seed")}}

    def part(sl: slice, split: str) -> Dataset:
        X = torch.as_tensor(x[sl, None, :], dtype=dt, device=dev)
        return Dataset(X, torch.as_tensor(y[sl], device=dev), N_CLASSES, "mnist1d", {**cfg, "split": split})

    return part(slice(0, n_train), "train"), part(slice(n_train, total), "test")
