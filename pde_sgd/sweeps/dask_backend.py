"""The Dask backend: points run on a Dask cluster, results come back to the driver, which stores them.

Without a scheduler address a ``LocalCluster`` is started here (worker processes with one thread each, one
per core by default, listening on 127.0.0.1, no dashboard; NUMBA/OMP/MKL limited to one thread per worker)
and closed at the end. With an address (``tcp://host:port``) the points run on that existing cluster, whose
workers need only the same Python environment: the driver writes the store, never the workers. Point
functions of files that are not installed packages (``simulations/*.py`` loaded by path, a test file,
a script) are sent to the workers by value (``cloudpickle.register_pickle_by_value``).
"""
from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import cloudpickle
from distributed import Client, LocalCluster, as_completed

from ..results import Result
from .engine import PointFailure, run_point

WORKER_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
_INSTALLED = ("site-packages", "dist-packages")


def dask_backend(fn, todo: list[tuple[int, dict]], *, scheduler: str | None,
                 n_workers: int | None, timeout: float | None = None) -> Iterator[tuple[int, Result | PointFailure]]:
    """Submit every point, yield ``(index, Result or PointFailure)`` as they complete (any order).

    Closing the generator (Ctrl-C, an error in the driver) cancels the points still pending.
    """
    ship_by_value(fn)
    payload = cloudpickle.dumps(fn)  # Dask's own pickling would send fn by name
    with _client(scheduler, n_workers) as client:
        shared = client.scatter(payload, broadcast=True, hash=False)  # sent once, not with every point
        futures = {client.submit(_run_pickled, shared, point, pure=False): i for i, point in todo}
        try:
            for future in as_completed(futures):
                try:
                    outcome = future.result()
                except Exception:  # the worker died or the result could not travel back
                    outcome = PointFailure(traceback.format_exc())
                future.release()
                yield futures[future], outcome
        finally:
            client.cancel(list(futures))


def _run_pickled(payload: bytes, point: dict) -> Result | PointFailure:
    """On a worker: unpickle the point function (once per worker) and run the point."""
    return run_point(_unpickle(payload), point)


@lru_cache(maxsize=4)
def _unpickle(payload: bytes):
    return cloudpickle.loads(payload)


@contextmanager
def _client(scheduler: str | None, n_workers: int | None) -> Iterator[Client]:
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise OSError(f"cannot reach the Dask scheduler at {scheduler!r}: {exc}") from None
        with client:
            yield client
        return
    n = n_workers or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, silence_logs=logging.WARNING, env=WORKER_ENV) as cluster, \
            Client(cluster) as client:
        yield client


def ship_by_value(fn) -> None:
    """Make ``fn``'s module, and every ``simulations/`` file loaded by path, pickle by value (not by name)."""
    names = {getattr(fn, "__module__", None)} | {m for m in sys.modules if m.startswith("pde_sgd_simulations_")}
    for name in names:
        module = sys.modules.get(name) if name else None
        if module is None or name == "__main__" or _installed(module):
            continue  # __main__ and modules unknown to sys.modules are pickled by value by cloudpickle itself
        cloudpickle.register_pickle_by_value(module)


def _installed(module) -> bool:
    """True for pde_sgd, built-in modules and installed packages (importable by name on any worker)."""
    if module.__name__.partition(".")[0] == "pde_sgd":
        return True
    file = getattr(module, "__file__", None)
    return file is None or any(part in _INSTALLED for part in Path(file).resolve().parts)
