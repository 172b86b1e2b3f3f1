"""The sweep engine across processes: a LocalCluster, an external `dask scheduler` + 2 `dask worker`s on
127.0.0.1, a driver killed with SIGKILL and restarted, and an SDE ensemble split into chunks of paths."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pde_sgd.sde import simulate_sgd
from pde_sgd.sweeps import SCHEDULER_ENV, Sweep, grid, load_module, run_sweep
from pde_sgd.sweeps.ensemble import ensemble_sweep, merge_paths, path_chunks
from test_sweeps_engine import _assert_same_table, _recording

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
P = load_module(HERE / "sweep_points.py")


def _wait_for(cond, what: str, timeout: float = 90.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError(f"gave up waiting for {what} after {timeout} s")
        time.sleep(0.02)


def _calls(log: Path, prefix: str) -> list[tuple[str, int]]:
    """(tag, pid) of the point-function calls logged in ``log``."""
    return [(f.name.split(".")[0], int(f.name.split(".")[1])) for f in log.iterdir() if f.name.startswith(prefix)]


def test_chunked_sde_ensemble_on_a_local_cluster_equals_one_process_run(tmp_path, monkeypatch):
    log = tmp_path / "log"
    log.mkdir()
    monkeypatch.setenv(P.CALL_LOG, str(log))  # inherited by the cluster's worker processes
    sweep = ensemble_sweep("ou", P.ou_chunk, 10, 4, seed=7, beta=3.0)
    assert [(p["path_start"], p["path_stop"]) for p in sweep.points] == [(0, 2), (2, 5), (5, 7), (7, 10)]
    serial = run_sweep(sweep, store=tmp_path / "serial", progress=False)
    assert {pid for _, pid in _calls(log, "ou")} == {os.getpid()}
    dask = run_sweep(sweep, store=tmp_path / "dask", backend="dask", n_workers=2, progress=False)
    workers = {pid for _, pid in _calls(log, "ou")} - {os.getpid()}
    assert len(workers) >= 1 and sorted(t for t, p in _calls(log, "ou") if p in workers) == [
        "ou-0", "ou-2", "ou-5", "ou-7"]  # every chunk ran again, in worker processes (fn shipped by value)
    _assert_same_table(serial, dask)
    merged = merge_paths(dask)
    whole = simulate_sgd(**P.ou_setup(3.0), n_paths=10, seed=7, n_saves=4)
    assert merged.kind == whole.kind and merged.params == whole.params and sorted(merged.arrays) == ["times", "x"]
    assert merged["x"].shape == (5, 10, 2)
    assert np.array_equal(merged["x"], whole["x"]) and np.array_equal(merged["times"], whole["times"])


def test_sde_paths_and_chunks_bad_input(tmp_path):
    with pytest.raises(ValueError, match=r"paths must be \(start, stop\) with 0 <= start < stop <= n_paths=10"):
        simulate_sgd(**P.ou_setup(1.0), n_paths=10, seed=0, paths=(5, 5))
    with pytest.raises(ValueError, match="paths must be"):
        simulate_sgd(**P.ou_setup(1.0), n_paths=10, seed=0, paths=(8, 11))
    with pytest.raises(ValueError, match="n_chunks must be in"):
        path_chunks(3, 4)
    sweep = ensemble_sweep("ou", P.ou_chunk, 6, 3, seed=1, beta=1.0)
    table = run_sweep(sweep, store=tmp_path, progress=False)
    table.results[1] = None
    with pytest.raises(ValueError, match=r"chunks \[\(2, 4\)\] have no result"):
        merge_paths(table)


def test_dask_options_are_checked_before_any_work(tmp_path, monkeypatch):
    sw = Sweep("t", P.never_called, grid(x=[1.0]))
    with pytest.raises(ValueError, match="n_workers must be an integer >= 1"):
        run_sweep(sw, store=tmp_path, backend="dask", n_workers=0, progress=False)
    monkeypatch.setenv(SCHEDULER_ENV, "tcp://127.0.0.1:9")
    with pytest.raises(ValueError, match="cannot be used with the scheduler 'tcp://127.0.0.1:9'"):
        run_sweep(sw, store=tmp_path, backend="dask", n_workers=2, progress=False)


def test_sweep_through_an_external_scheduler_and_two_workers(tmp_path, monkeypatch):
    from distributed import Client

    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    env.pop(P.CALL_LOG, None)  # workers see only the package: tests/ is not importable there
    file = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard", "--scheduler-file", str(file)],
                              cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        _wait_for(lambda: file.exists() and file.stat().st_size > 0, "the scheduler file")
        address = json.loads(file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        procs += [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                                    "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"],
                                   cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                  for _ in range(2)]
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=90)
            monkeypatch.setenv(SCHEDULER_ENV, address)  # run_sweep finds the cluster through the variable
            sw = Sweep("f", P.fails_at_two, grid(x=[1, 2, 3, 4, 5]))
            remote = run_sweep(sw, store=tmp_path / "remote", backend="dask", progress=False)
            (point, tb), = remote.failed
            assert point == {"x": 2} and "RuntimeError: deliberate failure at x=2" in tb
            monkeypatch.delenv(SCHEDULER_ENV)
            _assert_same_table(remote, run_sweep(sw, store=tmp_path / "serial", progress=False))
            client.shutdown()  # closes the scheduler and, through it, the workers
        for p in procs:
            p.wait(timeout=60)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


DRIVER = """
import sys
from pathlib import Path
from pde_sgd.sweeps import Sweep, grid, load_module, run_sweep
P = load_module(Path(sys.argv[1]))
run_sweep(Sweep("k", P.slow_powers, grid(x=[float(x) for x in range(8)], delay=[0.25])), store=sys.argv[2],
          progress=False)
"""


def test_driver_killed_mid_run_resumes_with_only_the_missing_points(tmp_path):
    store = tmp_path / "store"
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(script), str(HERE / "sweep_points.py"), str(store)], env=env)
    try:
        _wait_for(lambda: store.is_dir() and len(list(store.glob("?" * 20 + ".json"))) >= 3, "3 stored points")
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    sweep = Sweep("k", P.slow_powers, grid(x=[float(x) for x in range(8)], delay=[0.25]))
    from pde_sgd import Result

    def stored(key):
        try:
            Result.load(store / key)
            return True
        except ValueError:
            return False
    missing = [p for p, k in zip(sweep.points, sweep.keys) if not stored(k)]
    assert 1 <= len(missing) <= 5
    calls = []
    table = run_sweep(Sweep("k", _recording(calls, P.slow_powers), sweep.points), store=store, progress=False)
    assert calls == missing  # only the missing points ran again
    assert not table.failed and len(table.finished()) == 8
    for p, r in table.finished():  # and the table is the one an uninterrupted run gives
        ref = P.powers(p["x"])
        assert r.params == ref.params and all(np.array_equal(r[k], ref[k]) for k in ref.arrays)
