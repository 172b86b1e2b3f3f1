"""Entropy-SGD, Elastic-SGD and the homogenized limit on the block kernels: against an independent numpy loop, the
same paths whatever the chunks or the thread count (N > 1 Python threads even under NUMBA_NUM_THREADS=1), and
Ctrl-C between chunks."""
import importlib
import os
import signal
import subprocess

import numpy as np
import pytest

from pde_sgd import landscapes
from pde_sgd.sde import chunks, elastic_sgd, entropy_sgd, homogenized
from pde_sgd.sde.kernels import LANES
from pde_sgd.sde.rng import normal, path_keys

elastic_module = importlib.import_module("pde_sgd.sde.elastic_sgd")  # pde_sgd.sde.elastic_sgd is the function
homogenized_module = importlib.import_module("pde_sgd.sde.homogenized")
L2 = landscapes.rastrigin(2, a=1.0, b=0.1)
GAMMA, EPS, BETA = 0.5, 0.05, 10.0


@pytest.fixture(autouse=True)
def default_ctrl_c():
    """These tests are about Python's own Ctrl-C handler: install it (another test may have left its own)."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def _elastic_reference(x0, n_paths, n_rep, dt, n_steps, seed):
    """Euler-Maruyama of the Elastic-SGD system in numpy on the paths' normals z (rng.normal, n_rep * dim per step):
    y^r += -dt/eps [grad f(y^r) + (y^r - x) / gamma] + sqrt(2 dt / (beta eps)) z^r, x -= dt / gamma (x - mean y)."""
    keys = path_keys(seed, n_paths)
    d = len(x0)
    xs, ys = np.empty((n_paths, d)), np.empty((n_paths, d))
    for p in range(n_paths):
        x = np.array(x0, dtype=float)
        y = np.tile(x, (n_rep, 1))
        for k in range(n_steps):
            z = np.array([normal(keys[p], k * n_rep * d + j) for j in range(n_rep * d)]).reshape(n_rep, d)
            ym = y.mean(axis=0)
            y = y - dt / EPS * (L2.grad(y) + (y - x) / GAMMA) + np.sqrt(2 * dt / (BETA * EPS)) * z
            x = x - dt / GAMMA * (x - ym)
        xs[p], ys[p] = x, y.mean(axis=0)
    return xs, ys


@pytest.mark.parametrize("n_rep", [1, 3])
def test_fast_slow_kernel_matches_a_numpy_loop(n_rep):
    """A wrong sign, factor, noise scale or replica mean (or the new y in x's update) would differ by far more."""
    x0, dt, n_steps = [1.2, -0.8], 2e-3, 25
    r = elastic_sgd(L2, BETA, x0, gamma=GAMMA, eps=EPS, dt=dt, T=dt * n_steps, n_saves=5, n_paths=4, seed=9,
                    n_replicas=n_rep)
    xs, ys = _elastic_reference(x0, 4, n_rep, dt, n_steps, 9)
    np.testing.assert_allclose(r["x"][-1], xs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(r["y_mean"][-1], ys, rtol=0, atol=1e-12)
    assert np.ptp(r["x"][-1], axis=0).min() > 1e-4  # the paths moved apart: a real comparison
    assert r.stats["steps"] == n_steps and r.stats["substeps"] == n_steps * n_rep


def _runs(threads):
    """One run of each solver (two full blocks and a partial one for the SDEs, 5 paths for the ODE)."""
    n = 2 * LANES + 7
    x0 = np.random.default_rng(0).uniform(-1, 1, (n, 2))
    kw = dict(gamma=GAMMA, eps=EPS, dt=1e-3, T=0.02, n_saves=4, n_paths=n, seed=3, threads=threads)
    return {"elastic": elastic_sgd(L2, BETA, x0, n_replicas=3, **kw),
            "entropy": entropy_sgd(L2, BETA, x0, **kw),
            "homogenized": homogenized(L2, BETA, x0[:5], gamma=GAMMA, T=0.2, n_saves=4, threads=threads)}


def _arrays(runs):
    return {(k, name): r[name] for k, r in runs.items() for name in ("x", "y_mean") if name in r}


def test_same_paths_for_any_thread_count_and_chunking(monkeypatch):
    one = _runs(1)
    three = _runs(3)
    for k, r in three.items():
        assert r.stats["threads"] == 3  # Python threads: not capped by NUMBA_NUM_THREADS
    monkeypatch.setattr(chunks, "CHUNK_WORK", 3 * LANES)  # one block over a few steps per call
    monkeypatch.setattr(chunks, "CHUNK_MIN_STEPS", 1)
    calls = []
    for module in (elastic_module, homogenized_module):
        real = module.run_blocks
        monkeypatch.setattr(module, "run_blocks", lambda *a, real=real: calls.append(a[1:3]) or real(*a))
    chunked = _runs(2)
    assert len(calls) > 20 and len(set(calls)) >= 3  # many calls, the blocks split into groups
    for key, a in _arrays(one).items():
        assert np.all(np.isfinite(a)), key
        np.testing.assert_array_equal(_arrays(three)[key], a, err_msg=str(key))
        np.testing.assert_array_equal(_arrays(chunked)[key], a, err_msg=str(key))
    assert chunked["elastic"].stats["steps"] == one["elastic"].stats["steps"] == 20


@pytest.mark.parametrize("which", ["elastic", "entropy", "homogenized"])
def test_ctrl_c_stops_at_the_next_chunk(monkeypatch, which):
    """SIGINT arriving during the second kernel call (held while the kernel runs) stops the run right after it."""
    monkeypatch.setattr(chunks, "CHUNK_WORK", 64)
    module = homogenized_module if which == "homogenized" else elastic_module
    real, calls = module.run_blocks, []

    def interrupted(*a):
        calls.append(a)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return real(*a)

    monkeypatch.setattr(module, "run_blocks", interrupted)
    with pytest.raises(KeyboardInterrupt):
        if which == "homogenized":
            homogenized(L2, BETA, [1.2, -0.8], gamma=GAMMA, T=20.0, n_saves=4)  # 4000 steps, ~1 per call
        else:
            fn = elastic_sgd if which == "elastic" else entropy_sgd
            fn(L2, BETA, [1.2, -0.8], gamma=GAMMA, eps=EPS, dt=1e-3, T=2.0, n_paths=4, seed=0)  # 2000 steps
    assert len(calls) == 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


def test_a_real_ctrl_c_interrupts_a_long_elastic_run(monkeypatch):
    done = []
    real = elastic_module.run_blocks
    monkeypatch.setattr(elastic_module, "run_blocks", lambda *a: done.append(a[4][4]) or real(*a))
    run = dict(gamma=GAMMA, eps=EPS, dt=1e-3, n_paths=LANES, seed=0, n_replicas=8)
    elastic_sgd(L2, BETA, [1.2, -0.8], T=0.01, n_saves=1, **run)  # compiled before the signal
    done.clear()
    T = 200.0  # 2e5 steps of 8 replicas x 256 paths: about 10 s in one call, as the kernel used to run
    killer = subprocess.Popen(["sh", "-c", f"sleep 0.2; kill -INT {os.getpid()}"])
    try:
        with pytest.raises(KeyboardInterrupt):
            elastic_sgd(L2, BETA, [1.2, -0.8], T=T, n_saves=10, **run)
    finally:
        killer.wait()
    assert 0 < sum(done) < 0.5 * T / 1e-3  # stopped after a few calls, not at the end
