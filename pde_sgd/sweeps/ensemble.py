"""SDE ensembles as sweeps: contiguous chunks of paths run as separate points, merged into one Result.

The noise of path p of a seed is addressed by (seed, p, step) (:mod:`pde_sgd.sde.rng`), so chunk
``[a, b)`` run anywhere (``simulate_sgd(..., paths=(a, b))``) gives exactly rows a..b-1 of the one-process
ensemble, and :func:`merge_paths` of the chunks equals it bit for bit.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..results import Result
from ..validation import positive_int
from .spec import Sweep
from .table import Table


def path_chunks(n_paths: int, n_chunks: int) -> list[tuple[int, int]]:
    """``n_chunks`` contiguous ranges ``[a, b)`` covering ``0..n_paths-1``, sizes differing by at most one."""
    n_paths = positive_int("n_paths", n_paths)
    n_chunks = positive_int("n_chunks", n_chunks)
    if n_chunks > n_paths:
        raise ValueError(f"n_chunks must be in [1, n_paths={n_paths}], got {n_chunks}")
    edges = [n_paths * i // n_chunks for i in range(n_chunks + 1)]
    return list(zip(edges[:-1], edges[1:]))


def ensemble_sweep(name: str, fn: Callable[..., Result], n_paths: int, n_chunks: int, *, description: str = "",
                   **fixed) -> Sweep:
    """A Sweep of ``n_chunks`` points ``{**fixed, n_paths, path_start, path_stop}``.

    ``fn(n_paths=..., path_start=a, path_stop=b, **fixed)`` must return paths a..b-1 of the ``n_paths``
    ensemble, e.g. by calling ``simulate_sgd(..., n_paths=n_paths, seed=seed, paths=(path_start, path_stop))``.
    """
    points = [{**fixed, "n_paths": n_paths, "path_start": a, "path_stop": b} for a, b in path_chunks(n_paths, n_chunks)]
    return Sweep(name, fn, points, description)


def merge_paths(table: Table, *, path_axes: dict[str, int] | None = None) -> Result:
    """One Result from the chunks of an :func:`ensemble_sweep`: arrays in ``path_axes`` (name -> axis; default
    ``{"x": 1}``, the path axis of ``simulate_sgd``'s (n_saves, n_paths, dim)) concatenated, the others equal in
    every chunk; params those of the chunks without ``paths``. Raises ValueError if a chunk is missing."""
    path_axes = {"x": 1} if path_axes is None else dict(path_axes)
    missing = [(p["path_start"], p["path_stop"]) for p, r in zip(table.points, table.results) if r is None]
    if missing:
        raise ValueError(f"ensemble {table.name!r}: chunks {missing} have no result (failed or not run)")
    done = sorted(table.finished(), key=lambda pr: pr[0]["path_start"])
    ranges = [(p["path_start"], p["path_stop"]) for p, _ in done]
    n_paths = done[0][0]["n_paths"]
    if [a for a, _ in ranges] != [0] + [b for _, b in ranges[:-1]] or ranges[-1][1] != n_paths:
        raise ValueError(f"ensemble {table.name!r}: chunks {ranges} do not tile 0..{n_paths - 1}")
    results = [r for _, r in done]
    first = results[0]
    arrays = {}
    for k, v in first.arrays.items():
        if k in path_axes:
            arrays[k] = np.concatenate([r[k] for r in results], axis=path_axes[k])
        elif all(np.array_equal(r[k], v) for r in results):
            arrays[k] = v
        else:
            raise ValueError(f"ensemble {table.name!r}: array {k!r} differs between chunks; name its path axis "
                             "in path_axes")
    params = {k: v for k, v in first.params.items() if k != "paths"}
    return Result(first.kind, arrays, params)
