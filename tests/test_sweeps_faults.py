"""Sweeps under faults (issue 20): a point that cannot be stored is a failed point and the sweep goes on; NaN
arrays are not stored as finished; integral floats share the int's key; an unwritable store is a clean error
naming it; corrupt store files are recomputed; two drivers on one store; Table.load of a store folder."""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pde_sgd import Result, results
from pde_sgd.sweeps import Sweep, Table, grid, load_module, run_sweep
from pde_sgd.sweeps.store import StoreWriteError
from test_sweeps_engine import _assert_same_table, _recording

HERE = Path(__file__).resolve().parent
P = load_module(HERE / "sweep_points.py")


@pytest.mark.parametrize("how, reason", [
    ("nan_param", r"params\['loss'\] is NaN or inf"), ("object_array", "Python objects"),
    ("nan_array", "array 'pow' has 2 NaN/inf value"), ("object_param", r"params\['fn'\] is a object"),
    ("complex_nan", "array 'c' has 1 NaN/inf value"), ("not_arrays", "AttributeError")])
def test_unstorable_point_is_a_failed_point_and_the_sweep_goes_on(tmp_path, how, reason):
    sw = Sweep("u", P.unstorable_at_two, grid(x=[1, 2, 3], how=[how]))
    t = run_sweep(sw, store=tmp_path, progress=False)
    assert [r is None for r in t.results] == [False, True, False]  # the point after the bad one ran
    (point, tb), = t.failed
    assert point == {"x": 2, "how": how} and "cannot be stored" in tb
    assert __import__("re").search(reason, tb)
    record = json.loads((tmp_path / f"{sw.keys[1]}.failed.json").read_text())
    assert record["point"] == point and record["traceback"] == tb
    assert not (tmp_path / f"{sw.keys[1]}.npz").exists() and not (tmp_path / f"{sw.keys[1]}.json").exists()
    # a rerun retries only the bad point (and records it again); it never aborts
    calls = []
    again = run_sweep(Sweep("u", _recording(calls, P.unstorable_at_two), sw.points), store=tmp_path, progress=False)
    assert calls == [sw.points[1]] and len(again.failed) == 1
    _assert_same_table(t, again)


def test_nonfinite_arrays_are_stored_only_when_allowed(tmp_path):
    sw = Sweep("n", P.unstorable_at_two, grid(x=[2], how=["nan_array"]))
    t = run_sweep(sw, store=tmp_path, progress=False, allow_nonfinite=True)
    assert not t.failed
    np.testing.assert_array_equal(t.results[0]["pow"], [1.0, np.nan, np.inf])
    declared = run_sweep(Sweep("n", P.unstorable_at_two, sw.points, allow_nonfinite=True), store=tmp_path / "d",
                         progress=False)     # the sweep itself declares it (a diverged run marked in its Result)
    assert not declared.failed and np.isnan(declared.results[0]["pow"][1])
    assert run_sweep(sw, store=tmp_path / "r", progress=False).failed          # neither: refused
    with pytest.raises(TypeError, match="allow_nonfinite must be a bool"):
        Sweep("n", P.unstorable_at_two, sw.points, allow_nonfinite="yes")


def test_integral_float_point_reuses_the_int_points_result(tmp_path):
    run_sweep(Sweep("i", P.powers, [{"x": 2, "n": 3}]), store=tmp_path, progress=False)
    t = run_sweep(Sweep("i", P.never_called, [{"x": 2.0, "n": 3.0}]), store=tmp_path, progress=False)
    assert not t.failed and t.results[0].params["x2"] == 4
    with pytest.raises(ValueError, match="points 0 and 1 are equal"):
        Sweep("i", P.powers, [{"x": 1}, {"x": 1.0}])
    Sweep("i", P.powers, [{"x": 1}, {"x": True}])  # a flag is not the number 1


@pytest.mark.parametrize("where", ["manifest", "point"])
def test_unwritable_store_is_a_clean_error_naming_the_folder(tmp_path, monkeypatch, where):
    real = results.atomic_write
    calls = []

    def fail(path, write):
        if where == "manifest" or Path(path).suffix == ".npz":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        calls.append(Path(path).name)
        real(path, write)

    monkeypatch.setattr(results, "atomic_write", fail)
    ran = []
    with pytest.raises(StoreWriteError, match=f"cannot write to the sweep store {tmp_path}: No space left") as exc:
        run_sweep(Sweep("w", _recording(ran), grid(x=[1.0, 2.0])), store=tmp_path, progress=False)
    assert exc.value.errno == errno.ENOSPC and isinstance(exc.value, OSError)
    assert ran == ([] if where == "manifest" else [{"x": 1.0}])  # the manifest write fails before any point


@pytest.mark.parametrize("damage", [b"{", b"[1, 2]", b"\xff\xfe", b'{"format_version": 2, "kind": 3}',
                                    b'{"format_version": 2, "kind": "k", "arrays": 5}', b"null"])
def test_corrupt_json_in_a_store_is_recomputed_not_a_crash(tmp_path, damage):
    sw = Sweep("c", P.powers, grid(x=[1.0, 2.0]))
    first = run_sweep(sw, store=tmp_path, progress=False)
    (tmp_path / f"{sw.keys[0]}.json").write_bytes(damage)
    (tmp_path / f"{sw.keys[0]}.failed.json").write_bytes(damage)
    calls = []
    again = run_sweep(Sweep("c", _recording(calls), sw.points), store=tmp_path, progress=False)
    assert calls == [sw.points[0]]
    _assert_same_table(first, again)


def test_a_folder_in_place_of_a_result_file_is_recomputed(tmp_path):
    sw = Sweep("d", P.powers, grid(x=[1.0]))
    run_sweep(sw, store=tmp_path, progress=False)
    (tmp_path / f"{sw.keys[0]}.npz").unlink()
    (tmp_path / f"{sw.keys[0]}.npz").mkdir()
    t = run_sweep(sw, store=tmp_path / "other", progress=False)  # a fresh store works
    assert not t.failed
    from pde_sgd.sweeps.store import Store
    assert Store(tmp_path).load(sw.keys[0]) is None


def test_table_load_of_a_store_folder_gathers_results_and_failures(tmp_path):
    sw = Sweep("f", P.fails_at_two, grid(x=[1, 2, 3]))
    t = run_sweep(sw, store=tmp_path, progress=False)
    back = Table.load(tmp_path)
    _assert_same_table(t, back)
    assert back.failed == t.failed and back.name == "f"
    # a failure record beside a finished result (a twin driver recorded it late) is not a failure of the table
    (tmp_path / f"{sw.keys[0]}.failed.json").write_text(json.dumps({"point": {"x": 1}, "traceback": "stale"}))
    assert Table.load(tmp_path).failed == t.failed
    (tmp_path / "sweep.json").write_text("[]")
    with pytest.raises(ValueError, match="not a sweep manifest"):
        Table.load(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="not a readable sweep store"):
        Table.load(tmp_path / "empty")


TWIN = """
import sys
from pathlib import Path
from pde_sgd.sweeps import Sweep, grid, load_module, run_sweep
P = load_module(Path(sys.argv[1]))
t = run_sweep(Sweep("twin", P.powers, grid(x=[float(x) for x in range(12)], n=[2])), store=sys.argv[2],
              progress=False)
assert not t.failed and len(t.finished()) == 12, t
print("ok")
"""


def test_two_drivers_on_one_store_both_finish_with_the_same_table(tmp_path):
    script = tmp_path / "twin.py"
    script.write_text(TWIN)
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    for trial in range(1):
        store = tmp_path / f"store{trial}"
        procs = [subprocess.Popen([sys.executable, str(script), str(HERE / "sweep_points.py"), str(store)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
        sw = Sweep("twin", P.powers, grid(x=[float(x) for x in range(12)], n=[2]))
        table = Table.load(store)
        assert len(table.finished()) == 12
        for p, r in table.finished():
            ref = P.powers(**p)
            assert r.params == ref.params and np.array_equal(r["pow"], ref["pow"])
        assert sorted(f.name for f in store.iterdir() if f.suffix == ".npz") == sorted(f"{k}.npz" for k in sw.keys)


def test_twin_saves_of_one_key_do_not_interleave(tmp_path, monkeypatch):
    """Two drivers saving the same key at once: each save (npz, json, read back) holds the store lock, so both
    succeed and the stored pair is one of the two; a slowed write widens the window that unlocked saves lose."""
    import threading
    import time

    from pde_sgd.sweeps.store import Store
    real = results.atomic_write

    def slow(path, write):
        real(path, write)
        if str(path).endswith(".npz"):
            time.sleep(0.2)

    monkeypatch.setattr(results, "atomic_write", slow)
    st, errors, stored = Store(tmp_path), [], []

    def save(value):
        try:
            stored.append(st.save("k", Result("k", {"a": np.full(3, value)})))
        except Exception as exc:  # noqa: BLE001 - the test reports any failure
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(v,)) for v in (1.0, 2.0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(stored) == 2
    final = Result.load(tmp_path / "k")
    assert final["a"][0] in (1.0, 2.0) and np.all(final["a"] == final["a"][0])
