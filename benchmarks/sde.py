"""Benchmark: the 2-D SGD SDE with anisotropic D(x), 10,000 paths x 1,000 steps, Numba kernel vs torchsde.

dX = -grad f(X) dt + sqrt(2 beta^-1 D(X)) dW, f the 2-D double well, D(x) a field on a 64 x 64 grid
(rotating, anisotropic: eigenvalues 1 and 0.2 + 0.8 sin^2 x_1), interpolated and Cholesky-factorised at every
step by both codes, Euler-Maruyama, dt = 0.01. Prints path-steps per second for each (Numba on 1 thread and on all
threads, best of 3) and the ratio; adds torchsde on CUDA when a GPU is present. Usage: python benchmarks/sde.py [--paths N] [--steps N].
"""
from __future__ import annotations

import argparse
import time

import numba
import numpy as np

from pde_sgd import Grid, landscapes
from pde_sgd.sde import simulate_sgd


def diffusion_field(grid: Grid) -> np.ndarray:
    x1, x2 = grid.coords
    theta = 0.8 * x1 + 0.3 * x2
    c, s = np.cos(theta), np.sin(theta)
    lam2 = 0.2 + 0.8 * np.sin(x1) ** 2
    R = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)
    Lam = np.zeros(grid.shape + (2, 2))
    Lam[..., 0, 0], Lam[..., 1, 1] = 1.0, lam2
    return R @ Lam @ np.swapaxes(R, -1, -2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=1_000)
    ns = ap.parse_args()
    L, beta, dt = landscapes.double_well(2), 3.0, 0.01
    grid = Grid([-3, -3], [3, 3], [64, 64])
    D = diffusion_field(grid)
    x0 = [0.5, 0.0]
    work = ns.paths * ns.steps

    simulate_sgd(L, D, beta, x0, dt=dt, n_steps=10, n_paths=8, seed=0, grid=grid)  # compile / load the Numba cache
    all_threads = numba.get_num_threads()
    for threads in sorted({1, all_threads}):  # best of 3 per thread count; the last (all threads) is compared
        numba.set_num_threads(threads)
        t_numba = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            xn = simulate_sgd(L, D, beta, x0, dt=dt, n_steps=ns.steps, n_paths=ns.paths, seed=1, grid=grid)["x"][-1]
            t_numba = min(t_numba, time.perf_counter() - t)
        print(f"Numba kernel ({threads} thread(s)): {t_numba:8.3f} s   {work / t_numba:12.4g} path-steps/s")

    import torch

    from pde_sgd.sde import torch_bridge as tb
    rows = []
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for dev in devices:
        sde = tb.make_sde(L, D, beta, grid=grid, device=dev)
        tb.run(sde, x0, T=dt * 10, dt=dt, n_paths=8, seed=0)  # warm-up
        if dev == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        xt = tb.run(sde, x0, T=dt * ns.steps, dt=dt, n_paths=ns.paths, seed=1)["x"][-1]
        if dev == "cuda":
            torch.cuda.synchronize()
        el = time.perf_counter() - t
        rows.append((dev, el))
        print(f"torchsde {dev} ({torch.get_num_threads()} threads): {el:8.3f} s   {work / el:12.4g} path-steps/s")
        # sanity: the two ensembles agree in mean within 5 combined standard errors
        se = np.sqrt(xn.var(0) / len(xn) + xt.var(0) / len(xt))
        print(f"    mean Numba {xn.mean(0)}, torchsde {xt.mean(0)}, |diff| / SE = {np.abs(xn.mean(0) - xt.mean(0)) / se}")
    for dev, el in rows:
        print(f"ratio Numba / torchsde-{dev}: {el / t_numba:.1f}x (target >= 100x on CPU)")


if __name__ == "__main__":
    main()
