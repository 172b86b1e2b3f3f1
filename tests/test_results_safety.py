"""Result pairs tied by hashes, refused saves, orphaned temporary files, figure temp names (issue 14)."""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from pde_sgd import Result, results


def _save(path, value=1.0, **params):
    return Result("k", {"a": np.full(3, value)}, {"beta": 2.0, **params}).save(path)


def test_npz_of_another_run_is_refused(tmp_path):
    _save(tmp_path / "a", 1.0)
    _save(tmp_path / "b", 2.0, beta=3.0)
    shutil.copy(tmp_path / "b.npz", tmp_path / "a.npz")
    with pytest.raises(ValueError, match="do not belong together"):
        Result.load(tmp_path / "a")


def test_same_arrays_different_save_is_refused(tmp_path):
    # identical arrays and params: only the save id differs, and that must still tie the pair
    _save(tmp_path / "a")
    _save(tmp_path / "b")
    shutil.copy(tmp_path / "b.json", tmp_path / "a.json")
    with pytest.raises(ValueError, match="do not belong together"):
        Result.load(tmp_path / "a")


def test_interrupted_second_write_is_detected(tmp_path, monkeypatch):
    _save(tmp_path / "r", 1.0)
    real = results.atomic_write_bytes

    def die_on_json(path, data):
        if str(path).endswith(".json"):
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(results, "atomic_write_bytes", die_on_json)
    with pytest.raises(OSError):
        _save(tmp_path / "r", 5.0)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="do not belong together"):
        Result.load(tmp_path / "r")  # new .npz + old .json: refused, not silently mixed


@pytest.mark.parametrize("edit", [("kind", "other"), ("params", {"beta": 2.5}), ("arrays", ["a", "a"])])
def test_edited_metadata_is_detected(tmp_path, edit):
    _save(tmp_path / "r")
    meta = json.loads((tmp_path / "r.json").read_text())
    meta[edit[0]] = edit[1]
    (tmp_path / "r.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="changed after saving|holds arrays"):
        Result.load(tmp_path / "r")


def test_reserved_meta_array_is_hidden_and_round_trip_exact(tmp_path):
    r = Result("k", {"u": np.arange(6.0).reshape(2, 3), "s": np.array(["x", "yz"]), "c": np.array([1 + 2j])},
               {"nested": {"l": [1, 2.5, None, "s"]}, "big": 2 ** 62})
    r.save(tmp_path / "r")
    back = Result.load(tmp_path / "r.json")
    assert sorted(back.arrays) == ["c", "s", "u"]
    for k in r.arrays:
        np.testing.assert_array_equal(back[k], r[k])
        assert back[k].dtype == r[k].dtype
    assert back.params == {"nested": {"l": [1, 2.5, None, "s"]}, "big": 2 ** 62}


@pytest.mark.parametrize("arrays, params, match", [
    ({"o": np.array([{"a": 1}], dtype=object)}, {}, "Python objects"),
    ({"file": np.ones(2)}, {}, "reserved"),
    ({"allow_pickle": np.ones(2)}, {}, "reserved"),
    ({"_pde_sgd_meta_sha256": np.ones(2)}, {}, "reserved"),
    ({"a": np.ones(2)}, {"beta": float("nan")}, r"params\['beta'\] is NaN or inf"),
    ({"a": np.ones(2)}, {"x": [1.0, {"y": np.inf}]}, r"params\['x'\]\[1\]\['y'\] is NaN or inf"),
    ({"a": np.ones(2)}, {"v": np.array([0.0, np.nan])}, r"params\['v'\]\[1\]"),
])
def test_unloadable_saves_are_refused_before_writing(tmp_path, arrays, params, match):
    with pytest.raises(ValueError, match=match):
        Result("k", arrays, params).save(tmp_path / "r")
    assert not any(tmp_path.iterdir())


def test_orphaned_temp_of_a_dead_writer_is_removed_live_one_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead_pid = int(dead.stdout)
    orphan = tmp_path / f".r.npz.pid{dead_pid}.abc.tmp"
    live = tmp_path / f".r.npz.pid{__import__('os').getppid()}.abc.tmp"
    orphan.write_bytes(b"partial")
    live.write_bytes(b"in progress")
    _save(tmp_path / "r")
    assert not orphan.exists() and live.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["r.npz", "r.json", live.name])


def test_sigkilled_writer_leaves_nothing_a_later_save_keeps(tmp_path):
    code = ("import os, signal, numpy as np; from pde_sgd import results\n"
            "real = os.replace\n"
            "def kill(*a): os.kill(os.getpid(), signal.SIGKILL)\n"
            "os.replace = kill\n"
            f"results.Result('k', {{'a': np.ones(3)}}).save({str(tmp_path / 'r')!r})\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == -9
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # the kill left a temp file ...
    _save(tmp_path / "r")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r.npz"]  # ... which the next save removed
    Result.load(tmp_path / "r")


def test_save_figure_unique_temp_and_clean_interrupt(tmp_path, monkeypatch):
    from pde_sgd import plotting
    # another writer's temporary file at the old fixed name must not be touched or collided with
    (tmp_path / ".fig.tmp.png").mkdir()
    fig, _ = plotting.subplots()
    paths = plotting.save_figure(fig, tmp_path, "fig")
    assert [p.name for p in paths] == ["fig.png", "fig.pdf"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths[1].read_bytes()[:5] == b"%PDF-"
    before = {p.name: p.read_bytes() for p in paths}

    def interrupted(self, *a, **k):
        raise KeyboardInterrupt

    fig, _ = plotting.subplots()
    monkeypatch.setattr(type(fig), "savefig", interrupted)
    with pytest.raises(KeyboardInterrupt):
        plotting.save_figure(fig, tmp_path, "fig")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".fig.tmp.png", "fig.pdf", "fig.png"]
    assert {p.name: p.read_bytes() for p in paths} == before
