"""One drift specification b(x) for every solver: Fokker-Planck, the Numba SDE kernels and the torchsde bridge.

Convention (THEORY.md): dX = b dt + sqrt(2 beta^-1 D(X)) dW, rho_t = div(-b rho + beta^-1 div(D rho)); for a
gradient drift b = -grad f. The twin of :class:`pde_sgd.diffusion.Diffusion`: a :class:`Drift` is given once,
in one of four forms, and each solver takes the form it needs:

=======================================  ===========================================================================
``Drift.gradient(landscape)``             b = -grad f for a :class:`~pde_sgd.landscapes.Landscape` (the same as
                                          passing the landscape itself)
``Drift.field(grid, values)``             b sampled at the cell centres of ``grid``: (*grid.shape, dim);
                                          multilinear in between (SDE, torch, FP on another grid)
``Drift.function(b, dim)``                an ``@njit`` point function ``b(x, out)`` (or ``b(x, t, out)``) writing
                                          b(x) (dim,); FP samples it at cell centres and faces (t = 0), the SDE
                                          kernels call it every step, torch through numpy (or ``torch_fn``:
                                          x (batch, dim) -> (batch, dim))
``Drift.linear(F)``                       b(x) = -F x for a constant (dim, dim) matrix F (any F: a non-symmetric
                                          one gives a rotational, non-gradient drift)
=======================================  ===========================================================================

Solvers route a spec onto their existing machinery (FP's ``grad_f`` = -b, the kernels' landscape / field /
callable modes, torch's gradient function); a ``precondition`` M applies to gradient drifts only.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numba import types

from .gridfields import GridData, interp_points
from .jitfuncs import at_points, check_timed_function, point_cfunc, sample_points
from .landscapes import Landscape
from .validation import finite_array, positive_int

DRIFT_SIG = types.void(types.float64[::1], types.float64, types.float64[::1])
KINDS = ("gradient", "field", "function", "linear")


class Drift:
    """A drift field b(x) in one of the forms of the module docstring; build with the class methods."""

    def __init__(self, kind: str, dim: int, *, landscape: Landscape | None = None, grid=None,
                 values: np.ndarray | None = None, fn=None, torch_fn: Callable | None = None,
                 matrix: np.ndarray | None = None) -> None:
        self.kind, self.dim = kind, dim
        self.landscape, self.grid, self.values = landscape, grid, values
        self.fn, self.torch_fn, self.matrix = fn, torch_fn, matrix

    @classmethod
    def gradient(cls, landscape) -> "Drift":
        """b = -grad f for a Landscape f."""
        if not isinstance(landscape, Landscape):
            raise ValueError(f"landscape must be a pde_sgd Landscape, got {type(landscape).__name__}")
        return cls("gradient", landscape.dim, landscape=landscape)

    @classmethod
    def field(cls, grid, values) -> "Drift":
        """b at the cell centres of ``grid``: values of shape (*grid.shape, dim), finite."""
        from .grid import require_grid

        grid = require_grid(grid)
        arr = finite_array("values", values, shape=grid.shape + (grid.ndim,))
        return cls("field", grid.ndim, grid=grid, values=np.ascontiguousarray(arr))

    @classmethod
    def function(cls, b, dim: int, *, torch_fn: Callable | None = None, check_at=None) -> "Drift":
        """An @njit point function ``b(x, out)`` or ``b(x, t, out)`` (x, out: (dim,)), first run in Python mode at
        the points ``check_at`` (t = 0; default: :func:`pde_sgd.jitfuncs.sample_points`): ValueError naming b for
        an exception, an index out of bounds, an unwritten or non-finite entry of ``out``."""
        dim = positive_int("dim", dim)
        fn = point_cfunc("b", b, DRIFT_SIG, torch_fn=torch_fn, torch_out="(batch, dim)")
        check_timed_function("drift b", b, sample_points("check_at", dim, check_at), (dim,))
        return cls("function", dim, fn=fn, torch_fn=torch_fn)

    @classmethod
    def linear(cls, F) -> "Drift":
        """b(x) = -F x for a constant square matrix F."""
        F = finite_array("F", F, ndim=2)
        if F.shape[0] != F.shape[1]:
            raise ValueError(f"F must be a square (dim, dim) matrix, got shape {F.shape}")
        return cls("linear", F.shape[0], matrix=np.ascontiguousarray(F))

    # --- evaluation ------------------------------------------------------------------------------------
    def at(self, points, t: float = 0.0) -> np.ndarray:
        """b at ``points`` (n, dim) -> (n, dim), checked finite."""
        pts = np.ascontiguousarray(finite_array("points", points, ndim=2))
        if pts.shape[1] != self.dim:
            raise ValueError(f"points must have {self.dim} columns, got shape {pts.shape}")
        if self.kind == "gradient":
            out = -self.landscape.grad(pts)
        elif self.kind == "linear":
            out = -pts @ self.matrix.T
        elif self.kind == "function":
            out = at_points(self.fn, pts, t, (self.dim,))
        else:
            out = interp_points(*GridData(self.grid, self.values, (self.dim,)).arrays(), pts)
        return finite_array("b(x)", out)

    def check_dim(self, name: str, dim: int) -> None:
        """ValueError naming ``name`` unless this drift acts on ``dim`` dimensions."""
        if self.dim != dim:
            raise ValueError(f"{name} is a drift in dim={self.dim} but the problem has dim={dim}")

    def describe(self) -> dict:
        out: dict[str, Any] = {"kind": self.kind, "dim": self.dim}
        if self.landscape is not None:
            out["landscape"] = self.landscape.to_dict()
        if self.matrix is not None:
            out["F"] = self.matrix.tolist()
        if self.grid is not None:
            out["grid"] = self.grid.to_dict()
        return out

    to_dict = describe

    def __repr__(self) -> str:
        return f"Drift({self.kind!r}, dim={self.dim})"
