"""Benchmark: first call of each entry point with an empty Numba cache, and the kernels whose compilation dominates.

Each entry point (simulate_sgd with a constant D and with a D(x) field, each HJ solver, the Fokker-Planck explicit
evolve) runs in a fresh process with ``NUMBA_CACHE_DIR`` an empty temporary folder: what a new user waits for on
their first call. Wall and CPU seconds are printed (on a shared machine the CPU time is the steadier figure),
with the top-level ``numba:compile`` events per kernel (Numba's event API).
Usage: python benchmarks/cold_start.py [--threads 1] [--only sgd viscous ...]
"""
from __future__ import annotations

import collections
import os
import subprocess
import sys
import tempfile
import time

ENTRIES = ("sgd", "sgd_field", "viscous", "inviscid", "local_entropy", "moreau", "fp_explicit")


def run_entry(which: str) -> None:
    """Time the first call of ``which`` in this (fresh) process; print a summary and the top kernels."""
    from numba.core import event
    import numpy as np

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
    from pde_sgd import Grid, landscapes
    t0, c0 = time.perf_counter(), time.process_time()
    if which.startswith("sgd"):
        from pde_sgd.sde import simulate_sgd
        g = Grid([-3, -3], [3, 3], [16, 16])
        D = np.broadcast_to(np.eye(2), (16, 16, 2, 2)).copy() if which == "sgd_field" else 1.0
        simulate_sgd(landscapes.double_well(2), D, 3.0, [0.5, 0.0], dt=0.01, n_steps=10, n_paths=8, seed=0,
                     grid=g if which == "sgd_field" else None)
    elif which == "fp_explicit":
        from pde_sgd.fokker_planck import FokkerPlanck
        FokkerPlanck(landscapes.quadratic(np.eye(2)), Grid([-1, -1], [1, 1], [8, 8]), beta=1.0).evolve(
            np.ones((8, 8)), times=[0, 0.01])
    else:
        from pde_sgd import hj
        g = Grid([0.0, 0.0], [6.28, 6.28], [32, 32], bc="periodic")
        f = np.cos(g.coords[0]) + np.cos(g.coords[1])
        {"viscous": lambda: hj.solve_viscous(f, g, 10.0, times=[0.01]),
         "inviscid": lambda: hj.solve_inviscid(f, g, times=[0.01]),
         "local_entropy": lambda: hj.local_entropy(f, g, 0.1, 10.0),
         "moreau": lambda: hj.moreau_envelope(f, g, 0.1)}[which]()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    top = sorted(compile_s.items(), key=lambda kv: -kv[1])[:4]
    print(f"{which:14s} {wall:8.2f} {cpu:8.2f} {sum(compile_s.values()):9.2f}  "
          + ", ".join(f"{name} {s:.1f}" for name, s in top))


def main() -> None:
    sys.path.insert(0, os.path.dirname(__file__))
    import _common as C
    ap = C.parser(__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", default=list(ENTRIES), choices=ENTRIES)
    args = ap.parse_args()
    threads = C.set_threads(args.threads, args.clock)
    print(f"\nfirst call, empty Numba cache, {threads} thread(s)\n{'entry':14s} {'wall s':>8s} {'CPU s':>8s} "
          f"{'compile s':>9s}  top kernels (compile s)", flush=True)
    for which in args.only:
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, NUMBA_CACHE_DIR=cache, NUMBA_NUM_THREADS=str(threads))
            subprocess.run([sys.executable, __file__, "--entry", which], env=env, check=True)


if __name__ == "__main__":
    run_entry(sys.argv[2]) if sys.argv[1:2] == ["--entry"] else main()
