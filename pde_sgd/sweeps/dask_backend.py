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
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import cloudpickle
from distributed import Client, LocalCluster, as_completed

from ..results import Result
from .points import PointFailure, run_point

WORKER_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
_INSTALLED = ("site-packages", "dist-packages")
POLL_S = 0.05  # how often the driver looks for finished or overdue points when a timeout is set
CONNECT_TIMEOUT_S = 20.0  # how long to try reaching a scheduler given by address


def dask_backend(fn, todo: list[tuple[int, dict]], *, scheduler: str | None, n_workers: int | None,
                 timeout: float | None = None) -> Iterator[tuple[int, Result | PointFailure]]:
    """Submit the points, yield ``(index, Result or PointFailure)`` as they complete (any order).

    A point whose worker died under it (``KilledWorker``, a lost or cancelled task: the scheduler gives up on
    every task that was on a worker killed too often, innocent or not) is run again alone after the others;
    only if it fails alone too is it a failed point, named as the culprit. With ``timeout`` at most one point
    per worker thread is in flight (so a point's clock starts when a worker takes it); a point still running
    after ``timeout`` seconds is cancelled and its worker restarted. Closing the generator (Ctrl-C, an error
    in the driver) cancels the points still pending.
    """
    ship_by_value(fn)
    payload = cloudpickle.dumps(fn)  # Dask's own pickling would send fn by name
    with _client(scheduler, n_workers) as client:
        # the payload travels with each task: scattered data is lost when the workers holding it die, and with
        # it every pending point ("lost dependencies", "already forgotten")
        suspects: list[tuple[int, dict]] = []
        yield from _run_points(client, payload, todo, timeout, suspects)
        for suspect in suspects:  # alone, so that no other point's worker crash can be blamed on it
            yield from _run_points(client, payload, [suspect], timeout, None)


def _run_points(client: Client, payload: bytes, todo: list[tuple[int, dict]], timeout: float | None,
                suspects: list | None) -> Iterator[tuple[int, Result | PointFailure]]:
    """Run ``todo``; a point whose task was lost goes to ``suspects`` (or, when None, is a failed point)."""
    pending = list(reversed(todo))
    running: dict = {}  # future -> (index, point, monotonic submission time)
    completed = as_completed()
    try:
        while pending or running:
            window = len(todo) if timeout is None else max(1, sum(client.nthreads().values()))
            while pending and len(running) < window:
                i, point = pending.pop()
                future = client.submit(_run_pickled, payload, point, pure=False)
                running[future] = (i, point, time.monotonic())
                completed.add(future)
            batch = [next(completed)] if timeout is None else completed.next_batch(block=False)
            for future in batch:
                if future not in running:
                    continue  # cancelled after its timeout
                i, point, _ = running.pop(future)
                outcome = _outcome(future, suspects is None)
                future.release()
                if outcome is None:
                    suspects.append((i, point))
                else:
                    yield i, outcome
            if timeout is not None:
                yield from _stop_overdue(client, running, timeout)
                if not batch:
                    time.sleep(POLL_S)
    finally:
        client.cancel(list(running))


def _outcome(future, alone: bool) -> Result | PointFailure | None:
    """The point's Result or PointFailure; for a task Dask lost (its worker died, it was cancelled), None if
    it has not run alone yet, else a PointFailure blaming the point."""
    try:
        return future.result()
    except Exception:  # run_point catches the point's own errors: this is the cluster losing the task
        if not alone:
            return None
        return PointFailure("the point's worker died under it (or Dask lost the task) also when the point ran "
                            "alone: this point crashes its worker (segfault, os._exit, out of memory)\n"
                            + traceback.format_exc())


def _stop_overdue(client: Client, running: dict, timeout: float) -> Iterator[tuple[int, PointFailure]]:
    """Cancel the points running longer than ``timeout`` and restart their workers; yield them as failures."""
    now = time.monotonic()
    overdue = [f for f, (_, _, start) in running.items() if now - start > timeout and not f.done()]
    if not overdue:
        return
    where = {key: w for w, keys in client.processing().items() for key in keys}
    workers = sorted({where[f.key] for f in overdue if f.key in where})
    client.cancel(overdue)
    status = client.restart_workers(workers, raise_for_error=False) if workers else {}
    for f in overdue:
        i, _, _ = running.pop(f)
        w = where.get(f.key)
        stopped = "its worker was restarted" if w and status.get(w) == "OK" else (
            f"its worker {w} could not be restarted ({status.get(w)}; a worker without a nanny keeps running "
            f"the point)" if w else "it was cancelled")
        yield i, PointFailure(f"PointTimeout: the point ran longer than timeout={timeout:g} s; {stopped}")


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
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, ValueError, TypeError) as exc:  # refused, timed out, unknown host, malformed address
            raise OSError(f"cannot connect to the Dask scheduler at {scheduler!r} (tried for at most "
                          f"{CONNECT_TIMEOUT_S:g} s): {type(exc).__name__}: {exc}") from None
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
