"""Result files (issues 19 and 20): modes follow the umask, format-1 files are not trusted silently, params
JSON cannot describe are refused by name, malformed metadata is a ValueError, and save/load round trips
exactly through the streamed .npz."""
from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest

from pde_sgd import Result, results


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_get_the_mode_of_a_new_file_under_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        Result("k", {"a": np.ones(3)}, {"b": 1}).save(tmp_path / "r")
        results.atomic_write_bytes(tmp_path / "raw.bin", b"x")
        with open(tmp_path / "reference", "w"):
            pass  # what open() gives a new file under this umask
    finally:
        os.umask(old)
    want = stat.S_IMODE((tmp_path / "reference").stat().st_mode)
    assert want == 0o666 & ~umask
    for name in ("r.npz", "r.json", "raw.bin"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == want, name


def test_sweep_and_figure_files_follow_the_umask(tmp_path):
    from pde_sgd import plotting
    from pde_sgd.sweeps import Sweep, grid, load_module, run_sweep
    points = load_module(os.path.join(os.path.dirname(__file__), "sweep_points.py"))
    old = os.umask(0o002)
    try:
        run_sweep(Sweep("f", points.fails_at_two, grid(x=[1, 2])), store=tmp_path / "s", progress=False)
        fig, _ = plotting.subplots()
        plotting.save_figure(fig, tmp_path / "fig", "f")
    finally:
        os.umask(old)
    files = [f for f in (tmp_path / "s").iterdir()] + list((tmp_path / "fig").iterdir())
    assert {f.suffix for f in files} >= {".npz", ".json", ".png", ".pdf"}
    assert {f.name: oct(stat.S_IMODE(f.stat().st_mode)) for f in files} == {f.name: oct(0o664) for f in files}


def _v1_pair(tmp_path):
    """A format-1 pair as the old writer made it (no hashes), then one whose params were edited."""
    Result("k", {"a": np.arange(3.0)}, {"beta": 2.0}).save(tmp_path / "r")
    meta = json.loads((tmp_path / "r.json").read_text())
    meta = {k: v for k, v in meta.items() if k not in ("npz_sha256", "save_id")} | {"format_version": 1}
    meta["params"] = {"beta": 99.0}  # edited: no hash can tell
    (tmp_path / "r.json").write_text(json.dumps(meta))


def test_format_1_files_are_refused_unless_asked_for(tmp_path):
    _v1_pair(tmp_path)
    with pytest.raises(ValueError, match="format_version 1.*cannot be verified.*legacy=True"):
        Result.load(tmp_path / "r")
    back = Result.load(tmp_path / "r", legacy=True)
    assert back.params == {"beta": 99.0} and np.array_equal(back["a"], [0.0, 1.0, 2.0])


def test_format_1_file_in_a_store_is_recomputed(tmp_path):
    from pde_sgd.sweeps.store import Store
    _v1_pair(tmp_path)
    assert Store(tmp_path).load("r") is None


@pytest.mark.parametrize("params, where", [
    ({"f": object()}, r"params\['f'\] is a object"),
    ({"nested": {"l": [1, lambda: 0]}}, r"params\['nested'\]\['l'\]\[1\] is a function"),
    ({"c": 1 + 2j}, r"params\['c'\] is a complex"),
    ({"s": {1, 2}}, r"params\['s'\] is a set"),
    ({"o": np.array([None, 1], dtype=object)}, r"params\['o'\] is an array of Python objects"),
])
def test_params_json_cannot_describe_are_refused_by_name(tmp_path, params, where):
    with pytest.raises(ValueError, match=where):
        Result("k", {"a": np.ones(2)}, params).save(tmp_path / "r")
    with pytest.raises(ValueError, match=r"stats\['t'\] is a object"):
        Result("k", {"a": np.ones(2)}, stats={"t": object()}).save(tmp_path / "r")
    assert not any(tmp_path.iterdir())


def test_paths_and_numpy_scalars_in_params_are_saved_as_plain_values(tmp_path):
    r = Result("k", {"a": np.ones(2)}, {"p": tmp_path / "x", "n": np.int64(3), "f": np.float32(0.5), "t": (1, 2)})
    r.save(tmp_path / "r")
    assert Result.load(tmp_path / "r").params == {"p": str(tmp_path / "x"), "n": 3, "f": 0.5, "t": [1, 2]}


@pytest.mark.parametrize("edit", [
    lambda m: [m], lambda m: m | {"arrays": "a"}, lambda m: m | {"arrays": [1]}, lambda m: m | {"kind": None},
    lambda m: m | {"params": [1]}, lambda m: m | {"stats": 3}, lambda m: {k: v for k, v in m.items() if k != "kind"},
    lambda m: m | {"format_version": 3}, lambda m: m | {"npz_sha256": None}])
def test_malformed_metadata_is_a_value_error(tmp_path, edit):
    Result("k", {"a": np.ones(2)}, {"b": 1}).save(tmp_path / "r")
    meta = json.loads((tmp_path / "r.json").read_text())
    (tmp_path / "r.json").write_text(json.dumps(edit(meta)))
    with pytest.raises(ValueError, match="r.json|r.npz"):
        Result.load(tmp_path / "r")


def test_unreadable_npz_is_a_value_error(tmp_path):
    Result("k", {"a": np.ones(2)}).save(tmp_path / "r")
    (tmp_path / "r.npz").unlink()
    (tmp_path / "r.npz").mkdir()
    with pytest.raises(ValueError, match="r.npz is missing"):
        Result.load(tmp_path / "r")


def test_streamed_npz_hash_is_the_hash_of_the_file(tmp_path):
    import hashlib
    rng = np.random.default_rng(0)
    r = Result("k", {"big": rng.standard_normal((300, 700)), "i": np.arange(5), "s": np.array(["ab", "c"])})
    r.save(tmp_path / "r")
    meta = json.loads((tmp_path / "r.json").read_text())
    assert meta["npz_sha256"] == hashlib.sha256((tmp_path / "r.npz").read_bytes()).hexdigest()
    back = Result.load(tmp_path / "r")
    for k in r.arrays:
        assert back[k].dtype == r[k].dtype and np.array_equal(back[k], r[k])


@pytest.mark.parametrize("text, match", [(b"{", "is not valid JSON"), (b"\xff\xfe", "is not valid JSON"),
                                         (b"[]", "has an unknown format")])
def test_corrupt_json_is_a_value_error_naming_the_file(tmp_path, text, match):
    Result("k", {"a": np.ones(2)}).save(tmp_path / "r")
    (tmp_path / "r.json").write_bytes(text)
    with pytest.raises(ValueError, match=f"result metadata {tmp_path / 'r.json'} {match}"):
        Result.load(tmp_path / "r")
