"""``pde-sgd sweep``: run a named sweep of ``simulations/*.py``, or list them.

    pde-sgd sweep --list
    pde-sgd sweep NAME [--full] [--store DIR] [--backend serial|dask] [--workers N] [--scheduler ADDRESS]
                       [--timeout SECONDS]

The backend defaults to ``dask`` when ``--workers``, ``--scheduler``, ``--timeout`` or the environment variable
PDE_SGD_SCHEDULER is given, to ``serial`` otherwise. The store defaults to ./sweeps/NAME (or
$PDE_SGD_STORE/NAME). Exit status 1 if a point failed (its traceback is printed and kept in the store as
``<key>.failed.json``); a re-run computes only the missing and failed points. The run ends with the table's
summary and the line that loads it in Python (``Table.load(store)``).
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from .discover import discover_sweeps
from ..validation import positive, positive_int
from .engine import BACKENDS, SCHEDULER_ENV, STORE_ENV, default_store, run_sweep


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pde-sgd sweep", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.split("\n")[6:]))
    p.add_argument("name", nargs="?", help="the sweep to run (see --list)")
    p.add_argument("--list", action="store_true", help="list the named sweeps with their descriptions")
    p.add_argument("--full", action="store_true", help="the publication setting instead of the quick one")
    p.add_argument("--store", type=Path, help=f"results folder (default ./sweeps/NAME or ${STORE_ENV}/NAME)")
    p.add_argument("--backend", choices=BACKENDS, help="serial (this process) or dask")
    p.add_argument("--workers", type=_positive_int, help="size of the LocalCluster started for the dask backend")
    p.add_argument("--timeout", type=_positive_float, help="seconds a point may run (dask backend)")
    p.add_argument("--scheduler", help=f"address of a running Dask scheduler (default ${SCHEDULER_ENV})")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _positive_int(text: str) -> int:
    try:
        return positive_int("--workers", int(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc) if "--workers" in str(exc) else
                                         f"--workers must be an integer >= 1, got {text!r}") from None


def _positive_float(text: str) -> float:
    try:
        return positive("--timeout", text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    ns = parser.parse_args(argv)
    sweeps = discover_sweeps()
    if ns.list:
        for name, factory in sorted(sweeps.items()):
            print(f"{name:28s} {factory(False).description}")
        return 0
    if ns.name is None:
        parser.error("give a sweep NAME or --list")
    if ns.name not in sweeps:
        raise SystemExit(f"unknown sweep {ns.name!r}; available: {', '.join(sorted(sweeps)) or 'none'}")
    remote = ns.scheduler or os.environ.get(SCHEDULER_ENV)
    dask_opts = ns.workers is not None or ns.timeout is not None
    backend = ns.backend or ("dask" if remote or dask_opts else "serial")
    if backend == "serial" and (ns.scheduler or dask_opts):
        parser.error("--scheduler, --workers and --timeout need --backend dask")
    sweep = sweeps[ns.name](ns.full)
    store = ns.store or default_store(sweep.name)
    dask_kw = {"scheduler": ns.scheduler, "n_workers": ns.workers, "timeout": ns.timeout} if backend == "dask" else {}
    try:
        table = run_sweep(sweep, store=store, backend=backend, progress=not ns.no_progress, **dask_kw)
    except (ValueError, OSError) as exc:
        raise SystemExit(f"pde-sgd sweep {ns.name}: {exc}") from None
    for point, tb in table.failed:
        print(f"FAILED {point}:\n{tb}")
    print(f"{sweep.name}: {len(table.finished())} of {len(table.points)} points finished, {len(table.failed)} "
          f"failed; results in {store}")
    print(f"{table!r}; load it in Python with\n    from pde_sgd.sweeps import Table\n"
          f"    table = Table.load({str(store)!r})")
    return 1 if table.failed else 0
