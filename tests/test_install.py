"""The package installs like a library: the wheel builds (``python -m build``) and installs into an environment
that already has a torch in setup.cfg's range without replacing it.

The "existing environment" is a fresh venv whose only packages are those of the interpreter running the tests,
reached through a ``.pth`` line (so its torch, numpy, ... count as installed there); ``pip install --no-index``
then has nothing it could download: it succeeds only if every requirement, torch's range included, is already
met, and torch's version and files must be the same afterwards.
"""
import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pde_sgd", "setup.cfg", "pyproject.toml", "README.md")


def _run(cmd, cwd="/"):
    """Run ``cmd`` outside the work tree (``python -c`` would import the work tree's pde_sgd from the cwd)."""
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    assert out.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built by ``python -m build`` from a copy of the sources (the work tree stays clean)."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
        else:
            shutil.copy2(ROOT / name, src / name)
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(src)])
    (path,) = dist.glob("pde_sgd-*.whl")
    return path


def test_wheel_holds_every_module_and_the_console_script(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(zf.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
        metadata = next(zf.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "pde_sgd").rglob("*.py")}
    assert modules and not modules - names, f"missing from the wheel: {sorted(modules - names)}"
    assert "pde-sgd = pde_sgd.cli:main" in entry_points
    torch_req = [line for line in metadata.splitlines() if line.startswith("Requires-Dist: torch")
                 and "torchsde" not in line]
    assert torch_req and "==" not in torch_req[0], torch_req  # a range, not a pin


def _torch_of(python) -> dict:
    code = "import json, torch; print(json.dumps({'version': torch.__version__, 'file': torch.__file__}))"
    return json.loads(_run([str(python), "-c", code]).strip().splitlines()[-1])


def test_wheel_installs_beside_an_existing_torch_without_replacing_it(wheel, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip())
    # this interpreter's site-packages, and any others on its path (an environment layered on another by a .pth)
    host = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")} | {p for p in sys.path if
                                                                          p.endswith("site-packages")}
    (site / "host_environment.pth").write_text("\n".join(sorted(host)) + "\n")
    before = _torch_of(python)
    assert before == _torch_of(sys.executable)
    log = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index", "--no-cache-dir",
                "--disable-pip-version-check", str(wheel)])
    assert "Successfully installed pde_sgd" in log.replace("pde-sgd", "pde_sgd"), log
    assert _torch_of(python) == before, "installing the wheel replaced torch"
    imported = _run([str(python), "-c", "import pde_sgd; print(pde_sgd.__file__)"]).strip()
    assert Path(imported).is_relative_to(site), imported  # the wheel's copy, not the work tree's
    assert _run([str(venv / "bin" / "pde-sgd"), "--help"]).startswith("usage: pde-sgd")  # the console script
    listing = subprocess.run([str(venv / "bin" / "pde-sgd"), "list"], capture_output=True, text=True, cwd="/")
    assert listing.returncode == 1 and "run from a source checkout" in listing.stderr  # figures/ is not shipped
