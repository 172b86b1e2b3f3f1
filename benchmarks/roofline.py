"""Roofline yardsticks for the benchmark scripts: what a kernel could attain on this core, and how close it is.

A kernel moving ``bytes_per_cell`` bytes and doing ``flops_per_cell`` flops per cell-step (counted by hand from its
source; STREAM convention: bytes read plus bytes written, no write-allocate) can at best run at

    attainable = min(bandwidth(working set) / bytes_per_cell, flop_rate / flops_per_cell)   cell-steps/s,

where ``bandwidth`` is a triad a = b + s c measured on arrays of the kernel's own working-set size (so a kernel
whose arrays sit in L2 / L3 is held to the L2 / L3 bandwidth, not to main memory's, and one beyond the caches to
main memory's) and ``flop_rate`` the single-core rate of a Numba loop of independent fused multiply-adds on
registers. Both are measured on one thread with the clock the caller passes (``time.thread_time`` by default:
the CPU seconds of the calling thread, steady on a shared machine).

Use (benchmarks/fokker_planck.py, and hj.py / sde.py alike)::

    from roofline import roofline
    roofline("FP explicit step 1024^2", bytes_per_cell=48, flops_per_cell=17,
             working_set_bytes=6 * 8 * 1024**2, measured_rate=cell_steps_per_second)

prints one line (bound, attainable rate, measured fraction) and returns the numbers as a dict.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache

import numpy as np
from numba import njit

_SECONDS = 0.05  # each timed triad / FMA call runs at least this long (clock resolution, warm caches)


@njit(cache=True)
def _triad(a, b, c, s, sweeps):
    for _ in range(sweeps):
        for i in range(a.size):
            a[i] = b[i] + s * c[i]


@njit(cache=True, fastmath=True)
def _fma_loop(n, x):
    """16 independent chains of a <- a * m + c (one FMA, 2 flops each) kept in registers: 32 n flops."""
    a = np.empty(16)
    for k in range(16):
        a[k] = x + 1e-3 * k
    m, c = 0.999999, 1e-7
    for _ in range(n):
        for k in range(16):  # unrolled and vectorised by LLVM: the core's FMA throughput
            a[k] = a[k] * m + c
    return a.sum()


def _timed(fn: Callable[[], object], clock: Callable[[], float], repeats: int) -> float:
    fn()  # compile / warm the caches
    best = np.inf
    for _ in range(repeats):
        t0 = clock()
        fn()
        best = min(best, clock() - t0)
    return best


@lru_cache(maxsize=None)
def triad_bandwidth(working_set_bytes: float, *, repeats: int = 5,
                    clock: Callable[[], float] = time.thread_time) -> float:
    """Bytes/s of the triad a = b + s c on three arrays totalling ``working_set_bytes`` (24 bytes per element,
    STREAM convention), swept as often as needed to run >= 50 ms per timing, best of ``repeats``."""
    n = max(int(working_set_bytes // 24), 1024)
    a, b, c = np.zeros(n), np.ones(n), np.ones(n)
    sweeps = max(1, int(_SECONDS * 5e9 / (24 * n)))  # ~5 GB/s lower guess: >= 50 ms per call
    t = _timed(lambda: _triad(a, b, c, 3.0, sweeps), clock, repeats)
    return 24.0 * n * sweeps / t


@lru_cache(maxsize=None)
def flop_rate(*, repeats: int = 5, clock: Callable[[], float] = time.thread_time) -> float:
    """Flops/s of one core on independent FMAs in registers (the compute roof)."""
    n = 2_000_000
    t = _timed(lambda: _fma_loop(n, 1.0), clock, repeats)
    return 32.0 * n / t


def roofline(name: str, *, bytes_per_cell: float, flops_per_cell: float, working_set_bytes: float,
             measured_rate: float, clock: Callable[[], float] = time.thread_time, show: bool = True) -> dict:
    """Attainable cell-steps/s of a kernel and its measured fraction of it; prints one line unless ``show`` is
    False. ``measured_rate`` must be timed with the same kind of clock (default: thread CPU seconds, 1 thread).

    Returns a dict: ``bandwidth`` (B/s at the working set), ``flop_rate`` (flops/s), ``memory_bound`` and
    ``compute_bound`` (cell-steps/s each roof allows), ``attainable`` (their minimum), ``bound`` ("memory" or
    "compute"), ``fraction`` (measured / attainable)."""
    bw = triad_bandwidth(float(working_set_bytes), clock=clock)
    fr = flop_rate(clock=clock)
    mem, comp = bw / bytes_per_cell, fr / max(flops_per_cell, 1e-300)
    out = {"bandwidth": bw, "flop_rate": fr, "memory_bound": mem, "compute_bound": comp,
           "attainable": min(mem, comp), "bound": "memory" if mem <= comp else "compute",
           "fraction": measured_rate / min(mem, comp)}
    if show:
        print(f"roofline {name}: {bytes_per_cell:g} B and {flops_per_cell:g} flops per cell-step, working set "
              f"{working_set_bytes / 2**20:.1f} MiB: triad there {bw / 1e9:.1f} GB/s, FMA {fr / 1e9:.1f} Gflop/s -> "
              f"{out['bound']}-bound at {out['attainable'] / 1e6:.0f} M cell-steps/s; measured "
              f"{measured_rate / 1e6:.0f} M = {100 * out['fraction']:.0f}% of it")
    return out
