"""What a sweep is: a point function, the parameter points it runs on, and the key each point is stored under.

A point is a dict of JSON scalars (int, float, str, bool); ``fn(**point)`` returns a :class:`pde_sgd.Result`.
A point's key is ``sha256(json({"point": point, "pde_sgd_version": version}, sort_keys=True))[:20]`` of the
point with integral floats written as ints (``{"i": 1.0}`` has the key of ``{"i": 1}``; bools stay bools, so
``{"i": True}`` has its own): equal points give equal keys on every machine, and a new package version never
reuses an old result.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from ..results import Result

SCALARS = (bool, int, float, str)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def grid(**axes) -> list[dict]:
    """The Cartesian product of the axes' value lists: key order preserved, the last key varying fastest.

    ``grid(lr=[0.1, 0.2], seed=[0, 1])`` is ``[{lr: 0.1, seed: 0}, {lr: 0.1, seed: 1}, {lr: 0.2, seed: 0},
    {lr: 0.2, seed: 1}]``. Each axis is a list, tuple, range or 1-D array of JSON scalars (numpy scalars are
    turned into Python ones); raises ValueError for no axes, an empty axis or a value that is not a scalar.
    """
    if not axes:
        raise ValueError("grid needs at least one axis, e.g. grid(seed=[0, 1, 2])")
    values = {}
    for name, axis in axes.items():
        if isinstance(axis, (str, bytes, dict)) or not isinstance(axis, (list, tuple, range, np.ndarray)):
            raise ValueError(f"grid axis {name!r} must be a list of values, got {type(axis).__name__} {axis!r}")
        axis = list(np.asarray(axis).ravel()) if isinstance(axis, np.ndarray) else list(axis)
        if not axis:
            raise ValueError(f"grid axis {name!r} is empty; every axis needs at least one value")
        values[name] = [scalar(f"grid axis {name!r}", v) for v in axis]
    return [dict(zip(values, combo)) for combo in itertools.product(*values.values())]


def scalar(where: str, value: Any) -> bool | int | float | str:
    """``value`` as a Python JSON scalar (numpy scalars converted); ValueError for anything else or non-finite."""
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, SCALARS):
        raise ValueError(f"{where}: value {value!r} of type {type(value).__name__} is not a JSON scalar "
                         "(int, float, str or bool)")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}: value {value!r} is not finite")
    return value


def check_point(point: Any, index: int) -> dict:
    """A validated copy of one point: a dict with str keys (valid Python identifiers) and JSON scalar values."""
    if not isinstance(point, dict):
        raise ValueError(f"point {index} must be a dict of parameters, got {type(point).__name__} {point!r}")
    out = {}
    for k, v in point.items():
        if not isinstance(k, str) or not k.isidentifier():
            raise ValueError(f"point {index}: parameter name {k!r} is not a valid keyword argument name")
        out[k] = scalar(f"point {index} parameter {k!r}", v)
    return out


def point_key(point: dict) -> str:
    """The storage key of ``point``: 20 hex digits of the sha256 of the point and the package version."""
    from .._version import __version__
    text = json.dumps({"point": {k: _key_value(v) for k, v in point.items()}, "pde_sgd_version": __version__},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _key_value(value: Any) -> Any:
    """``value`` as it enters a key: an integral float as the equal int (1.0 -> 1, -0.0 -> 0), others unchanged."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@dataclass(frozen=True)
class Sweep:
    """A named point function and its points: ``fn(**point)`` must return a :class:`pde_sgd.Result`.

    ``fn`` should be a module-level function (it is pickled to Dask workers; functions of a ``simulations/``
    file loaded by path travel by value). ``points`` is a list of dicts of JSON scalars, e.g. from
    :func:`grid`; they are validated (and numpy scalars converted) when the Sweep is made. Raises ValueError
    for an empty or duplicated point list, a bad name or a non-scalar value; TypeError if fn is not callable.
    ``allow_nonfinite=True`` declares that its Results may hold NaN/inf where a run is known to have failed
    numerically (e.g. a diverged training run, marked in the Result): :func:`run_sweep` then stores them.
    """

    name: str
    fn: Callable[..., Result]
    points: list[dict] = field(repr=False)
    description: str = ""
    allow_nonfinite: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValueError(f"sweep name must be a non-empty string of letters, digits, '_', '-', '.' "
                             f"(it names the store folder), got {self.name!r}")
        if not isinstance(self.allow_nonfinite, bool):
            raise TypeError(f"sweep {self.name!r}: allow_nonfinite must be a bool, got {self.allow_nonfinite!r}")
        if not callable(self.fn):
            raise TypeError(f"sweep {self.name!r}: fn must be callable (a module-level function), got {self.fn!r}")
        if isinstance(self.points, dict) or not isinstance(self.points, (list, tuple)):
            raise ValueError(f"sweep {self.name!r}: points must be a list of dicts, got {type(self.points).__name__}")
        if not self.points:
            raise ValueError(f"sweep {self.name!r} has no points; give at least one (e.g. grid(seed=[0]))")
        object.__setattr__(self, "points", [check_point(p, i) for i, p in enumerate(self.points)])
        seen: dict[str, int] = {}
        for i, key in enumerate(self.keys):
            j = seen.setdefault(key, i)
            if j != i:
                raise ValueError(f"sweep {self.name!r}: points {j} and {i} are equal ({self.points[i]}); each point "
                                 "must be unique")

    @cached_property
    def keys(self) -> list[str]:
        """The storage key of each point, in order (hashed once, when the Sweep is made)."""
        return [point_key(p) for p in self.points]
