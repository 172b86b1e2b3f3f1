"""Benchmark: 1 vs 2 threads under each threading layer / OpenMP wait setting, on an idle and a loaded machine.

Kernels: the viscous HJ solver (central scheme, 256^2, one parallel region per RK stage: the most barriers per
second) and the SGD ensemble with a D(x) field (10,000 paths). "loaded" = one extra busy process
(``python -c 'while 1: pass'``) started here and ended after. Each setting runs in a fresh process (OpenMP reads
its variables when it loads); its variables are set explicitly, so pde_sgd's default (pde_sgd/_threads.py)
does not override them. Pass ``--cpus 0,1`` to pin the runs (and the busy process to the first cpu) with
taskset, e.g. on a many-core machine to emulate two cores. ``--threads N`` (default 2) is compared with 1.
Usage: python benchmarks/threads.py [--threads 2] [--cpus 0,1]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

SETTINGS = {
    "omp, libgomp default spin (GOMP_SPINCOUNT=300000)": {"NUMBA_THREADING_LAYER": "omp", "GOMP_SPINCOUNT": "300000"},
    "omp, OMP_WAIT_POLICY=PASSIVE": {"NUMBA_THREADING_LAYER": "omp", "OMP_WAIT_POLICY": "PASSIVE"},
    "omp, GOMP_SPINCOUNT=10000": {"NUMBA_THREADING_LAYER": "omp", "GOMP_SPINCOUNT": "10000"},
    "omp, KMP_BLOCKTIME=0 (Intel runtime only)": {"NUMBA_THREADING_LAYER": "omp", "KMP_BLOCKTIME": "0"},
    "workqueue": {"NUMBA_THREADING_LAYER": "workqueue", "GOMP_SPINCOUNT": "300000"},
    "tbb": {"NUMBA_THREADING_LAYER": "tbb", "GOMP_SPINCOUNT": "300000"},
}


def child() -> None:
    """Rates of both kernels on 1 and NUMBA_NUM_THREADS threads (best of 2), printed as one JSON line."""
    import numba
    import numpy as np

    from pde_sgd import Grid, hj, landscapes
    from pde_sgd.sde import simulate_sgd
    sys.path.insert(0, os.path.dirname(__file__))
    from sde import diffusion_field

    g = Grid([0.0, 0.0], [2 * np.pi] * 2, [256, 256], bc="periodic")
    f = 0.5 * (np.cos(g.coords[0]) + np.cos(g.coords[1] + 0.3))
    sg = Grid([-3, -3], [3, 3], [64, 64])
    D = diffusion_field(sg)
    work = {"HJ central 256^2 [M cell-steps/s]": lambda: hj.solve_viscous(f, g, 10.0, times=[0.02], scheme="central"),
            "SDE 10k paths D(x) [M path-steps/s]": lambda: simulate_sgd(landscapes.double_well(2), D, 3.0,
                                                                          [0.5, 0.0], dt=0.01, n_steps=300,
                                                                          n_paths=10_000, seed=1, grid=sg)}
    sizes = {"HJ central 256^2 [M cell-steps/s]": lambda r: g.size * r.params["steps"],
             "SDE 10k paths D(x) [M path-steps/s]": lambda r: 10_000 * 300}
    out = {"layer": None}
    for name, fn in work.items():
        for label, threads in (("1", 1), ("N", int(os.environ["NUMBA_NUM_THREADS"]))):
            numba.set_num_threads(threads)
            res = fn()  # warm-up (cache load, thread pool start)
            best = min(_seconds(fn) for _ in range(2))
            out[f"{name} {label}"] = sizes[name](res) / best / 1e6
    out["layer"] = numba.threading_layer()
    print(json.dumps(out))


def _seconds(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    sys.path.insert(0, os.path.dirname(__file__))
    import _common as C
    ap = C.parser(__doc__.split("\n")[0])
    ap.set_defaults(threads=2)
    ap.add_argument("--cpus", default=None, help="taskset cpu list for the runs, e.g. 0,1")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    cpus = args.cpus
    pin = ["taskset", "-c", cpus] if cpus else []
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME",
                                                              "NUMBA_THREADING_LAYER", "NUMBA_NUM_THREADS")}
    base["NUMBA_NUM_THREADS"] = str(args.threads or os.cpu_count())
    rows = []
    for load in ("idle", "loaded"):
        spinner = None
        if load == "loaded":
            spin_pin = ["taskset", "-c", cpus.split(",")[0]] if cpus else []
            spinner = subprocess.Popen(spin_pin + [sys.executable, "-c", "while 1: pass"])
        try:
            for label, env in SETTINGS.items():
                run = subprocess.run(pin + [sys.executable, __file__, "--child"], env={**base, **env},
                                     capture_output=True, text=True)
                if run.returncode != 0:
                    print(f"{label}: skipped ({run.stderr.strip().splitlines()[-1][:120]})")
                    continue
                rows.append((load, label, json.loads(run.stdout.strip().splitlines()[-1])))
                print(load, label, rows[-1][2], flush=True)
        finally:
            if spinner is not None:
                spinner.kill()
                spinner.wait()
    print(f"\n{'load':7s} {'setting':52s} {'kernel':38s} {'1 thr':>8s} {base['NUMBA_NUM_THREADS'] + ' thr':>8s} "
          f"{'N/1':>6s}")
    for load, label, r in rows:
        for kernel in ("HJ central 256^2 [M cell-steps/s]", "SDE 10k paths D(x) [M path-steps/s]"):
            one, many = r[f"{kernel} 1"], r[f"{kernel} N"]
            print(f"{load:7s} {label:52s} {kernel:38s} {one:8.2f} {many:8.2f} {many / one:6.2f}")


if __name__ == "__main__":
    child() if "--child" in sys.argv else main()
