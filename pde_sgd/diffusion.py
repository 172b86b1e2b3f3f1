"""One diffusion specification D(x) for every solver: Fokker-Planck, the Numba SDE kernels and the torchsde bridge.

Convention (THEORY.md): dX = b dt + sqrt(2 beta^-1 D(X)) dW, rho_t = div(-b rho + beta^-1 div(D rho)); D is a
symmetric positive semi-definite (dim, dim) matrix at every x. A :class:`Diffusion` is given once, in one of
four forms, and each solver takes the form it needs:

=======================================  ===========================================================================
``Diffusion.constant(D, dim)``            a scalar c (D = c I) or a (dim, dim) matrix
``Diffusion.field(grid, values)``         values at the cell centres of ``grid``: (*grid.shape, dim, dim), or
                                          (*grid.shape) for D = c(x) I; multilinear in between (SDE, torch)
``Diffusion.function(D, dim)``            an ``@njit`` point function ``D(x, out)`` (or ``D(x, t, out)``) writing
                                          the (dim, dim) matrix at x; FP samples it at the cell centres (t = 0),
                                          the SDE kernels call it every step, torch calls it through numpy (or
                                          ``torch_fn``: x (batch, dim) -> (batch, dim, dim))
``Diffusion.low_rank(V)``                 D = V V^T for a constant (dim, r) factor V (r noise columns)
=======================================  ===========================================================================

Every form is validated symmetric PSD where it is evaluated (ValueError naming D).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numba import types

from .gridfields import GridData, interp_points
from .jitfuncs import at_points, check_timed_function, point_cfunc, sample_points
from .validation import finite_array, positive, positive_int, short_repr, spd_matrices

DIFFUSION_SIG = types.void(types.float64[::1], types.float64, types.float64[:, ::1])
KINDS = ("constant", "field", "function", "low_rank")


class Diffusion:
    """A diffusion matrix field D(x) in one of the forms of the module docstring; build with the class methods."""

    def __init__(self, kind: str, dim: int, *, matrix: np.ndarray | None = None, grid=None,
                 values: np.ndarray | None = None, fn=None, torch_fn: Callable | None = None,
                 factor: np.ndarray | None = None) -> None:
        self.kind, self.dim = kind, dim
        self.matrix, self.grid, self.values = matrix, grid, values
        self.fn, self.torch_fn, self.factor = fn, torch_fn, factor

    @classmethod
    def constant(cls, D, dim: int | None = None) -> "Diffusion":
        """D = c I (scalar c >= 0; needs ``dim``) or a constant symmetric PSD (dim, dim) matrix."""
        if np.ndim(D) == 0:
            c = positive("D", D, allow_zero=True)
            dim = positive_int("dim", dim) if dim is not None else None
            if dim is None:
                raise ValueError("dim is required for a scalar D (D = c I)")
            return cls("constant", dim, matrix=c * np.eye(dim))
        arr = finite_array("D", D, ndim=2)
        mat = spd_matrices("D", arr, arr.shape[0])
        if dim is not None and mat.shape[0] != dim:
            raise ValueError(f"D must be ({dim}, {dim}), got {mat.shape}")
        return cls("constant", mat.shape[0], matrix=mat)

    @classmethod
    def field(cls, grid, values) -> "Diffusion":
        """Values at the cell centres: (*grid.shape, dim, dim), or a scalar field (*grid.shape) for D = c(x) I."""
        from .grid import require_grid

        grid = require_grid(grid)
        d = grid.ndim
        arr = finite_array("D", values)
        if arr.shape == grid.shape and arr.shape != (d, d):
            if np.any(arr < 0):
                raise ValueError("D given as a scalar field (D = c(x) I) must be >= 0 everywhere")
            arr = arr[..., None, None] * np.eye(d)
        if arr.shape != grid.shape + (d, d):
            raise ValueError(f"D field must have shape {grid.shape + (d, d)} or {grid.shape} on this grid, "
                             f"got {arr.shape}")
        return cls("field", d, grid=grid, values=np.ascontiguousarray(spd_matrices("D", arr, d)))

    @classmethod
    def function(cls, D, dim: int, *, torch_fn: Callable | None = None, check_at=None) -> "Diffusion":
        """An @njit point function ``D(x, out)`` or ``D(x, t, out)`` (x: (dim,), out: (dim, dim)), first run in
        Python mode at the points ``check_at`` (t = 0; default: :func:`pde_sgd.jitfuncs.sample_points`):
        ValueError naming D(x) for an exception, an index out of bounds, an unwritten or non-finite entry of
        ``out``, or a matrix that is not symmetric PSD."""
        dim = positive_int("dim", dim)
        fn = point_cfunc("D", D, DIFFUSION_SIG, torch_fn=torch_fn, torch_out="(batch, dim, dim)")
        vals = check_timed_function("D(x)", D, sample_points("check_at", dim, check_at), (dim, dim))
        spd_matrices("D(x)", vals, dim)
        return cls("function", dim, fn=fn, torch_fn=torch_fn)

    @classmethod
    def low_rank(cls, V) -> "Diffusion":
        """D = V V^T with a constant factor V of shape (dim, r) (finite, and V V^T finite: ValueError naming V)."""
        V = finite_array("V", V, ndim=2)
        with np.errstate(over="ignore", invalid="ignore"):
            D = V @ V.T
        if not np.all(np.isfinite(D)):
            raise ValueError(f"V is too large: D = V V^T overflows (max |V| = {np.abs(V).max():.3g}); the entries of "
                             f"V must stay below about 1e150 so that D = V V^T is finite")
        return cls("low_rank", V.shape[0], factor=np.ascontiguousarray(V), matrix=D)

    # --- evaluation ------------------------------------------------------------------------------------
    def at(self, points, t: float = 0.0) -> np.ndarray:
        """D at ``points`` (n, dim) -> (n, dim, dim), validated symmetric PSD."""
        pts = np.ascontiguousarray(finite_array("points", points, ndim=2))
        if pts.shape[1] != self.dim:
            raise ValueError(f"points must have {self.dim} columns, got shape {pts.shape}")
        if self.kind in ("constant", "low_rank"):
            return np.broadcast_to(self.matrix, (pts.shape[0], self.dim, self.dim)).copy()
        if self.kind == "function":
            return spd_matrices("D", at_points(self.fn, pts, t, (self.dim, self.dim)), self.dim)
        g = GridData(self.grid, self.values, (self.dim, self.dim))
        return interp_points(*g.arrays(), pts).reshape(-1, self.dim, self.dim)

    def on_grid(self, grid) -> np.ndarray:
        """D at the cell centres of ``grid``: (*grid.shape, dim, dim) (a field must live on this grid)."""
        if grid.ndim != self.dim:
            raise ValueError(f"D has dim={self.dim} but the grid has {grid.ndim} dimension(s)")
        if self.kind == "field":
            if self.grid != grid:
                raise ValueError(f"D is a field on {self.grid!r}; the solver's grid is {grid!r}")
            return self.values
        return self.at(grid.points()).reshape(grid.shape + (self.dim, self.dim))

    def describe(self) -> dict:
        out: dict[str, Any] = {"kind": self.kind, "dim": self.dim}
        if self.matrix is not None and self.kind == "constant":
            out["D"] = self.matrix.tolist()
        if self.factor is not None:
            out["V"] = self.factor.tolist()
        if self.grid is not None:
            out["grid"] = self.grid.to_dict()
        return out

    to_dict = describe

    @classmethod
    def from_dict(cls, d: dict) -> "Diffusion":
        """Rebuild a ``"constant"`` or ``"low_rank"`` D from :meth:`describe`'s output (a field or a function
        cannot be rebuilt from its description: ValueError)."""
        if isinstance(d, dict) and d.get("kind") == "constant" and "D" in d:
            return cls.constant(d["D"])
        if isinstance(d, dict) and d.get("kind") == "low_rank" and "V" in d:
            return cls.low_rank(d["V"])
        raise ValueError(f"Diffusion.from_dict rebuilds only kinds 'constant' (key 'D') and 'low_rank' (key 'V'), "
                         f"got {short_repr(d)}")

    def __repr__(self) -> str:
        return f"Diffusion({self.kind!r}, dim={self.dim})"
