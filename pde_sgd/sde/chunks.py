"""Chunked runs of the SDE block kernels: which paths and steps one kernel call takes, and the threads that share it.

A block kernel ``kernel(b0, b1, *args)`` advances the blocks b0 .. b1 - 1 of its paths (``lanes`` paths each)
over a range of steps, reading and writing each block's state in place and writing its saves straight into the
run's output arrays. :func:`drive_blocks` runs such a kernel chunk by chunk inside :func:`pde_sgd.driver.drive`:
the steps in ranges of :func:`chunk_plan`'s length, each range over groups of blocks, so that one call is about
``CHUNK_WORK`` path-steps (Python regains control between calls for Ctrl-C and the progress bar; about 40 ms for
the SGD kernel on one thread) while each call still takes enough steps (``CHUNK_MIN_STEPS``) that its fixed
costs (argument unboxing, per-block set-up, the thread pool) stay small at any ensemble size.
A path's noise and arithmetic depend on its step index and its own key only, so the paths are the same bit for
bit whatever the chunks or the thread count.
"""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..driver import drive
from ..jitfuncs import jit_call

CHUNK_WORK = 1 << 21  # SGD path-steps (the unit of ``cost``) per kernel call and thread
CHUNK_MIN_STEPS = 64  # steps per call, at least (unless one block of paths would exceed the budget)


def chunk_plan(n_paths: int, n_steps: int, *, lanes: int, cost: float = 1.0, threads: int = 1) -> tuple[int, int]:
    """(paths per call: a multiple of ``lanes`` or all of them, steps per call) for ``n_paths`` paths over
    ``n_steps`` steps whose path-step costs ``cost`` SGD path-steps: the steps per call are
    ``budget / n_paths`` (all paths in one call) but at least ``CHUNK_MIN_STEPS`` (then fewer paths per call),
    budget = CHUNK_WORK * threads / cost; a single block over the minimum steps never exceeds the budget."""
    budget = max(1, int(CHUNK_WORK * threads / cost))
    least = max(1, min(CHUNK_MIN_STEPS, budget // lanes))
    steps = min(n_steps, max(least, budget // n_paths))
    if steps * n_paths <= budget:
        return n_paths, steps
    return min(n_paths, max(lanes, budget // steps // lanes * lanes)), steps


def run_blocks(kernel, b0: int, b1: int, threads: int, args: tuple) -> None:
    """``kernel(b0, b1, *args)`` with the blocks shared out among ``threads`` Python threads (the kernels release
    the GIL) in 4 parts per thread (a block's result does not depend on which thread runs it)."""
    parts = min(threads, b1 - b0)
    if parts <= 1:
        jit_call(kernel, b0, b1, *args)
        return
    jit_call(kernel, b0, b0, *args)  # compiles (or loads) in this thread; no work
    cuts = [b0 + (b1 - b0) * i // (4 * parts) for i in range(4 * parts + 1)]
    with ThreadPoolExecutor(parts) as pool:
        list(pool.map(lambda i: kernel(cuts[i], cuts[i + 1], *args), range(4 * parts)))


def drive_blocks(call: Callable[[int, int, int, int, int], Any], n_paths: int, n_steps: int, *, lanes: int,
                 cost: float = 1.0, substeps: int = 1, desc: str, progress: bool | None = None,
                 threads: int | None = None) -> dict:
    """Run ``call(b0, b1, k0, n, threads)`` (blocks b0 .. b1 - 1 over steps k0 .. k0 + n - 1) over all blocks
    and steps in the chunks of :func:`chunk_plan`, inside :func:`pde_sgd.driver.drive` (progress bar in steps,
    Ctrl-C between calls, thread count); returns the run's ``stats`` (steps, substeps = steps * ``substeps``,
    wall time, threads)."""
    n_blocks = -(-n_paths // lanes)
    with drive(n_steps, progress=progress, desc=desc, threads=threads, python_threads=True) as run:
        paths, steps = chunk_plan(n_paths, n_steps, lanes=lanes, cost=cost, threads=run.threads)
        group = -(-paths // lanes)
        for k0 in range(0, n_steps, steps):
            n = min(steps, n_steps - k0)
            for b0 in range(0, n_blocks, group):
                b1 = min(b0 + group, n_blocks)
                call(b0, b1, k0, n, run.threads)
                last = b1 == n_blocks
                share = (min(b1 * lanes, n_paths) - b0 * lanes) / n_paths
                run.advance(n if last else 0, n * substeps if last else 0, progress=n * share)
    return run.stats
