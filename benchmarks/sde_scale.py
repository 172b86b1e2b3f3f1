"""Benchmark: cost per path-step of the SGD SDE kernel at 1e4 and 1e6 paths (issue 21.4: within 1.2x).

The problem of benchmarks/sde.py (2-D double well, anisotropic D(x) field on a 64 x 64 grid, Euler-Maruyama,
dt = 0.01), the same number of path-steps at each ensemble size (``--work``, default 1e8: 10,000 steps of 1e4
paths, 100 steps of 1e6 paths), one save at the end. Each size runs once untimed (compile or cache load) and
then ``--repeats`` times; the best is reported in ns per path-step, with the ensemble mean at the end beside it
(the "error" column: its standard error), and the ratio of the largest ensemble's cost to the smallest's.
Usage: python benchmarks/sde_scale.py [--threads 1] [--clock cpu] [--repeats 3] [--paths 10000 1000000]
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import _common as C  # noqa: E402
from sde import diffusion_field  # noqa: E402  (the field of the torchsde comparison)
from pde_sgd import Grid, landscapes  # noqa: E402
from pde_sgd.sde import simulate_sgd  # noqa: E402


def main() -> None:
    ap = C.parser(__doc__.split("\n")[0])
    ap.add_argument("--paths", type=int, nargs="+", default=[10_000, 1_000_000])
    ap.add_argument("--work", type=float, default=1e8, help="path-steps per timed run (default 1e8)")
    ns = ap.parse_args()
    threads = C.set_threads(ns.threads, ns.clock)
    L, beta, dt = landscapes.double_well(2), 3.0, 0.01
    grid = Grid([-3, -3], [3, 3], [64, 64])
    D = diffusion_field(grid)
    print(f"\n2-D SGD SDE, D(x) field 64^2, Euler-Maruyama, {threads} thread(s), {ns.work:.0e} path-steps per run, "
          f"best of {ns.repeats}, clock {ns.clock}\n{'paths':>9s} {'steps':>7s} {'seconds':>8s} {'ns/path-step':>13s} "
          f"{'mean x_T':>22s} {'its SE':>8s}")
    base = None
    for n in ns.paths:
        steps = max(1, int(ns.work // n))

        def run():
            return simulate_sgd(L, D, beta, [0.5, 0.0], dt=dt, n_steps=steps, n_paths=n, seed=1, grid=grid,
                                progress=False)

        best, r = C.best_after_warmup(run, ns.repeats)
        per = 1e9 * best / (n * steps)
        base = base or per
        x_T = r["x"][-1]
        se = float(x_T.std(0).max() / np.sqrt(n))
        print(f"{n:9d} {steps:7d} {best:8.3f} {per:13.2f} {np.array2string(x_T.mean(0), precision=4):>22s} "
              f"{se:8.1e}")
    print(f"ratio (largest / smallest ensemble) per path-step: {per / base:.3f} (target <= 1.2)")


if __name__ == "__main__":
    main()
