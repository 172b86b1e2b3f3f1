"""Hessian tools users know from PyHessian: Hutchinson trace, spectral density by stochastic Lanczos
quadrature (SLQ), per-layer top eigenvalues; for any symmetric operator v -> A v and for a network's loss.

Hutchinson (1990). With Rademacher probes v in {-1, +1}^n (E[v v^T] = I), E[v^T A v] = tr A. The estimate is
the mean of ``n_probes`` values z_i = v_i^T A v_i, its standard error s / sqrt(n_probes) (s the sample standard
deviation). The exact variance of one probe is Var z = 2 (|A|_F^2 - sum_i A_ii^2): Rademacher probes are exact
on the diagonal, and the error falls like 1 / sqrt(n_probes).

SLQ (Lin, Saad & Yang 2016; Ghorbani, Krishnan & Xiao 2019). The spectral density of A is
phi(t) = (1/n) sum_i delta(t - lambda_i). From a random unit start q = v / sqrt(n) (v Rademacher), m Lanczos
steps give T_m = S diag(theta) S^T; the nodes theta_k and weights tau_k = S_0k^2 (sum_k tau_k = 1) form the
m-point Gauss quadrature of the measure sum_i (q . u_i)^2 delta(t - lambda_i), whose expectation is phi and
which the quadrature integrates exactly for polynomials of degree <= 2m - 1. So the moments
mu_j = sum_k tau_k theta_k^j = q^T A^j q (j <= 2m - 1) estimate tr(A^j) / n without bias. The density is the
average over ``n_runs`` starts of the Gaussian-broadened quadrature,
phi_sigma(t) = (1/n_runs) sum_l sum_k tau_k^(l) exp(-(t - theta_k^(l))^2 / (2 sigma^2)) / (sigma sqrt(2 pi)),
on a uniform grid reaching 6 sigma beyond the extreme nodes (it integrates to 1 up to ~1e-9). The Ritz values
lie inside [lambda_min, lambda_max] and the extreme ones converge first, so the support covers the spectrum.

Per-layer top eigenvalues: Lanczos on the diagonal block H_bb of one parameter tensor b, v_b -> (H [0; v_b; 0])_b
(one full Hessian-vector product per step), restarted orthogonally after invariant subspaces so that repeated
eigenvalues (e.g. the last layer's blocks under MSE, Kronecker products with I_C) are found with their copies.

Operators are given as ``matvec`` v (n,) -> A v, or with ``batched=True`` as a block map V (b, n) -> (A V^T)^T
(rows; e.g. ``torch.func.vmap`` of a matvec), which the network functions use: probes and Lanczos runs then
advance ``block`` at a time. Probes and start vectors are drawn on the CPU from ``seed`` and moved to the
operator's device, so a seed gives the same probes on CPU and CUDA, whatever the block size. Every function
returns a :class:`~pde_sgd.Result` (numpy arrays).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.func import vmap

from ..results import Result
from ..validation import positive, positive_int
from ..linalg import lanczos, lanczos_tridiagonal, tridiagonal
from .hessian import hvp_fn
from .models import FlatModel
from .sources import resolve_xy

Matvec = Callable[[torch.Tensor], torch.Tensor]
GRID_MARGIN = 6.0      # the density's grid reaches this many sigma beyond the extreme nodes
DEFAULT_SIGMA = 0.01   # default broadening, relative to the nodes' range


def rademacher(shape: tuple[int, ...], gen: torch.Generator, dtype: torch.dtype,
               device: torch.device | str) -> torch.Tensor:
    """Independent +-1 entries drawn from the CPU generator ``gen``, on ``device``."""
    return (2 * torch.randint(0, 2, shape, generator=gen) - 1).to(dtype=dtype, device=device)


def block_operator(matvec: Matvec, *, batched: bool) -> Matvec:
    """V (b, n) -> images (b, n) from a matvec (looped over rows) or a batched map; checks shape and finiteness."""
    def matmat(V: torch.Tensor) -> torch.Tensor:
        W = matvec(V) if batched else torch.stack([matvec(v) for v in V])
        if W.shape != V.shape:
            raise ValueError(f"matvec must map vectors to vectors of the same shape: block {tuple(V.shape)} gave "
                             f"{tuple(W.shape)}")
        if not bool(torch.isfinite(W).all()):
            raise ValueError("matvec (the Hessian-vector product) returned NaN or inf; check theta and the data")
        return W
    return matmat


def _blocks(total: int, block: int) -> list[int]:
    return [min(block, total - i) for i in range(0, total, block)]


def hutchinson_trace(matvec: Matvec, n: int, *, n_probes: int = 100, seed: int = 0, batched: bool = False,
                     block: int = 32, dtype: torch.dtype = torch.float64,
                     device: str | torch.device = "cpu") -> Result:
    """Hutchinson estimate of tr A for a symmetric operator on R^n, with its standard error.

    ``block`` probes go through the operator at once when ``batched`` (the probes do not depend on it).
    Returns Result ``"networks.hutchinson_trace"``: array ``samples`` (n_probes,) of v_i^T A v_i and params
    ``trace`` (their mean), ``se`` (sample std / sqrt(n_probes); NaN for one probe), ``n_probes``, ``seed``, ``n``.
    """
    n = positive_int("n", n)
    n_probes = positive_int("n_probes", n_probes)
    block = positive_int("block", block)
    matmat = block_operator(matvec, batched=batched)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    z = []
    for b in _blocks(n_probes, block):
        V = rademacher((b, n), gen, dtype, device)
        z.append((V * matmat(V)).sum(1).cpu().numpy())
    z = np.concatenate(z)
    se = float(z.std(ddof=1) / math.sqrt(n_probes)) if n_probes > 1 else float("nan")
    return Result("networks.hutchinson_trace", {"samples": z},
                  {"trace": float(z.mean()), "se": se, "n_probes": n_probes, "seed": seed, "n": n})


def slq_density(matvec: Matvec, n: int, *, n_runs: int = 10, n_iter: int = 80, sigma: float | None = None,
                n_points: int = 1000, seed: int = 0, batched: bool = False, block: int = 10,
                dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu") -> Result:
    """Spectral density of a symmetric operator on R^n by stochastic Lanczos quadrature (module docstring).

    Parameters
    ----------
    n_runs : number of random starts (independent quadratures averaged), >= 1.
    n_iter : Lanczos steps m per start, 1 <= m <= n (clipped to n); moments up to order 2m - 1 are exact per run.
    sigma : Gaussian broadening (> 0); default 1% of the nodes' range (or 1e-3 max(1, |node|) if it is 0).
    n_points : grid points; the grid spacing must stay <= sigma / 2 so the density is resolved (with the default
        sigma: n_points >= 225, checked first; with a given sigma, checked once the nodes' range is known).
    batched, block : with ``batched``, ``block`` Lanczos runs advance together (memory n_iter * block * n).

    Returns
    -------
    Result ``"networks.slq_density"`` with arrays ``t`` (n_points,), ``density`` (n_points,), ``nodes`` and
    ``weights`` (n_runs, m) (runs that found an invariant subspace early are padded with weight 0), and params
    ``sigma``, ``n_runs``, ``n_iter``, ``seed``, ``n``. See :func:`quadrature_moments` for the moments.
    """
    n = positive_int("n", n)
    n_runs = positive_int("n_runs", n_runs)
    m = min(positive_int("n_iter", n_iter), n)
    n_points = positive_int("n_points", n_points, minimum=3)
    if sigma is not None:
        sigma = positive("sigma", sigma)
    elif n_points < (need := _points_needed(1.0, DEFAULT_SIGMA)):
        raise ValueError(f"n_points must be >= {need} with the default sigma, got {n_points}")
    block = positive_int("block", block)
    matmat = block_operator(matvec, batched=batched)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    nodes, weights = np.zeros((n_runs, m)), np.zeros((n_runs, m))
    r = 0
    for b in _blocks(n_runs, block):
        alpha, beta, _, used = lanczos_tridiagonal(matmat, rademacher((b, n), gen, dtype, device), m)
        for i, u in enumerate(used.tolist()):
            theta, S = torch.linalg.eigh(tridiagonal(alpha[i, :u], beta[i, :u - 1]))
            nodes[r, :u] = theta.cpu().numpy()
            weights[r, :u] = (S[0] ** 2).cpu().numpy()
            r += 1
    present = weights > 0
    lo, hi = float(nodes[present].min()), float(nodes[present].max())
    if sigma is None:
        sigma = DEFAULT_SIGMA * (hi - lo) if hi > lo else 1e-3 * max(1.0, abs(hi))
    if n_points < _points_needed(hi - lo, sigma):
        raise ValueError(f"n_points={n_points} leaves the grid spacing above sigma/2 = {sigma / 2:.3g}; "
                         f"use n_points >= {_points_needed(hi - lo, sigma)} or a larger sigma")
    t = np.linspace(lo - GRID_MARGIN * sigma, hi + GRID_MARGIN * sigma, n_points)
    density = np.zeros(n_points)
    for r in range(n_runs):
        g = np.exp(-0.5 * ((t[:, None] - nodes[r][None, :]) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
        density += g @ weights[r]
    return Result("networks.slq_density", {"t": t, "density": density / n_runs, "nodes": nodes, "weights": weights},
                  {"sigma": sigma, "n_runs": n_runs, "n_iter": m, "seed": seed, "n": n})


def _points_needed(width: float, sigma: float) -> int:
    """Grid points for spacing <= sigma / 2 over [lo - 6 sigma, hi + 6 sigma], hi - lo = width."""
    return int(math.ceil((width + 2 * GRID_MARGIN * sigma) / (sigma / 2) - 1e-9)) + 1


def quadrature_moments(density: Result, order: int) -> tuple[float, float]:
    """Mean over runs of the SLQ moment sum_k tau_k theta_k^order (an unbiased estimate of tr(A^order) / n for
    order <= 2 n_iter - 1) and its standard error over the runs (NaN for one run)."""
    order = positive_int("order", order, minimum=0)
    mu = np.sum(density["weights"] * density["nodes"] ** order, axis=1)
    se = float(mu.std(ddof=1) / math.sqrt(mu.size)) if mu.size > 1 else float("nan")
    return float(mu.mean()), se


def _checked_batch(model: FlatModel, theta: torch.Tensor, X, y) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(theta detached, X, y) after :meth:`FlatModel.check_batch`; a data source in ``X`` is read first."""
    X, y = resolve_xy(X, y)
    return model.check_batch(theta, X, y), X, y


def _model_params(model: FlatModel, theta: torch.Tensor, X: torch.Tensor) -> dict:
    return {"model": model.config, "n_samples": int(X.shape[0]), "device": str(theta.device)}


def hessian_trace(model: FlatModel, theta: torch.Tensor, X, y=None, *,
                  n_probes: int = 100, seed: int = 0, block: int = 32) -> Result:
    """Hutchinson estimate of tr H(theta) of the loss on (X, y) (or on a data source in ``X``, y None: a
    DataLoader, a torch Dataset, a :class:`Dataset`) with its standard error (:func:`hutchinson_trace`);
    ``block`` probes per vmapped Hessian-vector product (memory ~ block forward-backward passes)."""
    n_probes, block = positive_int("n_probes", n_probes), positive_int("block", block)
    theta, X, y = _checked_batch(model, theta, X, y)
    res = hutchinson_trace(vmap(hvp_fn(model, theta, X, y)), model.n_params, n_probes=n_probes, seed=seed,
                           batched=True, block=block, dtype=theta.dtype, device=theta.device)
    res.params.update(_model_params(model, theta, X))
    return res


def hessian_density(model: FlatModel, theta: torch.Tensor, X, y=None, *,
                    n_runs: int = 10, n_iter: int = 80, sigma: float | None = None, n_points: int = 1000,
                    seed: int = 0, block: int = 10) -> Result:
    """Spectral density of H(theta) of the loss on (X, y) (or on a data source in ``X``, y None) by stochastic
    Lanczos quadrature (:func:`slq_density`);
    ``block`` Lanczos runs advance together through one vmapped Hessian-vector product."""
    n_runs, n_iter, block = (positive_int(k, v) for k, v in (("n_runs", n_runs), ("n_iter", n_iter), ("block", block)))
    theta, X, y = _checked_batch(model, theta, X, y)
    res = slq_density(vmap(hvp_fn(model, theta, X, y)), model.n_params, n_runs=n_runs, n_iter=n_iter, sigma=sigma,
                      n_points=n_points, seed=seed, batched=True, block=block, dtype=theta.dtype,
                      device=theta.device)
    res.params.update(_model_params(model, theta, X))
    return res


def layer_slices(model: FlatModel) -> dict[str, slice]:
    """Where each parameter tensor sits in the flat theta, by name."""
    ends = np.cumsum(model.numels)
    return {name: slice(int(e - k), int(e)) for name, k, e in zip(model.names, model.numels, ends)}


def layer_top_eigenvalues(model: FlatModel, theta: torch.Tensor, X, y=None, *, k: int = 1,
                          layers: Sequence[str] | None = None, n_iter: int | None = None, seed: int = 0) -> Result:
    """Top-``k`` eigenvalues of each diagonal Hessian block H_bb (one parameter tensor b), by Lanczos, for the
    loss on (X, y) (or on a data source in ``X``, y None).

    ``layers``: parameter names (``model.names``; default all); ``k`` is capped at each block's size. Returns
    Result ``"networks.layer_eigenvalues"`` with one array (k_b,) per layer name (descending) and params
    ``layers``, ``k``, ``seed``.
    """
    k = positive_int("k", k)
    slices = layer_slices(model)
    names = list(slices) if layers is None else list(layers)
    unknown = [nm for nm in names if nm not in slices]
    if unknown or not names:
        raise ValueError(f"layers must be a non-empty list of parameter names from {list(slices)}, got {names}")
    theta, X, y = _checked_batch(model, theta, X, y)
    hvp = block_operator(hvp_fn(model, theta, X, y), batched=False)
    out = {}
    for nm in names:
        s = slices[nm]
        size = s.stop - s.start

        def block(v: torch.Tensor, s: slice = s) -> torch.Tensor:
            full = torch.zeros_like(theta)
            full[s] = v
            return hvp(full[None])[0, s]

        kb = min(k, size)
        it = None if n_iter is None else min(max(positive_int("n_iter", n_iter), kb), size)
        lam, _ = lanczos(block, size, kb, n_iter=it, seed=seed, dtype=theta.dtype, device=theta.device)
        out[nm] = lam.cpu().numpy()
    return Result("networks.layer_eigenvalues", out, {"layers": names, "k": k, "seed": seed, "n_iter": n_iter,
                                                      **_model_params(model, theta, X)})
