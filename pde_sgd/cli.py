"""The ``pde-sgd`` command.

    pde-sgd figures [--only NAME ...] [--full] [--out DIR]   regenerate the theory figures (figures/fig_*.py)
    pde-sgd list                                              list the figure scripts and what each shows
    pde-sgd capture ...                                       capture D and Hessian spectra of a network
    pde-sgd train ...                                         train a digits model with the seeds' optimizers
    pde-sgd sweep NAME | --list                               run a named parameter sweep (see sweep --help)
    pde-sgd animate NAME | --list                             write a teaching animation (GIF, MP4)

Every figure script in ``figures/`` defines ``make(out_dir, full=False) -> list[Path]`` and a one-line module
docstring saying what it shows. ``--only`` takes figure names, each matching a script's name exactly or as a
prefix followed by ``_`` (``f1`` runs ``fig_f1_densities`` and ``fig_f1_hj``, not ``fig_f10_...``); the
``fig_`` prefix may be left out.
"""
from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import re
import sys
import time
import traceback
from pathlib import Path

from .validation import writable_folder

FIGURES_DIR = Path(__file__).resolve().parent.parent / "figures"
DESCRIPTION = "Regenerate the theory figures and capture gradient-noise statistics of small networks."


def natural_key(path: Path) -> list:
    """Sort fig_f2 before fig_f10: runs of digits compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.stem)]


def figure_scripts() -> list[Path]:
    """The figure scripts ``figures/fig_*.py`` of the source tree, in natural order (f1, f2, ..., f10)."""
    if not FIGURES_DIR.is_dir():
        raise SystemExit(f"no figures/ folder next to the package ({FIGURES_DIR}); run from a source checkout")
    return sorted(FIGURES_DIR.glob("fig_*.py"), key=natural_key)


def describe(path: Path) -> str:
    """First line of a script's module docstring (read without running it), or '' when it has none."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    return doc.strip().splitlines()[0] if doc else ""


def _short(stem: str) -> str:
    return stem[4:] if stem.startswith("fig_") else stem


def select(scripts: list[Path], only: list[str]) -> list[Path]:
    """The scripts named by ``only``: exact name, or a prefix ending at a ``_`` boundary (``fig_`` optional).

    Raises SystemExit naming the unknown names and listing the available ones.
    """
    def matches(name: str, stem: str) -> bool:
        return any(s == name or s.startswith(name.rstrip("_") + "_") for s in (stem, _short(stem)))

    unknown = [o for o in only if not any(matches(o, s.stem) for s in scripts)]
    if unknown:
        raise SystemExit(f"unknown figure(s) {unknown}; available: {', '.join(_short(s.stem) for s in scripts)}")
    return [s for s in scripts if any(matches(o, s.stem) for o in only)]


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "make"):
        raise AttributeError(f"{path.name} defines no make(out_dir, full=False)")
    return module


def check_writable(out: Path) -> None:
    """:func:`writable_folder` for the figures command: SystemExit with the message."""
    try:
        writable_folder(out)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None


def run_figures(only: list[str] | None, full: bool, out: Path) -> int:
    """Run the selected figure scripts; returns the number that failed (130 after Ctrl-C)."""
    scripts = figure_scripts()
    if only is not None:
        if not only:
            raise SystemExit("--only needs at least one figure name; `pde-sgd list` shows them")
        scripts = select(scripts, only)
    check_writable(out)
    failed = 0
    for i, script in enumerate(scripts, 1):
        t0, c0 = time.perf_counter(), time.process_time()
        print(f"[{i}/{len(scripts)}] {script.stem} ...", flush=True)
        try:
            paths = _load(script).make(out, full=full)
        except KeyboardInterrupt:
            print(f"\ninterrupted during {script.stem}; figures written so far are complete", flush=True)
            return 130
        except Exception:  # report every failing figure, then exit non-zero
            failed += 1
            traceback.print_exc()
            print(f"    FAILED {script.stem}", flush=True)
            continue
        for p in paths:
            print(f"    wrote {p}", flush=True)
        print(f"    done in {time.perf_counter() - t0:.1f} s ({time.process_time() - c0:.1f} s CPU in this process)",
              flush=True)
    print(f"{len(scripts) - failed} figure script(s) succeeded, {failed} failed; output in {out}")
    return failed


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pde-sgd", description=DESCRIPTION,
                                     epilog="`pde-sgd COMMAND --help` describes each command.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    fig = sub.add_parser("figures", help="regenerate the theory figures",
                         description="Run figures/fig_*.py and write each figure as PNG and PDF.")
    fig.add_argument("--only", nargs="*", metavar="NAME",
                     help="figures to run: a name (f1_hj or fig_f1_hj) or a prefix at a '_' (f1 runs "
                          "f1_densities and f1_hj, not f10); default: all")
    fig.add_argument("--full", action="store_true", help="publication setting (slower) instead of the quick one")
    fig.add_argument("--out", type=Path, default=FIGURES_DIR / "out",
                     help="output folder (default: figures/out of the source tree)")
    sub.add_parser("list", help="list the figure scripts and what each shows")
    sub.add_parser("capture", add_help=False,
                   help="capture gradient-noise D and Hessian spectra of a small network (see capture --help)")
    sub.add_parser("train", add_help=False,
                   help="train a digits model with SGD/Entropy-SGD/Parle/... (see train --help)")
    sub.add_parser("sweep", add_help=False, help="run a named parameter sweep, or --list them (see sweep --help)")
    sub.add_parser("animate", add_help=False, help="write a teaching animation as GIF/MP4 (see animate --help)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``pde-sgd``; returns the exit status. A reader that closes the pipe early (``pde-sgd list | head -1``)
    ends the command quietly (status 141, as after SIGPIPE), without a traceback."""
    try:
        status = _main(argv)
        sys.stdout.flush()  # inside the try: a closed pipe shows up here, not at interpreter exit
        return status
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the final flush at exit must not fail again
        return 141


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["train"]:
        from .training.cli import main as train_main  # torch is imported only here
        return train_main(argv[1:])
    if argv[:1] == ["sweep"]:
        from .sweeps.cli import main as sweep_main
        return sweep_main(argv[1:])
    if argv[:1] == ["animate"]:
        from .animations import main as animate_main  # matplotlib is imported only here
        return animate_main(argv[1:])
    if argv[:1] == ["capture"]:
        from .networks.capture_cli import main as capture_main  # torch is imported only here
        return capture_main(argv[1:])
    ns = _parser().parse_args(argv)
    if ns.command == "list":
        scripts = figure_scripts()
        width = max(len(s.stem) for s in scripts)
        for s in scripts:
            print(f"{s.stem:<{width}}  {describe(s)}")
        return 0
    return 1 if run_figures(ns.only, ns.full, ns.out) else 0


if __name__ == "__main__":
    sys.exit(main())
