"""Numba SDE ensembles run in chunks: Ctrl-C is raised promptly and the chunking leaves the paths unchanged."""
import os
import signal
import subprocess

import numpy as np
import pytest

from pde_sgd import Grid, landscapes
from pde_sgd.sde import sgd, simulate_sgd

A = np.array([[2.0, 0.5], [0.5, 1.0]])


@pytest.fixture(autouse=True)
def default_ctrl_c():
    """These tests are about Python's own Ctrl-C handler: install it (another test may have left its own)."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def _run(n_saves, scheme="milstein"):
    grid = Grid([-4, -4], [4, 4], [16, 16])
    X, Y = grid.coords
    D = np.zeros(grid.shape + (2, 2))  # state-dependent D (Milstein uses its support points)
    D[..., 0, 0], D[..., 1, 1], D[..., 0, 1] = 1 + 0.3 * np.sin(X), 1 + 0.2 * np.cos(Y), 0.1
    D[..., 1, 0] = 0.1
    return simulate_sgd(landscapes.quadratic(A), D, 2.0, [1.0, -1.0], dt=0.01, n_steps=60, n_paths=9, seed=5, grid=grid,
                        scheme=scheme, n_saves=n_saves)["x"]


# 60 steps: chunks aligned with the saves (5 steps per save | 10), a save interval split over chunks (3 < 5,
# 4 < 60, 7 < 60: only the interval's end kept), and saves every 3 steps in 2-step chunks
@pytest.mark.parametrize("n_saves, chunk_steps", [(12, 10), (12, 3), (1, 4), (1, 7), (20, 2)])
def test_chunking_gives_the_same_paths_bit_for_bit(monkeypatch, n_saves, chunk_steps):
    whole = _run(n_saves)
    calls = []
    real = sgd.integrate
    monkeypatch.setattr(sgd, "integrate", lambda *a: calls.append(a[3]) or real(*a))
    monkeypatch.setattr(sgd, "CHUNK_PATH_STEPS", 9 * chunk_steps)
    chunked = _run(n_saves)
    assert len(calls) > 1  # really split
    assert chunked.shape == whole.shape
    np.testing.assert_array_equal(chunked, whole)


def test_ctrl_c_interrupts_a_long_ensemble_between_chunks(monkeypatch):
    done = []
    real = sgd.integrate
    monkeypatch.setattr(sgd, "integrate", lambda *a: done.append(a[5]) or real(*a))
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
