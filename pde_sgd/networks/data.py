"""Offline data sets for the network experiments: scikit-learn's bundled digits and seeded synthetic data.

Nothing is downloaded: ``sklearn.datasets.load_digits`` ships with scikit-learn (1797 images of 8x8 pixels,
10 classes), and the synthetic set is generated here from a seed. Images are stored as (N, 1, side, side)
tensors with pixel values in [0, 1]; flat synthetic features as (N, n_features). Labels are int64 class ids.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from ..devices import resolve_device  # noqa: F401  (part of networks' API)
from ..validation import as_generator, choice, positive, positive_int

DATASETS = ("digits", "synthetic")
DTYPES = {"float32": torch.float32, "float64": torch.float64}


@contextmanager
def torch_threads(n: int = 1) -> Iterator[None]:
    """Run a block with ``n`` intra-op CPU threads, then restore the previous setting.

    The networks here are tiny: their kernels are far too short to gain from threads, and on a machine whose
    cores are shared, OpenMP threads that spin-wait for each other make each step tens of times slower.
    """
    n = positive_int("n", n)
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``"float32"``/``"float64"`` (or the torch dtypes themselves)."""
    if isinstance(dtype, torch.dtype):
        if dtype not in DTYPES.values():
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        return dtype
    return DTYPES[choice("dtype", dtype, DTYPES)]


@dataclass
class Dataset:
    """Inputs ``X`` (N, ...) and integer labels ``y`` (N,) on one device, with the recipe that made them."""

    X: torch.Tensor
    y: torch.Tensor
    n_classes: int
    name: str
    config: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.X.shape[1:])

    def checked_batch_size(self, batch_size: int) -> int:
        """``batch_size`` as an int in [1, N], else ValueError naming it and the range."""
        B = positive_int("batch_size", batch_size)
        if B > self.n:
            raise ValueError(f"batch_size must be in [1, N={self.n}], got {B}")
        return B

    def batch_indices(self, batch_size: int, gen: torch.Generator) -> torch.Tensor:
        """``batch_size`` distinct sample indices (a fresh mini-batch without replacement), drawn with the CPU
        generator ``gen`` as ``torch.randperm(N)[:batch_size]``, on the data's device."""
        return torch.randperm(self.n, generator=gen)[:batch_size].to(self.X.device)

    def subset(self, n: int, seed: int) -> "Dataset":
        """A seeded random subset of ``n`` samples (the Hessian is often taken on a few per cent of the data)."""
        n = positive_int("n", n)
        if n > self.n:
            raise ValueError(f"n must be in [1, {self.n}], got {n}")
        idx = torch.as_tensor(as_generator(seed).permutation(self.n)[:n], device=self.X.device)
        return Dataset(self.X[idx], self.y[idx], self.n_classes, self.name,
                       {**self.config, "subset": n, "subset_seed": seed})


def digits(n: int | None = None, *, seed: int = 0, dtype: str | torch.dtype = "float64",
           device: str | torch.device = "auto") -> Dataset:
    """scikit-learn's bundled digits as (N, 1, 8, 8) images in [0, 1]; ``n`` picks a seeded subset."""
    from sklearn.datasets import load_digits
    raw = load_digits()
    X = raw.images.astype(np.float64) / 16.0
    y = raw.target.astype(np.int64)
    if n is not None:
        n = positive_int("n", n)
        if n > len(y):
            raise ValueError(f"n must be in [1, {len(y)}] for digits, got {n}")
        idx = as_generator(seed).permutation(len(y))[:n]
        X, y = X[idx], y[idx]
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    return Dataset(torch.as_tensor(X[:, None], dtype=dt, device=dev), torch.as_tensor(y, device=dev), 10,
                   "digits", {"n": None if n is None else n, "seed": seed})


def synthetic(n: int = 256, *, n_features: int = 16, n_classes: int = 3, noise: float = 0.5,
              as_image: bool = False, seed: int = 0, dtype: str | torch.dtype = "float64",
              device: str | torch.device = "auto") -> Dataset:
    """Seeded Gaussian clusters: class c has a random unit-norm mean m_c, x = 2 m_c + noise * N(0, I).

    ``as_image=True`` reshapes each sample to (1, s, s), which needs ``n_features = s^2`` with s >= 4.
    """
    n, nf, nc = positive_int("n", n), positive_int("n_features", n_features), positive_int("n_classes", n_classes, minimum=2)
    noise = positive("noise", noise)
    rng = as_generator(seed)
    means = rng.standard_normal((nc, nf))
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    y = rng.integers(0, nc, size=n)
    X = 2.0 * means[y] + noise * rng.standard_normal((n, nf))
    if as_image:
        side = math.isqrt(nf)
        if side * side != nf or side < 4:
            raise ValueError(f"as_image needs n_features = side^2 with side >= 4, got n_features={nf}")
        X = X.reshape(n, 1, side, side)
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    cfg = {"n": n, "n_features": nf, "n_classes": nc, "noise": noise, "as_image": as_image, "seed": seed}
    return Dataset(torch.as_tensor(X, dtype=dt, device=dev), torch.as_tensor(y, device=dev), nc, "synthetic", cfg)


def load_dataset(name: str, **kw) -> Dataset:
    """``digits(**kw)`` or ``synthetic(**kw)`` by name."""
    return {"digits": digits, "synthetic": synthetic}[choice("data", name, DATASETS)](**kw)
