"""Argument checks shared by the public Hamilton-Jacobi and Fokker-Planck entry points."""
from __future__ import annotations

from ..grid import Grid


def require_grid(grid, name: str = "grid") -> Grid:
    """Return ``grid`` if it is a :class:`pde_sgd.Grid`, else raise TypeError naming the parameter."""
    if not isinstance(grid, Grid):
        raise TypeError(f"{name} must be a pde_sgd.Grid, got {type(grid).__name__}")
    return grid
