"""A 2-D slice through a trained network's parameters, with the loss f(x) and the projected noise D(x).

For an anchor theta0 (P,) and an orthonormal basis B = [b1, b2] (P, 2) -- the top two Hessian eigenvectors
or the top two eigenvectors of D at theta0 -- the slice coordinates x in R^2 map to theta = theta0 + B x and

    f(x) = (1/N) sum_k l_k(theta0 + B x),   grad_x f = B^T grad f,
    D(x) = (1/N) sum_k d_k d_k^T - d_bar d_bar^T,   d_k = B^T grad l_k(theta0 + B x) = d l_k / dx  (2-vectors),

i.e. D(x) = B^T D(theta) B, the covariance of the per-sample gradients projected on the plane: symmetric PSD
at every x by construction. The per-sample derivatives d_k are computed by forward mode (``torch.func.jacfwd``
of x -> per-sample losses, two directions), vectorised over grid points with ``vmap``; no P-dimensional
per-sample gradient is formed.

SGD restricted to the plane, x_{t+1} = x_t - eta B^T g_batch(theta0 + B x_t), is the discrete process whose
SDE is dx = -grad_x f dt + sqrt(2 beta^-1 D(x)) dW with beta^-1 = eta / (2 b) (THEORY.md section 3).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.func import jacfwd, vmap

from ..grid import Grid
from ..results import Result
from ..validation import choice, finite_array, positive, positive_int, spd_matrices
from .data import Dataset
from .hessian import hvp_fn, top_pairs
from .models import FlatModel
from .per_sample import diffusion_from_grads, per_sample_grads, projected_covariance

DIRECTIONS = ("hessian", "diffusion")


@dataclass
class LossSlice:
    """The plane theta0 + span(basis) through a network's parameter space (basis (P, 2), orthonormal)."""

    model: FlatModel
    data: Dataset
    theta0: torch.Tensor
    basis: torch.Tensor
    directions: str = "hessian"

    def __post_init__(self) -> None:
        P = self.model.n_params
        if self.theta0.shape != (P,) or self.basis.shape != (P, 2):
            raise ValueError(f"theta0 must have shape ({P},) and basis ({P}, 2); got {tuple(self.theta0.shape)}, "
                             f"{tuple(self.basis.shape)}")
        err = float((self.basis.T @ self.basis - torch.eye(2, dtype=self.basis.dtype, device=self.basis.device)).abs().max())
        if err > 1e-8:
            raise ValueError(f"basis must have orthonormal columns (max |B^T B - I| = {err:.2g})")

    def _jac(self, x: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(per-sample derivatives d l_k / dx (n, 2), per-sample losses (n,)) at one slice point x (2,)."""
        def losses(z):
            out = self.model.sample_losses(self.theta0 + self.basis @ z, X, y)
            return out, out
        return jacfwd(losses, has_aux=True)(x)

    def evaluate(self, points: np.ndarray | torch.Tensor, chunk_size: int = 64) -> dict[str, np.ndarray]:
        """f (n,), grad f (n, 2) and D (n, 2, 2) at slice points (n, 2), over all the data."""
        pts = torch.as_tensor(finite_array("points", points, ndim=2), dtype=self.theta0.dtype, device=self.theta0.device)
        if pts.shape[1] != 2:
            raise ValueError(f"points must have shape (n, 2), got {tuple(pts.shape)}")
        fn = vmap(lambda z: self._jac(z, self.data.X, self.data.y), chunk_size=positive_int("chunk_size", chunk_size))
        with torch.no_grad():
            J, L = fn(pts)  # (n, N, 2), (n, N)
            g = J.mean(1)
            Jc = J - g[:, None, :]
            D = torch.einsum("nki,nkj->nij", Jc, Jc) / J.shape[1]
        D = 0.5 * (D + D.transpose(1, 2))
        return {"f": L.mean(1).cpu().numpy(), "grad": g.cpu().numpy(), "D": D.cpu().numpy()}

    def batch_gradient(self, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """B^T g_batch at slice points x (c, 2) for batches idx (c, b): the projected mini-batch gradients (c, 2)."""
        X, y = self.data.X[idx], self.data.y[idx]
        with torch.no_grad():
            J, _ = vmap(self._jac)(x, X, y)
        return J.mean(1)

    def on_grid(self, grid: Grid, chunk_size: int = 64, progress: bool = False) -> Result:
        """f, grad f and D(x) at the cell centres of a 2-D ``grid``; Result ``"networks.slice"``.

        Arrays: ``f`` grid.shape, ``grad_f`` grid.shape + (2,), ``D`` grid.shape + (2, 2) (validated symmetric
        PSD), ``theta0``, ``basis``. Params: the grid, model, data and directions.
        """
        if not isinstance(grid, Grid) or grid.ndim != 2:
            raise ValueError(f"grid must be a 2-D pde_sgd.Grid, got {grid!r}")
        pts = grid.points()
        from tqdm.auto import tqdm
        parts = [self.evaluate(pts[i:i + 4 * chunk_size], chunk_size)
                 for i in tqdm(range(0, len(pts), 4 * chunk_size), disable=not progress, desc="slice", leave=False)]
        out = {k: np.concatenate([p[k] for p in parts]) for k in ("f", "grad", "D")}
        D = spd_matrices("D", out["D"].reshape(grid.shape + (2, 2)), 2)
        arrays = {"f": out["f"].reshape(grid.shape), "grad_f": out["grad"].reshape(grid.shape + (2,)), "D": D,
                  "theta0": self.theta0.cpu().numpy(), "basis": self.basis.cpu().numpy()}
        params = {"grid": grid, "model": self.model.config,
                  "data": {"name": self.data.name, **self.data.config}, "directions": self.directions,
                  "n_samples": self.data.n}
        return Result("networks.slice", arrays, params)


def make_slice(model: FlatModel, theta0: torch.Tensor, data: Dataset, directions: str = "hessian", *,
               hessian_samples: int | None = None, seed: int = 0) -> tuple[LossSlice, dict]:
    """The slice through ``theta0`` along the top-2 Hessian (or D) eigenvectors.

    Returns the :class:`LossSlice` and a dict with the top-2 Hessian eigenvalues ``H_eigenvalues`` and the
    projected D at the anchor ``D0`` (2, 2), useful to size the grid (:func:`suggest_extent`).
    """
    choice("directions", directions, DIRECTIONS)
    theta0 = theta0.detach()
    with torch.no_grad():
        grads = per_sample_grads(model, theta0, data.X, data.y)
    Dfac = diffusion_from_grads(grads, n_vectors=2)
    if directions == "hessian":
        sub = data if hessian_samples is None else data.subset(hessian_samples, seed)
        lam, basis = top_pairs(model, theta0, sub.X, sub.y, 2, seed=seed)
    else:
        basis = Dfac.eigenvectors[:, :2]
        hv = hvp_fn(model, theta0, data.X, data.y)
        lam = torch.stack([torch.dot(basis[:, i], hv(basis[:, i])) for i in range(2)])
    sl = LossSlice(model, data, theta0, basis.contiguous(), directions)
    return sl, {"H_eigenvalues": lam.cpu().numpy(), "D0": projected_covariance(grads, basis).cpu().numpy()}


def suggest_extent(curvatures: Sequence[float], D0: np.ndarray, beta: float, n_std: float = 5.0) -> np.ndarray:
    """Half-widths n_std * sqrt(beta^-1 D_ii / lambda_i): n_std stationary standard deviations of the locally
    quadratic model (f ~ sum lambda_i x_i^2 / 2, diffusion D0), per axis."""
    lam = finite_array("curvatures", curvatures, ndim=1)
    if np.any(lam <= 0):
        raise ValueError(f"curvatures must be > 0 (the anchor must be a local minimum on the slice), got {lam}")
    D0 = spd_matrices("D0", D0, lam.size)
    return positive("n_std", n_std) * np.sqrt(np.diag(D0) / (positive("beta", beta) * lam))
