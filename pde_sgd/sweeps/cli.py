"""``pde-sgd sweep``: run a named sweep of ``simulations/*.py``, or list them.

    pde-sgd sweep --list
    pde-sgd sweep NAME [--full] [--store DIR] [--backend serial|dask] [--workers N] [--scheduler ADDRESS]

The backend defaults to ``dask`` when ``--workers``, ``--scheduler`` or the environment variable
PDE_SGD_SCHEDULER is given, to ``serial`` otherwise. Exit status 1 if a point failed (its traceback is
printed and kept in the store as ``<key>.failed.json``); a re-run computes only the missing and failed points.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from .discover import discover_sweeps
from .engine import BACKENDS, SCHEDULER_ENV, default_store, run_sweep


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pde-sgd sweep", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.split("\n")[5:]))
    p.add_argument("name", nargs="?", help="the sweep to run (see --list)")
    p.add_argument("--list", action="store_true", help="list the named sweeps with their descriptions")
    p.add_argument("--full", action="store_true", help="the publication setting instead of the quick one")
    p.add_argument("--store", type=Path, help="results folder (default simulations/out/sweeps/NAME)")
    p.add_argument("--backend", choices=BACKENDS, help="serial (this process) or dask")
    p.add_argument("--workers", type=int, help="size of the LocalCluster started for the dask backend")
    p.add_argument("--scheduler", help=f"address of a running Dask scheduler (default ${SCHEDULER_ENV})")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


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
    backend = ns.backend or ("dask" if remote or ns.workers is not None else "serial")
    if backend == "serial" and (ns.scheduler or ns.workers is not None):
        parser.error("--scheduler and --workers need --backend dask")
    sweep = sweeps[ns.name](ns.full)
    store = ns.store or default_store(sweep.name)
    dask_kw = {"scheduler": ns.scheduler, "n_workers": ns.workers} if backend == "dask" else {}
    table = run_sweep(sweep, store=store, backend=backend, progress=not ns.no_progress, **dask_kw)
    for point, tb in table.failed:
        print(f"FAILED {point}:\n{tb}")
    print(f"{sweep.name}: {len(table.finished())} of {len(table.points)} points finished, {len(table.failed)} "
          f"failed; results in {store}")
    return 1 if table.failed else 0
