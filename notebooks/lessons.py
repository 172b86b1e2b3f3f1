"""Turn the lesson sources ``notebooks/NN_*.py`` (jupytext percent format) into .ipynb, executed or not.

    python notebooks/lessons.py                     executed notebooks (quick setting) into docs/lessons/
    python notebooks/lessons.py --out DIR --full    executed with the lesson's full parameters
    python notebooks/lessons.py --no-execute        plain .ipynb to open and run in Jupyter (build/notebooks)

Execution runs a Jupyter kernel through nbclient with PDE_SGD_QUICK=1 (unless ``--full``) and
PDE_SGD_WIDGETS=0 (the static fallback of :func:`pde_sgd.widgets.explore`, since no frontend renders
widgets here), the repository root as working folder and on PYTHONPATH; any cell error fails. Each executed
notebook records in its metadata the SHA-256 of its source, the setting and the seconds it took, so that the
documentation build (docs/conf.py) reuses it while the source is unchanged.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import resource
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "notebooks"
EXECUTED = ROOT / "docs" / "lessons"
PLAIN = ROOT / "build" / "notebooks"
META_KEY = "pde_sgd"


def sources() -> list[Path]:
    """The lesson sources notebooks/NN_*.py, sorted by number."""
    return sorted(SOURCES.glob("[0-9][0-9]_*.py"))


def source_hash(src: Path) -> str:
    return hashlib.sha256(src.read_bytes()).hexdigest()


def to_notebook(src: Path):
    """The jupytext percent source as an nbformat v4 notebook (no outputs)."""
    import jupytext
    nb = jupytext.read(src, fmt="py:percent")
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return nb


@contextmanager
def _environment(quick: bool):
    """PDE_SGD_QUICK / PDE_SGD_WIDGETS / PYTHONPATH for the kernel (it inherits this process's environment)."""
    saved = {k: os.environ.get(k) for k in ("PDE_SGD_QUICK", "PDE_SGD_WIDGETS", "PYTHONPATH", "MPLBACKEND")}
    os.environ["PDE_SGD_QUICK"] = "1" if quick else "0"
    os.environ["PDE_SGD_WIDGETS"] = "0"
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), saved["PYTHONPATH"]) if p)
    os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend draws the figures into the outputs
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its reaped children (the kernels)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def execute(src: Path, out_dir: Path = EXECUTED, *, quick: bool = True, timeout: int = 600) -> tuple[Path, float]:
    """Execute lesson ``src`` top to bottom into ``out_dir/NAME.ipynb``; returns (path, wall seconds).

    The metadata also records the CPU seconds (kernel included), a load-independent measure of its cost.

    Raises nbclient's CellExecutionError (with the failing cell and traceback) on any error, and
    CellTimeoutError when one cell runs past ``timeout`` seconds.
    """
    import nbformat
    from nbclient import NotebookClient
    nb = to_notebook(src)
    t0, c0 = time.perf_counter(), _cpu_seconds()
    with _environment(quick):
        NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=False,
                       resources={"metadata": {"path": str(ROOT)}}).execute()
    seconds, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
    nb.metadata[META_KEY] = {"source_sha256": source_hash(src), "quick": quick, "seconds": round(seconds, 2),
                             "cpu_seconds": round(cpu, 2)}
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{src.stem}.ipynb"
    tmp = path.with_suffix(".ipynb.part")
    nbformat.write(nb, tmp)
    tmp.replace(path)
    return path, seconds


def is_current(src: Path, out_dir: Path = EXECUTED, *, quick: bool = True) -> bool:
    """True when ``out_dir/NAME.ipynb`` was executed from the present text of ``src`` in the same setting."""
    path = out_dir / f"{src.stem}.ipynb"
    if not path.is_file():
        return False
    meta = nbformat_meta(path)
    return meta.get("source_sha256") == source_hash(src) and meta.get("quick") == quick


def write_plain(src: Path, out_dir: Path = PLAIN) -> Path:
    """``out_dir/NAME.ipynb`` without outputs, to open and run (with live sliders) in Jupyter."""
    import nbformat
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{src.stem}.ipynb"
    nbformat.write(to_notebook(src), path)
    return path


def nbformat_meta(path: Path) -> dict:
    """The execution record (source hash, setting, seconds, CPU seconds) of an executed notebook."""
    import nbformat
    return nbformat.read(path, as_version=4).metadata.get(META_KEY, {})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="output folder (default docs/lessons, or build/notebooks "
                                                 "with --no-execute)")
    parser.add_argument("--full", action="store_true", help="the lessons' full parameters (slower)")
    parser.add_argument("--no-execute", action="store_true", help="write plain notebooks, without outputs")
    parser.add_argument("--only", nargs="*", help="lesson names or number prefixes (e.g. 01 03_homogenization)")
    ns = parser.parse_args(argv)
    chosen = [s for s in sources() if not ns.only or any(s.stem == o or s.stem.startswith(f"{o}_")
                                                          for o in ns.only)]
    if not chosen:
        parser.error(f"no lesson matches {ns.only}; available: {[s.stem for s in sources()]}")
    for src in chosen:
        if ns.no_execute:
            print(f"wrote {write_plain(src, ns.out or PLAIN)}")
            continue
        path, seconds = execute(src, ns.out or EXECUTED, quick=not ns.full)
        cpu = nbformat_meta(path)["cpu_seconds"]
        print(f"{src.stem}: executed in {seconds:.1f} s wall, {cpu:.1f} s CPU -> {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
