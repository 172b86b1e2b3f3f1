import re
import subprocess
import sys
from pathlib import Path

import pytest

from pde_sgd import cli

FIGURES = Path(__file__).resolve().parent.parent / "figures"


def _docstring_first_line(path):
    m = re.search(r'^"""(.*?)(?:"""\s*)?$', path.read_text(), re.M)  # one-line docstrings close on their line
    return m.group(1).strip() if m else ""


def test_list_names_every_figure_script_with_its_description(capsys):
    assert cli.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    scripts = {p.stem: p for p in FIGURES.glob("fig_*.py")}  # read from disk here, not through cli
    assert len(lines) == len(scripts) >= 17
    for line in lines:
        name, _, desc = line.partition(" ")
        assert desc.strip() == _docstring_first_line(scripts[name]) != ""
    names = [line.split()[0] for line in lines]
    assert set(names) == set(scripts)
    f_numbers = [int(re.match(r"fig_f(\d+)_", n)[1]) for n in names if re.match(r"fig_f\d+_", n)]
    assert f_numbers == sorted(f_numbers) and f_numbers[:2] == [1, 1] and 10 in f_numbers  # f1, f2, ..., f10


def test_list_into_a_closed_pipe_ends_quietly():
    proc = subprocess.Popen([sys.executable, "-m", "pde_sgd.cli", "list"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=FIGURES.parent)
    proc.stdout.close()  # the reader is gone before the first line (`pde-sgd list | head -0`), as head -1 after one
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert proc.returncode in (0, 141)


@pytest.mark.parametrize("only, expected", [
    (["f1"], ["fig_f1_densities", "fig_f1_hj"]),  # not f10 / f11
    (["fig_f1"], ["fig_f1_densities", "fig_f1_hj"]),
    (["f10"], ["fig_f10_homogenization"]),
    (["f1_hj", "fig_f3_eigenvalue_map"], ["fig_f1_hj", "fig_f3_eigenvalue_map"]),
    (["fp"], ["fig_fp_free_energy", "fig_fp_leftover_field", "fig_fp_phi_vs_f"]),
])
def test_only_matches_exact_names_or_prefixes_at_underscores(only, expected):
    assert [s.stem for s in cli.select(cli.figure_scripts(), only)] == expected


@pytest.mark.parametrize("only", [["no_such_figure_xyz"], ["f"], ["f1_h"], ["hj"]])
def test_unknown_figure_is_a_clear_error(only):
    with pytest.raises(SystemExit, match="unknown figure"):
        cli.main(["figures", "--only", *only])


def _no_figure_may_run(monkeypatch):
    def fail(path):
        raise AssertionError(f"{path.name} ran although the command should have stopped first")
    monkeypatch.setattr(cli, "_load", fail)


def test_only_without_a_name_is_refused(monkeypatch):
    _no_figure_may_run(monkeypatch)
    with pytest.raises(SystemExit, match="--only needs at least one figure name"):
        cli.main(["figures", "--only"])


def test_unwritable_out_fails_before_any_figure(tmp_path, monkeypatch):
    _no_figure_may_run(monkeypatch)
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(SystemExit, match="not a writable folder"):
        cli.main(["figures", "--only", "f3", "--out", str(blocker / "sub")])


def test_ctrl_c_stops_the_figures_cleanly(tmp_path, monkeypatch, capsys):
    ran = []

    class Interrupted:
        @staticmethod
        def make(out, full=False):
            ran.append(1)
            raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_load", lambda path: Interrupted)
    assert cli.main(["figures", "--only", "f1", "--out", str(tmp_path)]) == 1  # 130 -> non-zero
    assert len(ran) == 1  # the second selected figure did not start
    assert "interrupted during fig_f1_densities" in capsys.readouterr().out
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("argv", [["--help"], ["figures", "--help"], ["list", "--help"], ["capture", "--help"]])
def test_help_has_no_raw_markup(argv):
    out = subprocess.run([sys.executable, "-m", "pde_sgd.cli", *argv], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("usage: pde-sgd")
    assert "``" not in out.stdout and ":func:" not in out.stdout and ":mod:" not in out.stdout
    if argv == ["capture", "--help"]:
        # every option has help text, and defaults are shown
        for flag in ("--model", "--k", "--n-store", "--hessian-samples", "--out", "--batch-size", "--seed"):
            assert re.search(rf"{flag}\b[^\n]*\n?\s+\S", out.stdout), flag
        assert "(default: 5)" in out.stdout and "(default: 64)" in out.stdout and "(default: captures)" in out.stdout


def test_capture_options_reach_the_capture_command(capsys):
    # `pde-sgd capture --model mlp ...` must pass its options through, not fail in the top-level parser
    with pytest.raises(SystemExit) as exc:
        cli.main(["capture", "--help"])
    assert exc.value.code == 0
    assert "--model" in capsys.readouterr().out


@pytest.mark.parametrize("flag, value, match", [
    ("--k", "0", r"--k must be in \[1, P="),
    ("--n-store", "0", "--n-store must be >= 1"),
    ("--hessian-samples", "0", r"--hessian-samples must be in \[1, N=100\]"),
    ("--hessian-samples", "101", r"--hessian-samples must be in \[1, N=100\]"),
    ("--out", "BLOCKED/sub", "--out .* is not a writable folder"),
])
def test_capture_bad_options_fail_before_training(tmp_path, monkeypatch, capsys, flag, value, match):
    from pde_sgd.networks import capture_cli

    def no_training(*a, **k):
        raise AssertionError("training started before the options were checked")

    monkeypatch.setattr(capture_cli, "sgd_iterates", no_training)
    (tmp_path / "BLOCKED").write_text("a file, not a folder")
    value = str(tmp_path / value) if flag == "--out" else value
    out_arg = [] if flag == "--out" else ["--out", str(tmp_path / "ok")]
    code = cli.main(["capture", "--", "--data", "synthetic", "--n-samples", "100", "--steps", "5", "--no-progress",
                     *out_arg, flag, value])
    assert code == 2
    assert re.search(match, capsys.readouterr().out)


def test_animate_shows_progress_and_says_when_it_skips_mp4(tmp_path, monkeypatch, capsys):
    from pde_sgd import animations
    monkeypatch.setattr(animations.shutil, "which", lambda name: None)  # no ffmpeg on this PATH
    assert cli.main(["animate", "hj_time", "--frames", "3", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "MP4 skipped: ffmpeg is not on the PATH" in captured.out
    assert "hj_time.gif" in captured.err and "3/3" in captured.err  # the frames' progress bar (tqdm, stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hj_time.gif"]
    assert cli.main(["animate", "hj_time", "--frames", "3", "--out", str(tmp_path), "--no-mp4"]) == 0
    assert "MP4 skipped" not in capsys.readouterr().out  # asked for the GIF only: nothing to explain
