"""The ``pde-sgd`` command.

    pde-sgd figures [--only NAME ...] [--full] [--out DIR]   regenerate the theory figures (figures/fig_*.py)
    pde-sgd list                                              list the figure scripts
    pde-sgd capture ...                                       capture D and Hessian spectra of a network
    pde-sgd sweep NAME | --list                               run a named parameter sweep (see sweep --help)

Every figure script in ``figures/`` defines ``make(out_dir, full=False) -> list[Path]``.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import traceback
from pathlib import Path

FIGURES_DIR = Path(__file__).resolve().parent.parent / "figures"


def figure_scripts() -> list[Path]:
    """The figure scripts ``figures/fig_*.py`` of the source tree, sorted by name."""
    if not FIGURES_DIR.is_dir():
        raise SystemExit(f"no figures/ folder next to the package ({FIGURES_DIR}); run from a source checkout")
    return sorted(FIGURES_DIR.glob("fig_*.py"))


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "make"):
        raise AttributeError(f"{path.name} defines no make(out_dir, full=False)")
    return module


def run_figures(only: list[str] | None, full: bool, out: Path) -> int:
    """Run the selected figure scripts; returns the number that failed."""
    scripts = figure_scripts()
    if only:
        unknown = [o for o in only if not any(o in s.stem for s in scripts)]
        if unknown:
            names = ", ".join(s.stem for s in scripts)
            raise SystemExit(f"unknown figure(s) {unknown}; available: {names}")
        scripts = [s for s in scripts if any(o in s.stem for o in only)]
    failed = 0
    for i, script in enumerate(scripts, 1):
        t0 = time.perf_counter()
        print(f"[{i}/{len(scripts)}] {script.stem} ...", flush=True)
        try:
            paths = _load(script).make(out, full=full)
        except Exception:  # report every failing figure, then exit non-zero
            failed += 1
            traceback.print_exc()
            print(f"    FAILED {script.stem}", flush=True)
            continue
        for p in paths:
            print(f"    wrote {p}", flush=True)
        print(f"    done in {time.perf_counter() - t0:.1f} s", flush=True)
    print(f"{len(scripts) - failed} figure script(s) succeeded, {failed} failed; output in {out}")
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pde-sgd", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fig = sub.add_parser("figures", help="regenerate the theory figures")
    fig.add_argument("--only", nargs="*", help="substrings of figure script names to run")
    fig.add_argument("--full", action="store_true", help="publication setting (slower) instead of the quick one")
    fig.add_argument("--out", type=Path, default=FIGURES_DIR / "out", help="output folder (default figures/out)")
    sub.add_parser("list", help="list the figure scripts")
    sub.add_parser("capture", add_help=False,
                   help="capture gradient-noise D and Hessian spectra of a small network (see capture --help)")
    sub.add_parser("sweep", add_help=False, help="run a named parameter sweep, or --list them (see sweep --help)")
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["sweep"]:
        from .sweeps.cli import main as sweep_main
        return sweep_main(argv[1:])
    if argv[:1] == ["capture"]:
        from .networks.capture_cli import main as capture_main  # torch is imported only here
        return capture_main(argv[1:])
    ns = parser.parse_args(argv)
    if ns.command == "list":
        for s in figure_scripts():
            print(s.stem)
        return 0
    return 1 if run_figures(ns.only, ns.full, ns.out) else 0


if __name__ == "__main__":
    sys.exit(main())
