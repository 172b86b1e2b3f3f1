"""Gradient noise and curvature of real (small) PyTorch networks; the only place torch is imported.

- :mod:`.data`: offline data (scikit-learn digits, seeded synthetic clusters); ``device="auto"``.
- :mod:`.models`: an MLP and a small CNN, and :class:`FlatModel` (any module and loss as a function of flat theta).
- :mod:`.sources`: a user's tensors, torch Dataset or DataLoader as a :class:`Dataset`; :mod:`.checks`: the
  torch.func pitfalls (BatchNorm/dropout in training mode, random or buffer-changing forward, dtype) as errors.
- :mod:`.per_sample`: per-sample gradients (torch.func vmap + grad), the diffusion matrix D as a low-rank
  eigen-factor, its spectrum statistics and the noise scale.
- :mod:`.hessian`: Hessian-vector products, top-K eigenpairs (Lanczos of :mod:`pde_sgd.linalg`).
- :mod:`.hessian_tools`: what PyHessian offers: Hutchinson trace with its standard error, spectral density by
  stochastic Lanczos quadrature, per-layer top eigenvalues (for a network's loss or any symmetric operator).
- :mod:`.training`: mini-batch SGD on flat parameters, Hessian tracking along a run.
- :mod:`.theory_check`: :func:`check_theory`, the SDE picture on a user's model in one call (minibatch
  covariance against D / B, noise scale, SGD against the SDE), with standard errors.
- :mod:`.capture`: capture records (Result .npz + .json), validated on load.
- :mod:`.slice`, :mod:`.coupling`: the loss on a 2-D slice with its projected D(x), and the comparison of
  Fokker-Planck, SDE (torchsde) and actual SGD there and in the full parameter space.
"""
from .capture import capture, capture_along_training, load_capture, save_capture, validate_capture
from .data import Dataset, digits, load_dataset, resolve_device, resolve_dtype, synthetic, torch_threads
from ..linalg import lanczos
from .hessian import dense_hessian, hessian_top, hvp_fn
from .hessian_tools import (hessian_density, hessian_trace, hutchinson_trace, layer_slices, layer_top_eigenvalues,
                            quadrature_moments, slq_density)
from .models import LOSSES, MLP, FlatModel, SmallCNN, build_model
from .sources import as_dataset
from .per_sample import (DiffusionFactor, covariance_dense, diffusion_factor, diffusion_from_grads,
                         naive_per_sample_grads, per_sample_grads, projected_covariance)
from .theory_check import check_theory
from .training import sgd_iterates, track_hessian, train

__all__ = ["as_dataset", "check_theory", "Dataset", "DiffusionFactor", "FlatModel", "MLP", "SmallCNN", "build_model", "capture",
           "capture_along_training", "covariance_dense", "dense_hessian", "diffusion_factor",
           "diffusion_from_grads", "digits", "hessian_top", "hvp_fn", "lanczos", "load_capture", "load_dataset",
           "naive_per_sample_grads", "per_sample_grads", "projected_covariance", "resolve_device", "resolve_dtype", "save_capture",
           "sgd_iterates", "synthetic", "track_hessian", "torch_threads", "train", "validate_capture",
           "LOSSES", "hessian_density", "hessian_trace", "hutchinson_trace", "layer_slices", "layer_top_eigenvalues",
           "quadrature_moments", "slq_density"]
