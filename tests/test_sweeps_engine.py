"""The sweep engine on the serial backend: grids, keys, the store (skip, resume, failures), the table."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import pde_sgd
from pde_sgd import Result
from pde_sgd.sweeps import Sweep, Table, discover_sweeps, grid, load_module, point_key, run_sweep

P = load_module(Path(__file__).with_name("sweep_points.py"))


def _sweep(fn=P.powers, points=None, name="t"):
    return Sweep(name, fn, points if points is not None else grid(x=[0.5, 2.0, 3.0], n=[2, 3]))


def test_grid_is_the_product_with_the_last_key_fastest():
    assert grid(a=[1, 2], b=["u", "v", "w"]) == [
        {"a": 1, "b": "u"}, {"a": 1, "b": "v"}, {"a": 1, "b": "w"},
        {"a": 2, "b": "u"}, {"a": 2, "b": "v"}, {"a": 2, "b": "w"}]
    pts = grid(lr=np.array([0.1, 0.2]), seed=range(2), on=(True,))
    assert [list(p) for p in pts] == [["lr", "seed", "on"]] * 4
    assert all(type(p["lr"]) is float and type(p["seed"]) is int for p in pts)


@pytest.mark.parametrize("axes, match", [
    ({}, "at least one axis"), ({"a": []}, "'a' is empty"), ({"a": 3}, "'a' must be a list"),
    ({"a": "abc"}, "'a' must be a list"), ({"a": [[1, 2]]}, "not a JSON scalar"),
    ({"a": [float("nan")]}, "not finite"), ({"a": [None]}, "not a JSON scalar")])
def test_grid_bad_axes(axes, match):
    with pytest.raises(ValueError, match=match):
        grid(**axes)


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"points": []}, ValueError, "no points"),
    ({"points": [{"x": 1}, {"x": 1}]}, ValueError, "points 0 and 1 are equal"),
    ({"points": [{"x": [1, 2]}]}, ValueError, "point 0 parameter 'x'.*not a JSON scalar"),
    ({"points": [{"x": object()}]}, ValueError, "not a JSON scalar"),
    ({"points": [{"x": float("inf")}]}, ValueError, "not finite"),
    ({"points": [{"not an identifier": 1}]}, ValueError, "not a valid keyword"),
    ({"points": [3]}, ValueError, "point 0 must be a dict"),
    ({"points": {"x": 1}}, ValueError, "points must be a list"),
    ({"name": "a/b"}, ValueError, "sweep name"), ({"name": ""}, ValueError, "sweep name"),
    ({"fn": 3}, TypeError, "fn must be callable")])
def test_sweep_bad_input(kwargs, exc, match):
    args = {"name": "t", "fn": P.powers, "points": [{"x": 1.0}]} | kwargs
    with pytest.raises(exc, match=match):
        Sweep(args["name"], args["fn"], args["points"])


def test_point_key_depends_on_values_types_and_version(monkeypatch):
    k = point_key({"x": 1, "y": "a"})
    assert k == point_key({"y": "a", "x": 1})  # key order does not matter
    assert k == point_key({"x": 1.0, "y": "a"})  # an integral float is the same number as the int
    assert point_key({"x": 0, "y": "a"}) == point_key({"x": -0.0, "y": "a"})
    assert len({k, point_key({"x": 2, "y": "a"}), point_key({"x": 1.5, "y": "a"}), point_key({"x": True, "y": "a"}),
                point_key({"x": "1", "y": "a"})}) == 5  # a bool and a string stay apart from the number
    monkeypatch.setattr(pde_sgd._version, "__version__", "99.0")
    assert point_key({"x": 1, "y": "a"}) != k


def test_serial_table_holds_each_points_result_in_order(tmp_path):
    sw = _sweep()
    t = run_sweep(sw, store=tmp_path, progress=False)
    assert t.name == "t" and t.points == sw.points and not t.failed and len(t.finished()) == 6
    for p, r in t.finished():  # each Result is the one fn returns for that point (an independent call)
        ref = P.powers(**p)
        assert r.kind == ref.kind and r.params == ref.params
        assert all(np.array_equal(r[k], ref[k]) for k in ref.arrays)
    np.testing.assert_array_equal(t.column("x"), [0.5, 0.5, 2.0, 2.0, 3.0, 3.0])
    np.testing.assert_array_equal(t.column("x2"), t.column("x") ** 2)
    with pytest.raises(ValueError, match="different shapes"):
        t.column("pow")  # n = 2 and 3 give arrays of two shapes
    assert t.column("z").shape == (6, 4)
    with pytest.raises(KeyError, match="no column 'nope'.*point parameters: \\['n', 'x'\\]"):
        t.column("nope")
    assert sorted(f.name for f in tmp_path.iterdir()) == sorted(
        [f"{k}.{e}" for k in sw.keys for e in ("json", "npz")] + ["sweep.json", ".lock"])


def test_rerun_skips_stored_points_and_gives_the_same_table(tmp_path):
    sw = _sweep()
    first = run_sweep(sw, store=tmp_path, progress=False)
    again = run_sweep(Sweep("t", P.never_called, sw.points), store=tmp_path, progress=False)
    assert not again.failed
    _assert_same_table(first, again)


def test_a_complete_store_needs_no_cluster(tmp_path):
    sw = _sweep()
    first = run_sweep(sw, store=tmp_path, progress=False)
    # nothing listens on port 9: the dask backend must not even try to connect when no point is missing
    again = run_sweep(Sweep("t", P.never_called, sw.points), store=tmp_path, backend="dask",
                      scheduler="tcp://127.0.0.1:9", progress=False)
    _assert_same_table(first, again)


def test_missing_or_corrupt_points_are_recomputed(tmp_path):
    sw = _sweep()
    first = run_sweep(sw, store=tmp_path, progress=False)
    k0, k3 = sw.keys[0], sw.keys[3]
    (tmp_path / f"{k0}.json").unlink()  # half-written (npz without json)
    (tmp_path / f"{k3}.npz").write_bytes(b"garbage")  # corrupt
    calls = []
    again = run_sweep(Sweep("t", _recording(calls), sw.points), store=tmp_path, progress=False)
    assert calls == [sw.points[0], sw.points[3]]
    _assert_same_table(first, again)


def _recording(calls, inner=P.powers):
    def fn(**point):
        calls.append(point)
        return inner(**point)
    return fn


def test_failing_point_is_reported_and_the_others_finish(tmp_path):
    sw = Sweep("f", P.fails_at_two, grid(x=[1, 2, 3]))
    t = run_sweep(sw, store=tmp_path, progress=False)
    assert [r is None for r in t.results] == [False, True, False]
    (point, tb), = t.failed
    assert point == {"x": 2} and "RuntimeError: deliberate failure at x=2" in tb and "fails_at_two" in tb
    np.testing.assert_array_equal(t.column("x"), [1, 3])  # columns run over the finished points
    record = json.loads((tmp_path / f"{sw.keys[1]}.failed.json").read_text())
    assert record["point"] == {"x": 2} and "deliberate failure" in record["traceback"]
    # a re-run retries the failed point only; once it succeeds its failure record goes
    calls = []
    t2 = run_sweep(Sweep("f", _recording(calls), sw.points), store=tmp_path, progress=False)
    assert calls == [{"x": 2}] and not t2.failed and len(t2.finished()) == 3
    assert not (tmp_path / f"{sw.keys[1]}.failed.json").exists()


def test_progress_bar_counts_done_failed_pending(tmp_path, capsys):
    run_sweep(Sweep("f", P.fails_at_two, grid(x=[1, 2, 3])), store=tmp_path, progress=True)
    err = capsys.readouterr().err
    assert "done=0, failed=0, pending=3" in err and "done=2, failed=1, pending=0" in err and "3/3" in err


def test_point_function_not_returning_a_result_is_a_clear_failure(tmp_path):
    t = run_sweep(Sweep("n", P.returns_number, grid(x=[1])), store=tmp_path, progress=False)
    (_, tb), = t.failed
    assert "TypeError: the point function 'returns_number' must return a pde_sgd.Result, got float" in tb


def test_run_sweep_bad_input(tmp_path):
    sw = _sweep()
    with pytest.raises(ValueError, match="unknown backend .spark.; allowed: .serial., .dask."):
        run_sweep(sw, store=tmp_path, backend="spark", progress=False)
    with pytest.raises(ValueError, match="only to backend='dask'"):
        run_sweep(sw, store=tmp_path, scheduler="tcp://127.0.0.1:1", progress=False)
    with pytest.raises(TypeError, match="needs a Sweep"):
        run_sweep({"name": "t"}, store=tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="not a folder"):
        run_sweep(sw, store=tmp_path / "file", progress=False)
    assert not list(tmp_path.glob("*.npz"))  # nothing ran


def test_table_save_load_round_trip(tmp_path):
    t = run_sweep(Sweep("f", P.fails_at_two, grid(x=[1, 2, 3])), store=tmp_path / "s", progress=False)
    t.save(tmp_path / "table")
    back = Table.load(tmp_path / "table.npz")
    _assert_same_table(t, back)
    assert back.failed == t.failed and back.results[1] is None
    with pytest.raises(ValueError, match="kind 'sweeps.table'"):
        Table.from_result(Result("other"))


def test_discover_sweeps_finds_the_demo_and_rejects_duplicates(tmp_path):
    sweeps = discover_sweeps()
    assert "sweep_demo" in sweeps
    demo = sweeps["sweep_demo"](False)
    assert isinstance(demo, Sweep) and demo.name == "sweep_demo" and demo.description
    for stem in ("a", "b"):
        (tmp_path / f"{stem}.py").write_text(f"SWEEPS = {{'same': lambda full: None}}\n")
    with pytest.raises(ValueError, match="'same' is defined in both"):
        discover_sweeps(tmp_path)


def _assert_same_table(a: Table, b: Table) -> None:
    assert a.name == b.name and a.points == b.points and len(a.results) == len(b.results)
    for ra, rb in zip(a.results, b.results):
        assert (ra is None) == (rb is None)
        if ra is not None:
            assert ra.kind == rb.kind and ra.params == rb.params and sorted(ra.arrays) == sorted(rb.arrays)
            for k in ra.arrays:
                assert ra[k].dtype == rb[k].dtype and np.array_equal(ra[k], rb[k])


def test_importing_the_package_and_sweeps_imports_neither_dask_nor_torch():
    import subprocess
    import sys
    code = ("import sys, pde_sgd, pde_sgd.sweeps; pde_sgd.sweeps.grid(a=[1]); "
            "print(sorted(m for m in ('dask', 'distributed', 'torch', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
