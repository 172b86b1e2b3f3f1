"""Shared helpers of the benchmark scripts: thread control, timing, the memory-bandwidth triad, tables.

Conventions of every script: ``--threads N`` sets the threads of Numba, torch and (N = 1) XLA for both sides;
each side gets the same number of repetitions and the best is reported; a peer's first call (JIT, assembly) is
timed apart from its later calls; every time is printed beside its error. Ratios are only meaningful within
one run: the machine's load changes between runs.
"""
from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence

import pde_sgd  # noqa: F401  (first: its thread-pool defaults apply before numba and torch load)
import numpy as np
from numba import njit
from threadpoolctl import threadpool_limits  # installed with scikit-learn

REPEATS = 3
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock: Callable[[], float] = time.perf_counter  # set by --clock; cpu = this process's CPU seconds
_LIMITS: list = []  # the active BLAS/OpenMP thread limits (kept alive for the process)


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with ``--threads`` and ``--repeats``."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--threads", type=int, default=1,
                    help="threads for Numba, torch and XLA on both sides (default 1; 0 = all cores)")
    ap.add_argument("--repeats", type=int, default=REPEATS, help="timed repetitions per side (best reported)")
    ap.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                    help="wall clock, or this process's CPU seconds (steadier on a shared machine at 1 thread; "
                         "not for multi-threaded or GPU runs)")
    return ap


def set_threads(n: int, clock_name: str = "wall") -> int:
    """Use ``n`` threads (0: all cores) in Numba, BLAS, torch (when importable) and, for n = 1, XLA, and time with
    ``clock_name``; returns n."""
    import numba
    global clock
    clock = CLOCKS[clock_name]
    n = numba.config.NUMBA_NUM_THREADS if n == 0 else n
    numba.set_num_threads(n)
    os.environ["OMP_NUM_THREADS"] = str(n)
    # numpy/scipy's BLAS (OpenBLAS) started its own pool when numpy loaded: cap it too, so that its idle workers
    # do not spin on the other cores (and count in --clock cpu) and peers' BLAS calls get the same thread count
    _LIMITS.append(threadpool_limits(limits=n))
    if n == 1:  # XLA reads its flags when jax first initialises (the leading -- is required)
        os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    try:
        import torch
        torch.set_num_threads(n)
    except ImportError:
        pass
    print(f"threads: {n} (OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}), clock: {clock_name}")
    return n


def first_and_best(fn: Callable, repeats: int, sync: Callable = lambda: None):
    """(first-call seconds, best of ``repeats`` later calls, output of the last call)."""
    t0 = clock()
    out = fn()
    sync()
    first = clock() - t0
    return (first,) + best_of(fn, repeats, sync)


def best_after_warmup(fn: Callable, repeats: int, sync: Callable = lambda: None):
    """(best seconds over ``repeats`` calls after one untimed warm-up call, output of the last call)."""
    fn()
    sync()
    return best_of(fn, repeats, sync)


def best_of(fn: Callable, repeats: int, sync: Callable = lambda: None, clock: Callable | None = None):
    """(best seconds over ``repeats`` calls, output of the last call), timed by ``clock`` (default: the clock
    chosen with --clock); ``time.thread_time`` counts the calling thread's CPU seconds."""
    clock = clock or globals()["clock"]
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = clock()
        out = fn()
        sync()
        best = min(best, clock() - t0)
    return best, out


@njit(cache=True)
def _triad(a, b, c, s):
    for i in range(a.size):
        a[i] = b[i] + s * c[i]


def triad_bandwidth(n: int = 2**23, repeats: int = 5, clock: Callable | None = None) -> float:
    """Main-memory bandwidth in bytes/s of the STREAM triad a = b + s c on one thread (3 x 64 MiB arrays, far
    beyond any cache), counting 24 bytes per element as STREAM does (no write-allocate)."""
    a, b, c = np.zeros(n), np.ones(n), np.ones(n)
    _triad(a, b, c, 3.0)
    t, _ = best_of(lambda: _triad(a, b, c, 3.0), repeats, clock=clock)
    return 24.0 * n / t


def fraction(cell_steps_per_s: float, bytes_per_cell_step: float, bandwidth: float) -> str:
    """'x% of triad' for a kernel moving ``bytes_per_cell_step`` (STREAM convention)."""
    return f"{100 * cell_steps_per_s * bytes_per_cell_step / bandwidth:.0f}% of triad"


def table(header: Sequence[str], rows: Sequence[Sequence], fmt: Sequence[str]) -> None:
    """Print rows under a header; ``fmt`` gives one format spec per column (strings left-aligned)."""
    width = [max(len(h), *(len(format(r[i], f)) for r in rows)) if rows else len(h)
             for i, (h, f) in enumerate(zip(header, fmt))]
    print("  ".join(h.ljust(w) for h, w in zip(header, width)))
    for r in rows:
        print("  ".join(format(v, f).ljust(w) if isinstance(v, str) else format(v, f).rjust(w)
                        for v, f, w in zip(r, fmt, width)))


def ratio_line(label: str, ours: float, theirs: float, err_ours: float, err_theirs: float) -> str:
    """'label: peer / pde_sgd = r x (errors a vs b)' with > 1 meaning pde_sgd is faster."""
    return f"{label}: {theirs / ours:6.2f}x  (error pde_sgd {err_ours:.2e}, peer {err_theirs:.2e})"
