import subprocess
import sys

import pytest

from pde_sgd import cli


def test_list_names_every_figure_script(capsys):
    assert cli.main(["list"]) == 0
    names = capsys.readouterr().out.split()
    assert names == [p.stem for p in cli.figure_scripts()]


def test_unknown_figure_is_a_clear_error():
    with pytest.raises(SystemExit, match="unknown figure"):
        cli.main(["figures", "--only", "no_such_figure_xyz"])


def test_console_entry_point_help():
    out = subprocess.run([sys.executable, "-m", "pde_sgd.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "figures" in out.stdout


def test_capture_options_reach_the_capture_command(capsys):
    # `pde-sgd capture --model mlp ...` must pass its options through, not fail in the top-level parser
    with pytest.raises(SystemExit) as exc:
        cli.main(["capture", "--help"])
    assert exc.value.code == 0
    assert "--model" in capsys.readouterr().out
