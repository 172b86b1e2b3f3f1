"""Run a named experiment sweep serially into its store and return its Results, for the figure scripts."""
from __future__ import annotations

from pathlib import Path

from pde_sgd import Result
from pde_sgd.sweeps import Sweep, run_sweep

STORE_ROOT = Path(__file__).resolve().parent / "out" / "sweeps"


def sweep_results(sweep: Sweep, *, store_root: Path = STORE_ROOT) -> list[Result]:
    """``run_sweep(sweep, backend="serial")`` (store ``store_root/<name>``, by default
    ``simulations/out/sweeps/<name>``: finished points are reused, missing ones computed) and the Results in
    point order; RuntimeError with the first traceback if any point failed (a figure drawn from part of a sweep
    would mislead)."""
    table = run_sweep(sweep, store=Path(store_root) / sweep.name, backend="serial", progress=False)
    if table.failed:
        point, tb = table.failed[0]
        raise RuntimeError(f"sweep {sweep.name!r}: {len(table.failed)} point(s) failed; first {point}:\n{tb}")
    return list(table.results)
