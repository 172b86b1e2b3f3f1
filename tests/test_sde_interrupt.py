"""Numba SDE ensembles run in chunks: Ctrl-C is raised promptly and the chunking leaves the paths unchanged."""
import os
import signal
import subprocess

import numpy as np
import pytest

from pde_sgd import Grid, landscapes
from pde_sgd.sde import chunks, sgd, simulate_sgd
from pde_sgd.sde.kernels import LANES

A = np.array([[2.0, 0.5], [0.5, 1.0]])


@pytest.fixture(autouse=True)
def default_ctrl_c():
    """These tests are about Python's own Ctrl-C handler: install it (another test may have left its own)."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def _run(n_saves, n_paths=9, scheme="milstein"):
    grid = Grid([-4, -4], [4, 4], [16, 16])
    X, Y = grid.coords
    D = np.zeros(grid.shape + (2, 2))  # state-dependent D (Milstein uses its support points)
    D[..., 0, 0], D[..., 1, 1], D[..., 0, 1] = 1 + 0.3 * np.sin(X), 1 + 0.2 * np.cos(Y), 0.1
    D[..., 1, 0] = 0.1
    x0 = np.random.default_rng(1).uniform(-1, 1, (n_paths, 2))
    return simulate_sgd(landscapes.quadratic(A), D, 2.0, x0, dt=0.01, n_steps=60, n_paths=n_paths, seed=5,
                        grid=grid, scheme=scheme, n_saves=n_saves, threads=1)["x"]


# 60 steps: calls of 10 steps (saves every 5), of 3 steps (a save interval split over calls), 4 and 7 steps
# (one save at the end), saves every 3 steps in 2-step calls; and blocks of paths split over calls (2 blocks of
# LANES paths and a partial one: groups of 1 or 2 blocks, over 5 or 60 steps)
@pytest.mark.parametrize("n_saves, n_paths, work, least", [
    (12, 9, 90, 1), (12, 9, 27, 1), (1, 9, 36, 1), (1, 9, 63, 1), (20, 9, 18, 1),
    (12, 2 * LANES + 23, 5 * LANES, 5), (1, 2 * LANES + 23, 60 * 2 * LANES, 60)])
def test_chunking_gives_the_same_paths_bit_for_bit(monkeypatch, n_saves, n_paths, work, least):
    whole = _run(n_saves, n_paths)
    calls = []
    real = sgd.integrate
    monkeypatch.setattr(sgd, "integrate", lambda *a: calls.append(a[:2] + a[6:7]) or real(*a))
    monkeypatch.setattr(chunks, "CHUNK_WORK", work)
    monkeypatch.setattr(chunks, "CHUNK_MIN_STEPS", least)
    chunked = _run(n_saves, n_paths)
    assert len(calls) > 1  # really split
    assert chunked.shape == whole.shape
    np.testing.assert_array_equal(chunked, whole)


def test_chunk_plan_keeps_calls_long_at_large_ensembles():
    # all paths in one call while that gives CHUNK_MIN_STEPS steps; beyond, groups of blocks over that many steps
    assert chunks.chunk_plan(10_000, 10**6, lanes=256) == (10_000, chunks.CHUNK_WORK // 10_000)
    paths, steps = chunks.chunk_plan(10**6, 10**6, lanes=256)
    assert steps == chunks.CHUNK_MIN_STEPS and paths % 256 == 0 and paths * steps == chunks.CHUNK_WORK
    assert chunks.chunk_plan(10**6, 10, lanes=256) == (chunks.CHUNK_WORK // 10 // 256 * 256, 10)  # short runs
    assert chunks.chunk_plan(10**6, 10**6, lanes=256, threads=2)[0] == 2 * paths
    # a costly step: fewer steps per call, never more than the budget for one block
    assert chunks.chunk_plan(5, 1000, lanes=1, cost=1e5) == (1, chunks.CHUNK_WORK // 10**5)


def test_ctrl_c_interrupts_a_long_ensemble_between_chunks(monkeypatch):
    done = []
    real = sgd.integrate
    monkeypatch.setattr(sgd, "integrate", lambda *a: done.append(a[8]) or real(*a))
    simulate_sgd(landscapes.quadratic(A), 1.0, 2.0, [1.0, -1.0], dt=1e-3, n_steps=10, n_paths=4,
                 seed=0)  # compiled before timing
    done.clear()
    n_steps = 200_000
    # a real Ctrl-C from outside while the kernel runs (a thread could not: Numba kernels hold the GIL)
    killer = subprocess.Popen(["sh", "-c", f"sleep 0.1; kill -INT {os.getpid()}"])
    try:
        with pytest.raises(KeyboardInterrupt):
            simulate_sgd(landscapes.quadratic(A), 1.0, 2.0, [1.0, -1.0], dt=1e-3, n_steps=n_steps, n_paths=512, seed=0)
    finally:
        killer.wait()
    # a clean KeyboardInterrupt after a few chunks, not after the whole run (one uninterruptible kernel call
    # before, and a SystemError when the interrupt landed in Numba's return path)
    assert 0 < sum(done) < n_steps / 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


def test_ctrl_c_during_the_last_chunk_is_not_swallowed(monkeypatch):
    real = sgd.integrate

    def interrupted_kernel(*a):
        os.kill(os.getpid(), signal.SIGINT)  # arrives while "the kernel runs": held by the deferred handler
        return real(*a)

    monkeypatch.setattr(sgd, "integrate", interrupted_kernel)
    with pytest.raises(KeyboardInterrupt):
        simulate_sgd(landscapes.quadratic(A), 1.0, 2.0, [1.0, -1.0], dt=1e-3, n_steps=10, n_paths=4,
                     seed=0)  # a single chunk
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
