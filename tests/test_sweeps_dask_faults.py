"""The Dask backend under faults (issue 20): a point that kills its worker every time is the one failed point
(the innocent points it took down are run again), a hung point is stopped by the per-point timeout and its
worker restarted, an unreachable scheduler is a prompt OSError naming the address."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pde_sgd.sweeps import Sweep, grid, load_module, run_sweep
from pde_sgd.sweeps import dask_backend
from test_sweeps_dask import _calls
from test_sweeps_engine import _assert_same_table

HERE = Path(__file__).resolve().parent
P = load_module(HERE / "sweep_points.py")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two one-thread worker processes with nannies; a task is given up after one worker death (so the
    scheduler also gives up on innocent points that were on a dying worker)."""
    import dask
    from distributed import LocalCluster

    log = tmp_path_factory.mktemp("log")
    old = os.environ.get(P.CALL_LOG)
    os.environ[P.CALL_LOG] = str(log)  # inherited by the worker processes
    try:
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
                LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                             dashboard_address=None, env=dask_backend.WORKER_ENV) as c:
            yield c, log
    finally:
        os.environ.pop(P.CALL_LOG) if old is None else os.environ.__setitem__(P.CALL_LOG, old)


def test_a_point_that_kills_its_worker_is_the_only_failure(cluster, tmp_path):
    c, _ = cluster
    sw = Sweep("k", P.kills_worker_at_two, grid(x=[1, 2, 3, 4, 5, 6], delay=[0.2]))
    t = run_sweep(sw, store=tmp_path / "dask", backend="dask", scheduler=c.scheduler_address, progress=False)
    (point, tb), = t.failed
    assert point == {"x": 2, "delay": 0.2} and "also when the point ran alone" in tb and "KilledWorker" in tb
    serial = run_sweep(Sweep("k", P.powers_of_x, [p for p in sw.points]), store=tmp_path / "ref", progress=False)
    serial.results[1] = None
    _assert_same_table(t, serial)  # every innocent point finished, with its own result


def test_a_hung_point_times_out_and_its_worker_is_restarted(cluster, tmp_path):
    c, log = cluster
    sw = Sweep("h", P.sleeps_at_two, grid(x=[1, 2, 3, 4], delay=[600.0]))
    t = run_sweep(sw, store=tmp_path, backend="dask", scheduler=c.scheduler_address, timeout=2, progress=False)
    (point, tb), = t.failed
    assert point == {"x": 2, "delay": 600.0}
    assert tb == "PointTimeout: the point ran longer than timeout=2 s; its worker was restarted"
    assert len(t.finished()) == 3
    (_, pid), = _calls(log, "hung")
    end = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < end:
        time.sleep(0.1)
    assert not _alive(pid)  # the process running the hung point is gone, not left sleeping


def test_timeout_clock_starts_when_a_worker_takes_the_point(cluster, tmp_path):
    """Eight 1 s points on two workers with timeout=3 s: queued behind the others, the last ones finish about
    4 s after the sweep starts, yet none ran 3 s, so none may time out."""
    c, _ = cluster
    sw = Sweep("q", P.slow_powers, grid(x=[float(x) for x in range(8)], delay=[1.0]))
    t = run_sweep(sw, store=tmp_path, backend="dask", scheduler=c.scheduler_address, timeout=3, progress=False)
    assert not t.failed and len(t.finished()) == 8


def test_failures_are_listed_in_point_order_whatever_order_they_finish(cluster, tmp_path):
    c, _ = cluster
    sw = Sweep("o", P.fails_slowly_at_one, grid(x=[1, 2, 3]))
    t = run_sweep(sw, store=tmp_path, backend="dask", scheduler=c.scheduler_address, progress=False)
    assert [p for p, _ in t.failed] == [{"x": 1}, {"x": 3}]
    assert "slow failure at x=1" in t.failed[0][1] and "fast failure at x=3" in t.failed[1][1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_unreachable_scheduler_is_a_prompt_error_naming_it(tmp_path, monkeypatch):
    monkeypatch.setattr(dask_backend, "CONNECT_TIMEOUT_S", 1.0)
    for address in ("tcp://127.0.0.1:9", "bogus://host:1"):
        with pytest.raises(OSError, match=f"cannot connect to the Dask scheduler at '{address}' .*at most 1 s"):
            run_sweep(Sweep("t", P.never_called, grid(x=[1.0])), store=tmp_path, backend="dask", scheduler=address,
                      progress=False)


@pytest.mark.parametrize("kwargs, match", [
    ({"timeout": 5}, "timeout apply only to backend='dask'.*n_workers=1"),
    ({"backend": "dask", "timeout": 0}, "timeout must be finite and > 0"),
    ({"backend": "dask", "timeout": float("nan")}, "timeout must be finite and > 0"),
    ({"backend": "dask", "timeout": "soon"}, "timeout must be a real number")])
def test_timeout_bad_input(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        run_sweep(Sweep("t", P.never_called, grid(x=[1.0])), store=tmp_path, progress=False, **kwargs)
