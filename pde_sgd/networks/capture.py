"""Capture records: the gradient-noise matrix D and the top Hessian eigenpairs of a network at one SGD step.

A capture is a :class:`pde_sgd.Result` of kind ``"networks.capture"`` with arrays

==================  =========  ===================================================================
``theta``           (P,)       the parameters
``grad_mean``       (P,)       grad f(theta) on the capture data
``D_eigenvalues``   (r,)       the min(N, P) leading eigenvalues of D, descending (the other P - r are 0)
``D_eigenvectors``  (P, m)     orthonormal eigenvectors of the top m <= r eigenvalues (low-rank factor)
``H_eigenvalues``   (k,)       top-k Hessian eigenvalues (Lanczos), descending
``H_eigenvectors``  (P, k)     their orthonormal eigenvectors
``D_in_H_basis``    (k, k)     V_H^T D V_H, symmetric PSD
==================  =========  ===================================================================

and parameters: model, data, step, eta, batch_size, seed, device, dtype, P, N, the D statistics (mean, std
over all P eigenvalues, rank, rank fraction at lambda_max * P * eps, trace) and the noise scale eta N / B.
:func:`load_capture` re-validates everything (shapes, finiteness, ordering, orthonormality, symmetry and
PSD of D within tolerance) and raises ValueError naming the offending entry.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from ..results import Result
from ..units import beta_from_sgd
from ..validation import finite_array, positive_int, spd_matrices
from .data import Dataset
from .hessian import top_pairs
from .models import FlatModel
from .per_sample import diffusion_from_grads, per_sample_grads, projected_covariance
from .sources import as_dataset
from .training import sgd_iterates

KIND = "networks.capture"
ARRAYS = ("theta", "grad_mean", "D_eigenvalues", "D_eigenvectors", "H_eigenvalues", "H_eigenvectors",
          "D_in_H_basis")


def capture(model: FlatModel, theta: torch.Tensor, data: Dataset, *, eta: float, batch_size: int, step: int,
            seed: int, k_hessian: int = 5, n_store: int = 64, hessian_samples: int | None = None,
            n_iter: int | None = None, chunk_size: int | None = None) -> Result:
    """Capture D (per-sample gradients over all of ``data``: a Dataset or any source :func:`as_dataset` reads) and the top-``k_hessian`` Hessian pairs at ``theta``.

    ``n_store`` eigenvectors of D are kept (the eigenvalues are all kept); ``hessian_samples`` restricts the
    Hessian to a seeded subset of the data (None: all of it). ``eta``, ``batch_size``, ``step`` and ``seed``
    describe the SGD run the capture belongs to and are recorded with it.
    """
    k_hessian, n_store = positive_int("k_hessian", k_hessian), positive_int("n_store", n_store)
    model.check_theta(theta)
    data = as_dataset(data)
    theta = theta.detach()
    with torch.no_grad():
        grads = per_sample_grads(model, theta, data.X, data.y, chunk_size)
    Dfac = diffusion_from_grads(grads, n_vectors=n_store)
    sub = data if hessian_samples is None else data.subset(hessian_samples, seed)
    h_val, h_vec = top_pairs(model, theta, sub.X, sub.y, k_hessian, n_iter=n_iter, seed=seed)
    with torch.no_grad():
        loss = float(model.loss(theta, data.X, data.y))
    m = min(n_store, Dfac.eigenvectors.shape[1])
    arrays = {"theta": theta, "grad_mean": Dfac.grad_mean, "D_eigenvalues": Dfac.eigenvalues,
              "D_eigenvectors": Dfac.eigenvectors[:, :m], "H_eigenvalues": h_val, "H_eigenvectors": h_vec,
              "D_in_H_basis": projected_covariance(grads, h_vec)}
    arrays = {k: v.detach().cpu().numpy() for k, v in arrays.items()}
    stats = Dfac.stats(eta, batch_size)
    params = {"model": model.config, "data": {"name": data.name, **data.config}, "step": int(step),
              "eta": float(eta), "batch_size": int(batch_size), "seed": int(seed), "device": str(theta.device),
              "dtype": str(theta.dtype).removeprefix("torch."), "n_params": model.n_params, "n_samples": data.n,
              "k_hessian": k_hessian, "hessian_samples": sub.n, "loss": loss,
              "accuracy": model.accuracy(theta, data) if data.n_classes else None, "beta": beta_from_sgd(eta, batch_size),
              "D_stats": stats, "D_trace_stored": float(arrays["D_eigenvalues"][:m].sum())}
    return Result(KIND, arrays, params)


def capture_along_training(model: FlatModel, data: Dataset, *, eta: float, batch_size: int, n_steps: int,
                           fractions: Sequence[float] = (0.2, 0.4, 1.0), seed: int = 0, progress: bool = False,
                           **capture_kw) -> list[Result]:
    """Train with SGD for ``n_steps`` and capture at the given fractions of training (rounded to steps)."""
    n_steps = positive_int("n_steps", n_steps)
    fr = finite_array("fractions", fractions, ndim=1)
    if fr.size == 0 or np.any(fr < 0) or np.any(fr > 1):
        raise ValueError(f"fractions must be a non-empty list of values in [0, 1], got {list(fractions)}")
    at = {int(round(f * n_steps)) for f in fr}
    out = []
    for t, theta, _ in sgd_iterates(model, model.theta(), data, eta=eta, batch_size=batch_size, n_steps=n_steps,
                                    seed=seed, progress=progress):
        if t in at:
            out.append(capture(model, theta, data, eta=eta, batch_size=batch_size, step=t, seed=seed, **capture_kw))
    return out


def validate_capture(res: Result, *, rtol: float | None = None) -> Result:
    """Check a capture record; raise ValueError naming what is wrong. Returns ``res``.

    Tolerances scale with the dtype's machine epsilon: orthonormality ||V^T V - I||_max <= 100 sqrt(P) eps
    (or ``rtol``), symmetry/PSD of ``D_in_H_basis`` and non-negativity of the D eigenvalues relative to the
    largest one within sqrt(eps).
    """
    if res.kind != KIND:
        raise ValueError(f"not a capture record: kind is {res.kind!r}, expected {KIND!r}")
    missing = [a for a in ARRAYS if a not in res.arrays]
    if missing:
        raise ValueError(f"capture record lacks arrays {missing}")
    p = res.params
    try:
        P, k = int(p["n_params"]), int(p["k_hessian"])
        eps = float(np.finfo(np.dtype(p["dtype"])).eps)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"capture metadata is incomplete or malformed: {exc!r}") from None
    a = {name: finite_array(name, res.arrays[name]) for name in ARRAYS}
    r = a["D_eigenvalues"].shape[0] if a["D_eigenvalues"].ndim == 1 else -1
    m = a["D_eigenvectors"].shape[-1]
    expected = {"theta": (P,), "grad_mean": (P,), "D_eigenvalues": (r,), "D_eigenvectors": (P, m),
                "H_eigenvalues": (k,), "H_eigenvectors": (P, k), "D_in_H_basis": (k, k)}
    for name, shape in expected.items():
        if a[name].shape != shape or r < 1:
            raise ValueError(f"capture array {name} has shape {a[name].shape}, expected {shape} "
                             f"(n_params={P}, k_hessian={k} in the metadata)")
    if m > r:
        raise ValueError(f"D_eigenvectors has {m} columns but only {r} eigenvalues are stored")
    ortho_tol = rtol if rtol is not None else 100 * np.sqrt(P) * eps
    for name in ("D_eigenvectors", "H_eigenvectors"):
        V = a[name]
        err = float(np.max(np.abs(V.T @ V - np.eye(V.shape[1]))))
        if err > ortho_tol:
            raise ValueError(f"capture array {name} is not orthonormal: max |V^T V - I| = {err:.3g} > {ortho_tol:.3g}")
    for name in ("D_eigenvalues", "H_eigenvalues"):
        if np.any(np.diff(a[name]) > 0):
            raise ValueError(f"capture array {name} must be sorted in descending order")
    lam = a["D_eigenvalues"]
    if lam[-1] < -np.sqrt(eps) * max(lam[0], 1e-300):
        raise ValueError(f"D is not positive semi-definite: smallest stored eigenvalue {lam[-1]:.3g} < 0")
    spd_matrices("D_in_H_basis", a["D_in_H_basis"], k, rtol=rtol if rtol is not None else np.sqrt(eps))
    return res


def save_capture(res: Result, path: str | os.PathLike):
    """Validate, then write ``path.npz`` + ``path.json`` atomically (see :meth:`pde_sgd.Result.save`)."""
    return validate_capture(res).save(path)


def load_capture(path: str | os.PathLike) -> Result:
    """Load and validate a capture; corrupt, truncated or mismatched files raise ValueError."""
    return validate_capture(Result.load(path))
