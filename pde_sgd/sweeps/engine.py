"""run_sweep: compute the points of a sweep that its store lacks, on a backend, and gather the table.

The driver (the process calling :func:`run_sweep`) loads the finished points from the store, hands the
missing ones to the backend (``"serial"``: one after the other in this process; ``"dask"``: a Dask
cluster), and writes each Result to the store as soon as it arrives; so a driver killed at any moment loses
only the points in flight, and the next run computes just the missing ones. A point that raises is recorded
with its traceback (``<key>.failed.json``) and retried by the next run; the others go on. So is a point whose
Result cannot be stored (an object array, a NaN parameter, NaN/inf in an array unless ``allow_nonfinite``): one
bad point never blocks the sweep. A store that cannot be written stops the run with a StoreWriteError naming
the folder, before any point is computed where the folder is read-only.
"""
from __future__ import annotations

import os
import traceback
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

from tqdm.auto import tqdm

from ..results import Result
from ..validation import choice, positive, positive_int
from .points import PointFailure, run_point
from .spec import Sweep
from .store import Store
from .table import Table

BACKENDS = ("serial", "dask")
SCHEDULER_ENV = "PDE_SGD_SCHEDULER"
STORE_ENV = "PDE_SGD_STORE"  # folder holding the default stores (default ./sweeps)


def serial_backend(fn, todo: list[tuple[int, dict]]) -> Iterator[tuple[int, Result | PointFailure]]:
    """Run the points one after the other in this process."""
    for i, point in todo:
        yield i, run_point(fn, point)


def default_store(name: str) -> Path:
    """``$PDE_SGD_STORE/<name>``, else ``./sweeps/<name>`` (relative to the working folder, never inside the
    installed package)."""
    return Path(os.environ.get(STORE_ENV) or "sweeps") / name


def run_sweep(sweep: Sweep, *, store: str | os.PathLike | None = None, backend: str = "serial",
              scheduler: str | None = None, n_workers: int | None = None, timeout: float | None = None,
              allow_nonfinite: bool = False, progress: bool = True) -> Table:
    """Compute the points of ``sweep`` missing from ``store`` and return the table of all of them.

    Parameters
    ----------
    sweep : Sweep
    store : folder of the results (default :func:`default_store`: ``./sweeps/<sweep.name>``, or
        ``$PDE_SGD_STORE/<sweep.name>``).
    backend : ``"serial"`` (in this process) or ``"dask"``.
    scheduler : address of a running Dask scheduler (``tcp://host:port``); default the environment variable
        ``PDE_SGD_SCHEDULER``, else a LocalCluster started here (processes with one thread each, one per core
        or ``n_workers``, on 127.0.0.1, no dashboard) and closed at the end. Only with ``backend="dask"``.
    n_workers : size of the LocalCluster (only when no scheduler is used).
    timeout : seconds a point may run (default None: no limit); a point still running then is cancelled, its
        worker restarted (where it has a nanny, as in the LocalCluster), and it is a failed point saying so.
        Only with ``backend="dask"``: a serial point runs in this process, where compiled code cannot be
        stopped safely (run ``backend="dask", n_workers=1`` for one point at a time with a limit).
    allow_nonfinite : store Results with NaN/inf in float arrays (by default such a point fails, unless the
        Sweep itself was made with ``allow_nonfinite=True``).
    progress : show a progress bar of points done / failed / pending.

    Returns
    -------
    Table with the Results as stored (read back from the store), in point order; failed points have None.
    Ctrl-C stops the run (finished points stay stored; the next run resumes).
    """
    if not isinstance(sweep, Sweep):
        raise TypeError(f"run_sweep needs a Sweep, got {type(sweep).__name__}")
    choice("backend", backend, BACKENDS)
    if backend == "serial" and (scheduler is not None or n_workers is not None or timeout is not None):
        raise ValueError("scheduler, n_workers and timeout apply only to backend='dask' (a serial point runs in "
                         "this process and cannot be stopped safely; use backend='dask', n_workers=1 for a "
                         "per-point timeout)")
    if timeout is not None:
        timeout = positive("timeout", timeout)
    if backend == "dask":
        scheduler = scheduler or os.environ.get(SCHEDULER_ENV) or None
        if scheduler is not None and n_workers is not None:
            raise ValueError(f"n_workers sizes the LocalCluster started here; it cannot be used with the "
                             f"scheduler {scheduler!r} (size that cluster where it runs)")
        if n_workers is not None:
            positive_int("n_workers", n_workers)
    st = Store(default_store(sweep.name) if store is None else store)
    keys = sweep.keys
    st.write_manifest(sweep.name, list(sweep.points), keys)
    results: list[Result | None] = [st.load(k) for k in keys]
    todo = [(i, p) for i, (p, r) in enumerate(zip(sweep.points, results)) if r is None]
    failed: dict[int, str] = {}
    n_done = len(keys) - len(todo)
    bar = tqdm(total=len(keys), initial=n_done, desc=sweep.name, disable=not progress, unit="point")
    bar.set_postfix(done=n_done, failed=0, pending=len(todo))
    try:
        with closing(_backend(backend, sweep.fn, todo, scheduler, n_workers, timeout)) as outcomes:
            for i, outcome in outcomes:
                if not isinstance(outcome, PointFailure):
                    try:
                        results[i] = st.save(keys[i], outcome, allow_nonfinite=allow_nonfinite or sweep.allow_nonfinite)
                    except OSError:  # the store itself cannot be written (StoreWriteError): stop
                        raise
                    except Exception:  # this Result cannot be stored: a failed point, the sweep goes on
                        outcome = PointFailure("the point's Result cannot be stored:\n" + traceback.format_exc())
                if isinstance(outcome, PointFailure):
                    st.save_failure(keys[i], sweep.points[i], outcome.traceback)
                    failed[i] = outcome.traceback
                else:
                    n_done += 1
                bar.set_postfix(done=n_done, failed=len(failed), pending=len(keys) - n_done - len(failed),
                                refresh=False)
                bar.update()
    finally:
        bar.close()
    return Table(sweep.name, list(sweep.points), results, [(sweep.points[i], failed[i]) for i in sorted(failed)])


def _backend(backend: str, fn, todo, scheduler, n_workers, timeout) -> Iterator[tuple[int, Result | PointFailure]]:
    if backend == "serial" or not todo:
        return serial_backend(fn, todo)
    from .dask_backend import dask_backend  # dask is imported only here
    return dask_backend(fn, todo, scheduler=scheduler, n_workers=n_workers, timeout=timeout)
