"""One point of a sweep, run where a backend puts it: ``fn(**point)`` as a Result, or the failure it raised.

Shared by the serial backend (:mod:`.engine`) and the Dask backend (:mod:`.dask_backend`), which import it.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass

from ..results import Result


@dataclass(frozen=True)
class PointFailure:
    """A point that raised: the formatted traceback."""

    traceback: str


def run_point(fn, point: dict) -> Result | PointFailure:
    """``fn(**point)``, or the PointFailure it raised (also when it returns something other than a Result)."""
    try:
        result = fn(**point)
        if not isinstance(result, Result):
            raise TypeError(f"the point function {getattr(fn, '__qualname__', fn)!r} must return a "
                            f"pde_sgd.Result, got {type(result).__name__}")
        return result
    except Exception:  # any error of one point is recorded; the sweep goes on
        return PointFailure(traceback.format_exc())
