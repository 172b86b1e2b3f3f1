"""Benchmark: the 2-D SGD SDE with anisotropic D(x), 10,000 paths x 1,000 steps, Numba kernel vs torchsde.

dX = -grad f(X) dt + sqrt(2 beta^-1 D(X)) dW, f the 2-D double well, D(x) a field on a 64 x 64 grid
(rotating, anisotropic: eigenvalues 1 and 0.2 + 0.8 sin^2 x_1), interpolated and Cholesky-factorised at every
step by both codes, Euler-Maruyama, dt = 0.01. Both sides run on ``--threads`` threads (Numba and torch), the
same number of repetitions (best reported), first call (compile or cache load / warm-up) apart; the "error"
beside each time is the largest |difference of the ensemble means| / its standard error against the other code
(same law, so O(1)). ``--modes`` adds Numba-only rows for the other kernel variants on the same problem: D
constant (the field's mean), D a jitted callable (the same rotating field in closed form), and Milstein with
the D field. Adds torchsde on CUDA when a GPU is present.
Usage: python benchmarks/sde.py [--threads 1] [--clock cpu] [--repeats 3] [--paths N] [--steps N] [--modes ...]
"""
from __future__ import annotations

import os
import sys

import numpy as np
from numba import njit

sys.path.insert(0, os.path.dirname(__file__))
import _common as C  # noqa: E402
from pde_sgd import Grid, landscapes  # noqa: E402
from pde_sgd.sde import simulate_sgd  # noqa: E402

MODES = ("constant", "callable", "milstein")


def diffusion_field(grid: Grid) -> np.ndarray:
    x1, x2 = grid.coords
    theta = 0.8 * x1 + 0.3 * x2
    c, s = np.cos(theta), np.sin(theta)
    lam2 = 0.2 + 0.8 * np.sin(x1) ** 2
    R = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)
    Lam = np.zeros(grid.shape + (2, 2))
    Lam[..., 0, 0], Lam[..., 1, 1] = 1.0, lam2
    return R @ Lam @ np.swapaxes(R, -1, -2)


@njit
def rotating_D(x, t, out):
    """The field of :func:`diffusion_field` in closed form: R(theta) diag(1, 0.2 + 0.8 sin^2 x_1) R(theta)^T."""
    theta = 0.8 * x[0] + 0.3 * x[1]
    c, s = np.cos(theta), np.sin(theta)
    lam2 = 0.2 + 0.8 * np.sin(x[0]) ** 2
    out[0, 0], out[1, 1] = c * c + lam2 * s * s, s * s + lam2 * c * c
    out[0, 1] = out[1, 0] = c * s * (1.0 - lam2)


def main() -> None:
    ap = C.parser(__doc__.split("\n")[0])
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=1_000)
    ap.add_argument("--modes", nargs="*", default=list(MODES), choices=MODES,
                    help="extra Numba rows: constant D, callable D, Milstein (default: all; none: --modes)")
    ns = ap.parse_args()
    threads = C.set_threads(ns.threads, ns.clock)
    L, beta, dt = landscapes.double_well(2), 3.0, 0.01
    grid = Grid([-3, -3], [3, 3], [64, 64])
    D = diffusion_field(grid)
    x0 = [0.5, 0.0]
    work = ns.paths * ns.steps

    def numba_run(D_arg, scheme="euler", g=None):
        return lambda: simulate_sgd(L, D_arg, beta, x0, dt=dt, n_steps=ns.steps, n_paths=ns.paths, seed=1, grid=g,
                                    scheme=scheme)

    first, t_numba, res = C.first_and_best(numba_run(D, g=grid), ns.repeats)
    xn = res["x"][-1]
    rows = [("Numba, D field (Euler)", "cpu", first - t_numba, t_numba, None)]
    extra = {"constant": numba_run(D.mean(axis=(0, 1))), "callable": numba_run(rotating_D),
             "milstein": numba_run(D, "milstein", grid)}
    for mode in ns.modes:
        f, t, _ = C.first_and_best(extra[mode], ns.repeats)
        rows.append((f"Numba, D {mode}" if mode != "milstein" else "Numba, D field (Milstein)", "cpu", f - t, t, None))

    import torch

    from pde_sgd.sde import torch_bridge as tb
    for dev in ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
        sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
        sde = tb.make_sde(L, D, beta, grid=grid, device=dev)
        first, t, out = C.first_and_best(lambda: tb.run(sde, x0, T=dt * ns.steps, dt=dt, n_paths=ns.paths, seed=1),
                                         ns.repeats, sync)
        xt = out["x"][-1]
        se = np.sqrt(xn.var(0) / len(xn) + xt.var(0) / len(xt))
        rows.append((f"torchsde {dev}, D field (Euler)", dev, first - t, t,
                     float(np.max(np.abs(xn.mean(0) - xt.mean(0)) / se))))
    print(f"\n{ns.paths} paths x {ns.steps} steps, {threads} thread(s), best of {ns.repeats}")
    C.table(["code", "device", "first-call extra s", "s", "ns/path-step", "M path-steps/s", "|mean diff|/SE"],
            [(name, dev, f, t, 1e9 * t / work, work / t / 1e6, "-" if z is None else f"{z:.2f}")
             for name, dev, f, t, z in rows], ["s", "s", ".2f", ".3f", ".1f", ".2f", "s"])
    for name, _, _, t, z in rows:
        if z is not None:
            print(f"ratio {name} / Numba D field: {t / t_numba:.1f}x (means agree to {z:.2f} standard errors)")


if __name__ == "__main__":
    main()
