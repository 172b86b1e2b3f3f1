"""Benchmark: first call of each entry point with an empty Numba cache, against its target, and the kernels whose
compilation dominates.

Each entry point (the public solvers a new user meets first: simulate_sgd with a constant D and with a D(x)
field, Entropy-SGD, Elastic-SGD, the homogenized limit, each HJ solver and exact reference, the Fokker-Planck
explicit (diagonal and cross D), implicit and exact-in-time evolutions and the steady state) runs in a fresh
process with ``NUMBA_CACHE_DIR`` an empty temporary folder: what a new user waits for on their first call
(imports of the solver's subpackage included). A second fresh process then reuses that cache: the first call of
every later session. Targets: simulate_sgd <= 5 s (issue 12), Entropy-SGD, Elastic-SGD, the homogenized limit
(issue 21.5) and each HJ / FP solver <= 2 s, judged on the clock chosen by ``--clock`` (CPU seconds of the process are the steadier figure on a shared
machine; the compiler runs on one thread). The top-level ``numba:compile`` events per kernel are listed (Numba's
event API, wall seconds). ``--together`` adds one process running every selected entry on one empty cache, where
shared kernels compile once: a new user's session that calls them all.
Usage: python benchmarks/cold_start.py [--threads 1] [--clock cpu] [--only sgd viscous ...] [--together]
"""
from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import tempfile
import time

SDE_TARGET, SOLVER_TARGET = 5.0, 2.0
TARGETS = {"sgd": SDE_TARGET, "sgd_field": SDE_TARGET, "entropy_sgd": SOLVER_TARGET, "elastic_sgd": SOLVER_TARGET,
           "homogenized": SOLVER_TARGET, "viscous": SOLVER_TARGET, "inviscid": SOLVER_TARGET,
           "local_entropy": SOLVER_TARGET, "moreau": SOLVER_TARGET, "fp_explicit": SOLVER_TARGET,
           "fp_cross": SOLVER_TARGET, "fp_implicit": SOLVER_TARGET, "fp_expm": SOLVER_TARGET,
           "fp_steady": SOLVER_TARGET}
ENTRIES = tuple(TARGETS)


def call(which: str) -> None:
    """The first call a new user makes of ``which`` (small problems: the time is the compile and import time)."""
    import numpy as np

    from pde_sgd import Grid, landscapes
    if which.startswith("sgd"):
        from pde_sgd.sde import simulate_sgd
        g = Grid([-3, -3], [3, 3], [16, 16])
        D = np.broadcast_to(np.eye(2), (16, 16, 2, 2)).copy() if which == "sgd_field" else 1.0
        simulate_sgd(landscapes.double_well(2), D, 3.0, [0.5, 0.0], dt=0.01, n_steps=10, n_paths=8, seed=0,
                     grid=g if which == "sgd_field" else None)
    elif which in ("entropy_sgd", "elastic_sgd"):
        from pde_sgd import sde
        getattr(sde, which)(landscapes.double_well(2), 3.0, [0.5, 0.0], gamma=0.1, eps=0.01, dt=0.001, n_paths=8,
                            seed=0, T=0.01, n_saves=1)
    elif which == "homogenized":
        from pde_sgd.sde import homogenized
        homogenized(landscapes.double_well(2), 3.0, [0.5, 0.0], gamma=0.1, T=0.05, n_saves=1)
    elif which.startswith("fp_"):
        from pde_sgd.fokker_planck import FokkerPlanck
        D = [[1.0, 0.4], [0.4, 0.8]] if which == "fp_cross" else 1.0
        fp = FokkerPlanck(landscapes.quadratic(np.eye(2)), Grid([-1, -1], [1, 1], [8, 8]), D=D, beta=1.0)
        if which == "fp_steady":
            fp.steady_state()
        else:
            method = {"fp_implicit": "implicit", "fp_expm": "expm"}.get(which, "explicit")
            fp.evolve(np.ones((8, 8)), times=[0, 0.01], method=method)
    else:
        from pde_sgd import hj
        g = Grid([0.0, 0.0], [6.28, 6.28], [32, 32], bc="periodic")
        f = np.cos(g.coords[0]) + np.cos(g.coords[1])
        {"viscous": lambda: hj.solve_viscous(f, g, 10.0, times=[0.01]),
         "inviscid": lambda: hj.solve_inviscid(f, g, times=[0.01]),
         "local_entropy": lambda: hj.local_entropy(f, g, 0.1, 10.0),
         "moreau": lambda: hj.moreau_envelope(f, g, 0.1)}[which]()


def run_entries(names: list[str]) -> None:
    """Time the first calls of ``names`` in this (fresh) process; print one JSON line per entry."""
    from numba.core import event

    import pde_sgd  # noqa: F401  (the package itself is imported before the clock starts)
    compile_s: dict[str, float] = collections.defaultdict(float)
    open_events: list[float] = []

    class Listener(event.Listener):
        def on_start(self, ev):
            open_events.append(time.perf_counter())

        def on_end(self, ev):
            t0 = open_events.pop()
            if not open_events:  # top level: nested compilations are inside it
                compile_s[ev.data["dispatcher"].py_func.__qualname__] += time.perf_counter() - t0

    event.register("numba:compile", Listener())
    for which in names:
        compile_s.clear()
        t0, c0 = time.perf_counter(), time.process_time()
        call(which)
        print(json.dumps({"entry": which, "wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                          "compile": dict(compile_s)}), flush=True)


def measure(names: list[str], cache: str, threads: int) -> list[dict]:
    """Run ``names`` in one fresh process on the Numba cache folder ``cache``; their JSON records."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, NUMBA_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, __file__, "--entries", *names], env=env, check=True, text=True,
                         stdout=subprocess.PIPE).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def row(label: str, cold: dict, warm: dict | None, clock: str, target: float | None) -> str:
    top = sorted(cold["compile"].items(), key=lambda kv: -kv[1])[:3]
    t = cold[clock]
    verdict = "-" if target is None else ("met" if t <= target else "NOT met")
    return (f"{label:14s} {cold['wall']:7.2f} {cold['cpu']:7.2f} {sum(cold['compile'].values()):8.2f} "
            f"{warm[clock] if warm else float('nan'):8.2f} {target or float('nan'):7.1f} {verdict:8s} "
            + ", ".join(f"{name} {s:.1f}" for name, s in top))


def main() -> None:
    sys.path.insert(0, os.path.dirname(__file__))
    import _common as C
    ap = C.parser(__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", default=list(ENTRIES), choices=ENTRIES)
    ap.add_argument("--together", action="store_true",
                    help="also run all selected entries in one process on one empty cache")
    args = ap.parse_args()
    threads = C.set_threads(args.threads, args.clock)
    clock = "cpu" if args.clock == "cpu" else "wall"
    print(f"\nfirst call, empty Numba cache, {threads} thread(s); verdict on {clock} seconds\n"
          f"{'entry':14s} {'wall s':>7s} {'CPU s':>7s} {'compile':>8s} {'warm s':>8s} {'target':>7s} {'verdict':8s} "
          f"top kernels (compile wall s)", flush=True)
    for which in args.only:
        with tempfile.TemporaryDirectory() as cache:
            cold, = measure([which], cache, threads)
            warm, = measure([which], cache, threads)  # a later session: the kernels load from the cache
        print(row(which, cold, warm, clock, TARGETS[which]), flush=True)
    if args.together:
        with tempfile.TemporaryDirectory() as cache:
            records = measure(args.only, cache, threads)
        compile_s: collections.Counter = collections.Counter()
        for r in records:
            compile_s.update(r["compile"])
        total = {"wall": sum(r["wall"] for r in records), "cpu": sum(r["cpu"] for r in records),
                 "compile": dict(compile_s)}
        print(row("all, 1 process", total, None, clock, None))


if __name__ == "__main__":
    run_entries(sys.argv[2:]) if sys.argv[1:2] == ["--entries"] else main()
