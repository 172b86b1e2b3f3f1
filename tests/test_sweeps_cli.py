"""`pde-sgd sweep`: listing, running the toy sweep (whose values are checked against the exact variance),
resuming, and bad options."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pde_sgd import cli
from pde_sgd.sweeps import SCHEDULER_ENV, discover_sweeps, run_sweep


def test_sweep_list_shows_names_and_descriptions(capsys):
    assert cli.main(["sweep", "--list"]) == 0
    out = capsys.readouterr().out
    assert "sweep_demo" in out and discover_sweeps()["sweep_demo"](False).description in out


def test_sweep_runs_the_demo_into_a_store_and_resumes(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    assert cli.main(["sweep", "sweep_demo", "--store", str(tmp_path), "--no-progress"]) == 0
    assert "sweep_demo: 8 of 8 points finished, 0 failed" in capsys.readouterr().out
    files = {f: f.stat().st_mtime_ns for f in tmp_path.iterdir()}
    assert len(files) == 16 + 2  # 8 pairs, sweep.json and the lock file
    assert cli.main(["sweep", "sweep_demo", "--store", str(tmp_path), "--no-progress"]) == 0
    assert {f: f.stat().st_mtime_ns for f in tmp_path.iterdir()} == files  # nothing recomputed or rewritten
    # the toy's numbers: the ensemble variance of X_T matches the exact Euler variance within 4 standard errors
    table = run_sweep(discover_sweeps()["sweep_demo"](False), store=tmp_path, progress=False)
    var, exact, se = table.column("variance"), table.column("exact"), table.column("se")
    assert np.all(np.abs(var - exact) < 4 * se)
    np.testing.assert_allclose(exact, 1 / (table.column("beta") * table.column("a")), rtol=0.02)


def test_sweep_store_defaults_to_the_working_folder_or_the_variable(tmp_path, capsys, monkeypatch):
    from pde_sgd.sweeps import STORE_ENV, Table
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    monkeypatch.delenv(STORE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["sweep", "sweep_demo", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert len(list((tmp_path / "sweeps" / "sweep_demo").glob("*.npz"))) == 8
    # the run ends with the table's summary and the line that loads it; that line gives the same table
    assert "Table('sweep_demo': 8/8 finished, 0 failed)" in out and "Table.load('sweeps/sweep_demo')" in out
    loaded = Table.load("sweeps/sweep_demo")
    direct = run_sweep(discover_sweeps()["sweep_demo"](False), store=tmp_path / "sweeps" / "sweep_demo",
                       progress=False)
    assert loaded.name == "sweep_demo" and loaded.points == direct.points and not loaded.failed
    np.testing.assert_array_equal(loaded.column("variance"), direct.column("variance"))
    monkeypatch.setenv(STORE_ENV, str(tmp_path / "elsewhere"))
    assert cli.main(["sweep", "sweep_demo", "--no-progress"]) == 0
    assert len(list((tmp_path / "elsewhere" / "sweep_demo").glob("*.npz"))) == 8
    assert str(tmp_path / "elsewhere" / "sweep_demo") in capsys.readouterr().out
    import pde_sgd
    package = Path(pde_sgd.__file__).resolve().parent.parent
    assert not (package / "sweeps").exists() or package == tmp_path


def test_unwritable_store_is_a_clean_exit_naming_it(tmp_path, monkeypatch):
    from pde_sgd import results
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)

    def refuse(path, write):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(results, "atomic_write", refuse)
    with pytest.raises(SystemExit, match=f"sweep_demo: .*cannot write to the sweep store {tmp_path / 's'}"):
        cli.main(["sweep", "sweep_demo", "--store", str(tmp_path / "s"), "--no-progress"])
    assert not list(tmp_path.glob("s/*.npz"))


@pytest.mark.parametrize("argv, match", [
    (["sweep", "no_such_sweep"], "unknown sweep 'no_such_sweep'; available: .*sweep_demo"),
])
def test_unknown_sweep(argv, match):
    with pytest.raises(SystemExit, match=match):
        cli.main(argv)


@pytest.mark.parametrize("argv", [["sweep"], ["sweep", "sweep_demo", "--backend", "serial", "--workers", "2"],
                                  ["sweep", "sweep_demo", "--backend", "spark"],
                                  ["sweep", "sweep_demo", "--workers", "0"], ["sweep", "sweep_demo", "--workers", "x"],
                                  ["sweep", "sweep_demo", "--timeout", "0"],
                                  ["sweep", "sweep_demo", "--backend", "serial", "--timeout", "5"]])
def test_bad_sweep_options_exit_with_usage(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2 and "usage: pde-sgd sweep" in capsys.readouterr().err


def test_sweep_help_through_the_console_entry_point():
    out = subprocess.run([sys.executable, "-m", "pde_sgd.cli", "sweep", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--scheduler" in out.stdout and "--list" in out.stdout
