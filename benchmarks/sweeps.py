"""Benchmark of the sweep machinery: k networks trained at once (vmap) vs one by one, a LocalCluster of 2
workers vs the serial backend on one sweep, and the engine's own cost per point (store, skip, gather).

Trainings per minute: k = 16 digits MLPs (hidden 32, float64, B = 32, 200 SGD steps, each its own seed)
trained together by :func:`pde_sgd.networks.batched.train_batched` vs 16 calls of
:func:`pde_sgd.networks.train` (target >= 4x on CPU). Prints absolute times and ratios measured in one run.
Run: .venv/bin/python benchmarks/sweeps.py [--threads N]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import _common as C  # noqa: E402
from pde_sgd import Result  # noqa: E402
from pde_sgd.sweeps import Sweep, grid, run_sweep  # noqa: E402

K, STEPS, B, HIDDEN = 16, 200, 32, (32,)
POINT_SECONDS = 1.0  # the reference point length for the engine overhead


def trainings_per_minute(threads: int) -> None:
    import torch

    from pde_sgd.networks import build_model, digits, torch_threads, train
    from pde_sgd.networks.batched import stack_models, train_batched

    data = digits(device="cpu")
    seeds = list(range(K))
    with torch_threads(threads):
        model, thetas = stack_models("mlp", data, seeds, hidden=HIDDEN, device="cpu")
        train_batched(model, thetas, data, eta=0.1, batch_size=B, n_steps=5, seeds=seeds)  # warm-up
        (t_vmap, c_vmap), out = _timed(lambda: train_batched(model, thetas, data, eta=0.1, batch_size=B,
                                                            n_steps=STEPS, seeds=seeds))
        (t_loop, c_loop), ref = _timed(lambda: [
            train(build_model("mlp", data, seed=s, hidden=HIDDEN, device="cpu"), data, eta=0.1, batch_size=B,
                  n_steps=STEPS, seed=s) for s in seeds])
    err = float((out - torch.stack(ref)).abs().max())
    print(f"k={K} MLPs (P={model.n_params}, {STEPS} steps, B={B}, {threads} thread(s)): vmapped "
          f"{K / t_vmap * 60:8.1f} trainings/min ({t_vmap:.2f} s wall, {c_vmap:.2f} s CPU), one by one "
          f"{K / t_loop * 60:8.1f} trainings/min ({t_loop:.2f} s wall, {c_loop:.2f} s CPU); ratio {t_loop / t_vmap:.1f}x "
          f"wall, {c_loop / c_vmap:.1f}x CPU time (target >= 4x); max |diff| {err:.1e}")


def _timed(fn):
    """((wall seconds, process CPU seconds), fn())."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return (time.perf_counter() - w0, time.process_time() - c0), out


def busy_point(x: float, seconds: float) -> Result:
    """A point that computes for about ``seconds`` of CPU time (numpy matrix products)."""
    rng = np.random.default_rng(int(x))
    A = rng.standard_normal((200, 200)) / 15.0
    t0, v, n = time.process_time(), np.ones(200), 0
    while time.process_time() - t0 < seconds:
        v = np.tanh(A @ v)
        n += 1
    return Result("bench.busy", {"v": v}, {"x": x, "iterations": n})


def tiny_point(x: float) -> Result:
    return Result("bench.tiny", {"a": np.full(1000, x), "b": np.arange(10.0)}, {"x": x})


def cluster_vs_serial(n_points: int = 8, seconds: float = 1.0) -> None:
    sweep = Sweep("bench", busy_point, grid(x=[float(i) for i in range(n_points)], seconds=[seconds]))
    times = {}
    for backend, kw in (("serial", {}), ("dask", {"n_workers": 2})):
        with tempfile.TemporaryDirectory() as store:
            t0 = time.perf_counter()
            run_sweep(sweep, store=store, backend=backend, progress=False, **kw)
            times[backend] = time.perf_counter() - t0
    print(f"{n_points} points of ~{seconds:.1f} s CPU: serial (this process) {times['serial']:.1f} s, "
          f"LocalCluster(2 worker processes x 1 thread: twice the cores, as intended) "
          f"{times['dask']:.1f} s including its start; ratio {times['serial'] / times['dask']:.2f}x "
          f"({n_points / times['serial'] * 60:.0f} vs {n_points / times['dask'] * 60:.0f} points/min)")


def engine_overhead(n_points: int = 200) -> None:
    sweep = Sweep("overhead", tiny_point, grid(x=[float(i) for i in range(n_points)]))
    with tempfile.TemporaryDirectory() as store:
        t0 = time.perf_counter()
        for _ in range(n_points):
            tiny_point(0.0)
        t_fn = time.perf_counter() - t0
        t0 = time.perf_counter()
        run_sweep(sweep, store=store, progress=False)
        t_first = time.perf_counter() - t0 - t_fn
        t0 = time.perf_counter()
        run_sweep(sweep, store=store, progress=False)
        t_skip = time.perf_counter() - t0
    per_first, per_skip = t_first / n_points, t_skip / n_points
    print(f"engine overhead per point ({n_points} points, 8 kB Result): store + gather {per_first * 1e3:.1f} ms "
          f"= {100 * per_first / POINT_SECONDS:.2f}% of a {POINT_SECONDS:.0f}-s point; skip + gather on a re-run "
          f"{per_skip * 1e3:.1f} ms = {100 * per_skip / POINT_SECONDS:.2f}% (target < 5%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="Numba, torch and OpenMP threads of every run "
                                                               "(each Dask worker: 1)")
    threads = C.set_threads(parser.parse_args().threads)
    print(f"cores available: {len(os.sched_getaffinity(0))}")
    trainings_per_minute(threads)
    engine_overhead()
    cluster_vs_serial()


if __name__ == "__main__":
    main()
