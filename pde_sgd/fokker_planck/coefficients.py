"""Coefficients of the Fokker-Planck equation sampled on a grid: the loss / drift and the diffusion matrix.

The equation is rho_t = div( grad f rho + beta^-1 div(D rho) ) (THEORY.md section 3), the law of the Ito SDE
dX = -grad f dt + sqrt(2 beta^-1 D(X)) dW. Inputs accepted here:

* the loss, one of
    - a :class:`pde_sgd.landscapes.Landscape` (values at the cell centres are used on the faces, so that the
      discrete Gibbs state is exact for isotropic constant D);
    - a field of values on the grid (shape ``grid.shape``), e.g. a Hamilton-Jacobi solution u(., t);
* or a shared :class:`pde_sgd.Drift` spec b given as ``f`` (gradient: its landscape; field, function, linear:
  ``grad_f`` = -b, below);
* or the drift field ``grad_f`` (the SDE drift is -grad_f), for non-gradient drifts such as
  -(I + c J) grad f: a callable ``points (n, d) -> (n, d)`` (evaluated at cell centres and face centres) or an
  array of shape ``grid.shape + (d,)`` (cell centres; faces take the mean of the two neighbours);
* the diffusion matrix D: a scalar c (D = c I), a constant (d, d) matrix, a scalar field of shape
  ``grid.shape`` (D = c(x) I), a matrix field of shape ``grid.shape + (d, d)`` (e.g. captured from a
  network on a 2-D slice), or a callable ``points (n, d) -> (n, d, d)``. D is validated symmetric positive
  semi-definite at every cell (:func:`pde_sgd.validation.spd_matrices`).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..diffusion import Diffusion
from ..drift import Drift
from ..grid import Grid
from ..landscapes import Landscape
from ..validation import finite_array, spd_matrices


@dataclass
class Coefficients:
    """Loss/drift and diffusion sampled on a grid.

    Attributes
    ----------
    face_df : list of ndarray
        Per axis a, an array of shape ``grid.shape``: the increment of f across the right face of each cell,
        f(c + e_a) - f(c) (or h_a times the drift component at the face centre when only grad f is given).
        Faces wrap around for periodic axes; the last face of a Neumann axis is a wall and is not used.
    grad_cells : ndarray, shape ``grid.shape + (d,)``
        grad f (the negative SDE drift) at the cell centres.
    D : ndarray, shape ``grid.shape + (d, d)``
        Diffusion matrix at the cell centres (a read-only broadcast view when it is one constant matrix).
    f_values : ndarray or None
        f at the cell centres when the loss (not only its gradient) is known.
    """

    face_df: list[np.ndarray]
    grad_cells: np.ndarray
    D: np.ndarray
    f_values: np.ndarray | None


def _right_neighbour(a: np.ndarray, axis: int) -> np.ndarray:
    return np.roll(a, -1, axis=axis)


def central_gradient(grid: Grid, values: np.ndarray) -> np.ndarray:
    """Second-order gradient of a cell field, shape ``grid.shape + (d,)`` (one-sided at Neumann walls)."""
    out = np.empty(grid.shape + (grid.ndim,))
    for a, (h, per) in enumerate(zip(grid.spacing, grid.periodic)):
        if per:
            out[..., a] = (np.roll(values, -1, axis=a) - np.roll(values, 1, axis=a)) / (2.0 * h)
        else:
            out[..., a] = np.gradient(values, h, axis=a, edge_order=2)
    return out


def divergence(grid: Grid, field: np.ndarray) -> np.ndarray:
    """Second-order divergence of a vector field of shape ``grid.shape + (d,)`` (same stencil as above)."""
    return sum(central_gradient(grid, field[..., a])[..., a] for a in range(grid.ndim))


def _face_points(grid: Grid, axis: int) -> np.ndarray:
    pts = grid.points().copy()
    pts[:, axis] += 0.5 * grid.spacing[axis]
    return pts


def _call_field(name: str, func: Callable, pts: np.ndarray, trailing: tuple) -> np.ndarray:
    try:
        vals = func(pts)
    except Exception as exc:  # report which argument failed, not a bare traceback from user code
        raise ValueError(f"{name} could not be evaluated at the grid points: {exc}") from exc
    return finite_array(name, vals, shape=(pts.shape[0],) + trailing)


def diffusion_on_grid(grid: Grid, D: Any) -> np.ndarray:
    """D at the cell centres, shape ``grid.shape + (d, d)`` (a constant D: a read-only broadcast view); validated
    symmetric PSD (ValueError naming D)."""
    d = grid.ndim
    if isinstance(D, Diffusion):
        return np.ascontiguousarray(D.on_grid(grid))
    if callable(D):
        arr = _call_field("D", D, grid.points(), (d, d)).reshape(grid.shape + (d, d))
        return spd_matrices("D", arr, d)
    arr = finite_array("D", D)
    if arr.ndim == 0:
        if arr < 0:
            raise ValueError(f"D must be >= 0 when given as a scalar (D = c I), got {float(arr)!r}")
        arr = float(arr) * np.eye(d)
    elif arr.shape == grid.shape and arr.shape != (d, d):
        if np.any(arr < 0):
            raise ValueError("D given as a scalar field (D = c(x) I) must be >= 0 everywhere")
        arr = arr[..., None, None] * np.eye(d)
    elif arr.shape not in ((d, d), grid.shape + (d, d)):
        raise ValueError(f"D must be a scalar, a ({d}, {d}) matrix, a scalar field of shape {grid.shape}, a "
                         f"matrix field of shape {grid.shape + (d, d)} or a callable; got shape {arr.shape}")
    arr = spd_matrices("D", arr, d)
    if arr.shape == (d, d):  # one matrix: a read-only view, no field in memory
        return np.broadcast_to(arr, grid.shape + (d, d))
    return np.ascontiguousarray(arr)


def _drift_as_grad_f(grid: Grid, drift: Drift) -> tuple:
    """(f, grad_f) for a shared drift spec: its landscape for a gradient drift, else grad_f = -b (a field on
    this very grid is taken as is, anything else is evaluated at the cell centres and faces)."""
    drift.check_dim("f", grid.ndim)
    if drift.kind == "gradient":
        return drift.landscape, None
    if drift.kind == "field" and drift.grid == grid:
        return None, -drift.values
    return None, lambda points: -drift.at(points)


def sample_coefficients(grid: Grid, f: Any, grad_f: Any, D: Any) -> Coefficients:
    """Sample the loss (``f``) or the drift (``grad_f``) and ``D`` on ``grid``; exactly one of f, grad_f."""
    if (f is None) == (grad_f is None):
        raise ValueError("give exactly one of f (a Landscape or a field of values) and grad_f (a callable or a "
                         "field of shape grid.shape + (d,))")
    d = grid.ndim
    f_values = None
    if isinstance(f, Drift):
        f, grad_f = _drift_as_grad_f(grid, f)
    if f is not None:
        if isinstance(f, Landscape):
            if f.dim != d:
                raise ValueError(f"f is a {f.dim}-D landscape but the grid has {d} dimension(s)")
            f_values = f.on_grid(grid)
            grad_cells = f.grad_on_grid(grid)
        else:
            if callable(f) or np.shape(f) == grid.shape + (d,):
                raise ValueError(f"f must be a Landscape or the loss values on the grid (shape {grid.shape}); got "
                                 f"{'a function' if callable(f) else 'a vector field'}: wrap a loss function as "
                                 f"Landscape(value, dim={d}), or pass a drift as grad_f=...")
            f_values = grid.check_field("f", f)
            grad_cells = central_gradient(grid, f_values)
        face_df = [_right_neighbour(f_values, a) for a in range(d)]
        for df in face_df:  # f(c + e_a) - f(c), in place
            df -= f_values
    elif callable(grad_f):
        grad_cells = _call_field("grad_f", grad_f, grid.points(), (d,)).reshape(grid.shape + (d,))
        face_df = [h * _call_field("grad_f", grad_f, _face_points(grid, a), (d,))[:, a].reshape(grid.shape)
                   for a, h in enumerate(grid.spacing)]
    else:
        grad_cells = finite_array("grad_f", grad_f, shape=grid.shape + (d,))
        face_df = [h * 0.5 * (grad_cells[..., a] + _right_neighbour(grad_cells[..., a], a))
                   for a, h in enumerate(grid.spacing)]
    return Coefficients(face_df, np.ascontiguousarray(grad_cells), diffusion_on_grid(grid, D), f_values)
