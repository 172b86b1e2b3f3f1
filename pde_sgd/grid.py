"""Uniform cell-centred grids in 1, 2 and 3 dimensions.

Cell i along an axis covers [lower + i h, lower + (i+1) h] with h = (upper - lower) / n and its centre
x_i = lower + (i + 1/2) h. Every field on the grid is an array of shape ``grid.shape`` sampled at the centres.
Boundary conditions are per axis: ``"periodic"`` (the domain wraps: cell n-1 neighbours cell 0) or
``"neumann"`` (zero normal gradient / no flux through the outer faces).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .validation import choice, finite_array, positive_int, require_memory, short_repr

BOUNDARY_CONDITIONS = ("periodic", "neumann")
MAX_CELLS = 2 ** 40  # far beyond memory; guards int64 overflow of the cell count


class Grid:
    """A uniform cell-centred grid on the box [lower, upper] in ``ndim`` = 1, 2 or 3 dimensions.

    Parameters
    ----------
    lower, upper : float or sequence of float
        Box corners, one value per axis (a scalar means a 1-D grid); ``upper > lower``.
    shape : int or sequence of int
        Number of cells per axis, each >= 3; MemoryError (naming the shape and the estimate) if one float64
        field on the grid would not fit in this machine's physical memory.
    bc : str or sequence of str
        ``"periodic"`` or ``"neumann"``, for all axes or one per axis.
    """

    def __init__(self, lower: float | Sequence[float], upper: float | Sequence[float],
                 shape: int | Sequence[int], bc: str | Sequence[str] = "neumann") -> None:
        lo = np.atleast_1d(finite_array("lower", lower))
        hi = np.atleast_1d(finite_array("upper", upper))
        shp = np.atleast_1d(np.asarray(shape))
        if lo.ndim != 1 or not 1 <= lo.size <= 3:
            raise ValueError(f"lower must give 1 to 3 axes, got {lower!r}")
        if hi.shape != lo.shape or shp.shape != lo.shape:
            raise ValueError(f"lower, upper and shape must have one entry per axis; got {lower!r}, {upper!r}, {shape!r}")
        if not np.issubdtype(shp.dtype, np.integer) or np.any(shp < 3):
            raise ValueError(f"shape must be integers >= 3 per axis, got {shape!r}")
        if np.any(hi <= lo):
            raise ValueError(f"upper must exceed lower on every axis, got lower={lo}, upper={hi}")
        with np.errstate(over="ignore"):
            span = hi - lo
        if not np.all(np.isfinite(span)):
            raise ValueError(f"upper - lower must be finite on every axis, got lower={lo}, upper={hi}")
        if math.prod(int(n) for n in shp) > MAX_CELLS:
            raise ValueError(f"shape {[int(n) for n in shp]} has {math.prod(int(n) for n in shp):.3g} cells; at most "
                             f"{MAX_CELLS:.3g} (2**40) are allowed")
        cells = math.prod(int(n) for n in shp)
        require_memory(f"a grid of shape {tuple(int(n) for n in shp)} ({cells:.3g} cells, one float64 field)",
                       8.0 * cells, available=False)
        if isinstance(bc, str):
            bcs = (bc,) * lo.size
        elif isinstance(bc, (list, tuple)) and all(isinstance(b, str) for b in bc):
            bcs = tuple(bc)
        else:
            raise ValueError(f"bc must be 'periodic' or 'neumann', or a sequence of them (one per axis), got {bc!r}")
        if len(bcs) != lo.size:
            raise ValueError(f"bc must be one string or one per axis ({lo.size}), got {bc!r}")
        for b in bcs:
            choice("bc", b, BOUNDARY_CONDITIONS)
        self.lower = tuple(float(v) for v in lo)
        self.upper = tuple(float(v) for v in hi)
        self.shape = tuple(int(n) for n in shp)
        self.bc = bcs

    # --- geometry -------------------------------------------------------------------------------------
    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def spacing(self) -> tuple[float, ...]:
        """Cell widths h per axis."""
        return tuple((u - l) / n for l, u, n in zip(self.lower, self.upper, self.shape))

    @property
    def cell_volume(self) -> float:
        return float(np.prod(self.spacing))

    @property
    def periodic(self) -> tuple[bool, ...]:
        return tuple(b == "periodic" for b in self.bc)

    @property
    def axes(self) -> list[np.ndarray]:
        """Cell-centre coordinates along each axis."""
        return [l + (np.arange(n) + 0.5) * h for l, n, h in zip(self.lower, self.shape, self.spacing)]

    @property
    def coords(self) -> list[np.ndarray]:
        """Coordinate arrays of shape ``grid.shape``, one per axis (``indexing='ij'``)."""
        require_memory(f"the coordinates of a grid of shape {self.shape}", 8.0 * self.ndim * self.size)
        return np.meshgrid(*self.axes, indexing="ij")

    def points(self) -> np.ndarray:
        """All cell centres as an array of shape (grid.size, ndim), in C order of the grid."""
        require_memory(f"the cell centres of a grid of shape {self.shape}", 16.0 * self.ndim * self.size)
        return np.stack([c.ravel() for c in self.coords], axis=-1)

    def sample(self, func: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Evaluate ``func`` (points of shape (n, ndim) -> values (n,) or (n, ...)) at the cell centres.

        Returns an array of shape ``grid.shape`` (plus any trailing value shape).
        """
        values = np.asarray(func(self.points()), dtype=np.float64)
        if values.shape[:1] != (self.size,):
            raise ValueError(f"func must return one value per point ({self.size}), got shape {values.shape}")
        if not np.all(np.isfinite(values)):
            raise ValueError("func returned NaN or inf at some grid points; sampled values must be finite")
        return values.reshape(self.shape + values.shape[1:])

    def integrate(self, field: np.ndarray) -> float:
        """Midpoint-rule integral of a field over the box."""
        return float(np.sum(self.check_field("field", field)) * self.cell_volume)

    def check_field(self, name: str, field: Any) -> np.ndarray:
        """Return ``field`` as a finite float array of shape ``grid.shape`` or raise ValueError naming it."""
        return finite_array(name, field, shape=self.shape)

    def refined(self, factor: int = 2) -> "Grid":
        """The same box with ``factor`` times as many cells per axis (``factor`` an integer >= 1)."""
        factor = positive_int("factor", factor)
        return Grid(self.lower, self.upper, [n * factor for n in self.shape], self.bc)

    # --- persistence ----------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"lower": list(self.lower), "upper": list(self.upper), "shape": list(self.shape),
                "bc": list(self.bc)}

    @classmethod
    def from_dict(cls, d: dict) -> "Grid":
        """The grid of :meth:`to_dict`'s output; ValueError naming what is missing."""
        keys = ("lower", "upper", "shape", "bc")
        if not isinstance(d, dict) or any(k not in d for k in keys):
            raise ValueError(f"Grid.from_dict needs a dict with keys {keys}, got {short_repr(d)}")
        return cls(d["lower"], d["upper"], d["shape"], d["bc"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Grid) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"Grid(lower={self.lower}, upper={self.upper}, shape={self.shape}, bc={self.bc})"


def require_grid(grid: Any, name: str = "grid") -> Grid:
    """Return ``grid`` if it is a :class:`Grid`, else raise TypeError naming the parameter."""
    if not isinstance(grid, Grid):
        raise TypeError(f"{name} must be a pde_sgd.Grid, got {type(grid).__name__}")
    return grid
