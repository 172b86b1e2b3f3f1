"""One way to say when, and the shared stepping driver (issue 11): output times by ``times`` or by ``T, n_saves``
give identical runs in HJ, FP and SDE; the progress bar does not change SDE paths; stats are recorded."""
import numpy as np
import pytest

from pde_sgd import Grid, Result, landscapes
from pde_sgd.driver import output_times
from pde_sgd.fokker_planck import FokkerPlanck
from pde_sgd.hj import solve_inviscid, solve_viscous
from pde_sgd.sde import elastic_sgd, entropy_sgd, homogenized, simulate_sgd

G1 = Grid(-2, 2, 32)
F1 = landscapes.double_well(1, tilt=0.2).on_grid(G1)


def _same(a: Result, b: Result) -> None:
    assert sorted(a.arrays) == sorted(b.arrays)
    for k in a.arrays:
        np.testing.assert_array_equal(a[k], b[k])


def test_output_times_forms_and_bad_input():
    np.testing.assert_array_equal(output_times(T=0.3, n_saves=3), 0.3 * np.arange(4) / 3)
    np.testing.assert_array_equal(output_times(T=2.0), [0.0, 2.0])
    for kw, name in [(dict(times=[0.1], T=1.0), "not both"), (dict(times=[0.1], n_saves=2), "not both"),
                     (dict(), "times=.*T="), (dict(T=0.0), "T"), (dict(T=1.0, n_saves=0), "n_saves"),
                     (dict(n_saves=3), "times=.*T="), (dict(times=[0.2, 0.1]), "times")]:
        with pytest.raises(ValueError, match=name):
            output_times(**kw)


@pytest.mark.parametrize("solver", ["viscous", "inviscid", "fokker_planck"])
def test_times_and_T_n_saves_give_identical_grid_runs(solver):
    T, n = 0.2, 4
    if solver == "viscous":
        run = lambda **when: solve_viscous(F1, G1, 3.0, **when)
    elif solver == "inviscid":
        run = lambda **when: solve_inviscid(F1, G1, **when)
    else:
        fp = FokkerPlanck(landscapes.double_well(1, tilt=0.2), G1, beta=2.0)
        rho0 = np.exp(-(G1.axes[0] - 0.5) ** 2 / 0.1)
        run = lambda **when: fp.evolve(rho0, **when)
    by_times, by_T = run(times=np.linspace(0, T, n + 1)), run(T=T, n_saves=n)
    _same(by_times, by_T)
    assert by_T.times.shape == (n + 1,) and by_T.stats["steps"] > n and by_T.stats["substeps"] >= by_T.stats["steps"]
    assert by_T.stats["wall_time"] > 0 and by_T.stats["threads"] >= 1
    with pytest.raises(ValueError, match="not both"):
        run(times=[0.1], T=T)
    with pytest.raises(ValueError, match="n_saves"):
        run(T=T, n_saves=0)


def test_times_and_T_n_saves_give_identical_sde_runs():
    L = landscapes.double_well(2, tilt=0.2)
    D = [[1.0, 0.3], [0.3, 0.5]]
    run = lambda **when: simulate_sgd(L, D, 2.0, [0.5, -0.5], dt=0.01, n_paths=6, seed=4, **when)
    by_steps, by_T, by_times = run(n_steps=60, n_saves=6), run(T=0.6, n_saves=6), run(times=np.linspace(0, 0.6, 7))
    _same(by_steps, by_T)
    _same(by_steps, by_times)
    assert by_T.x.shape == (7, 6, 2) and by_T.params["n_steps"] == 60 and by_T.stats["steps"] == 60
    for when, name in [(dict(n_steps=60, T=0.6), "not both"), (dict(times=[0.0, 0.015]), "step grid"),
                       (dict(times=[0.0, 0.1, 0.3]), "equally spaced"), (dict(times=[0.1, 0.2]), "start at 0"),
                       (dict(T=0.6, n_saves=0), "n_saves"), (dict(), "n_steps=.*times="),
                       (dict(times=[0.1], T=0.6), "not both")]:
        with pytest.raises(ValueError, match=name):
            run(**when)


@pytest.mark.parametrize("solver", ["elastic_sgd", "entropy_sgd", "homogenized"])
def test_times_and_T_n_saves_give_identical_coupled_runs(solver):
    L = landscapes.double_well(1, tilt=0.2)
    if solver == "homogenized":
        run = lambda **when: homogenized(L, 2.0, [[0.5], [-0.4]], gamma=0.5, dt=0.05, **when)
    else:
        fn = elastic_sgd if solver == "elastic_sgd" else entropy_sgd
        kw = dict(n_replicas=3) if solver == "elastic_sgd" else {}
        run = lambda **when: fn(L, 2.0, [0.5], gamma=0.5, eps=0.1, dt=0.005, n_paths=5, seed=2, **kw, **when)
    by_T, by_times = run(T=0.6, n_saves=6), run(times=np.linspace(0, 0.6, 7))
    _same(by_T, by_times)
    assert by_T.params == by_times.params and by_T.times.shape == (7,) and by_T.x.shape[0] == 7
    assert run(T=0.6).times.shape == (101,)  # n_saves defaults to 100
    for when, name in [(dict(times=[0.0, 0.1, 0.3]), "times.*equally spaced"), (dict(times=[0.1, 0.2]), "start at 0"),
                       (dict(times=[0.0]), "times"), (dict(times=[0.1], T=0.6), "not both"),
                       (dict(T=0.6, n_saves=0), "n_saves"), (dict(), "times=.*T=")]:
        with pytest.raises(ValueError, match=name):
            run(**when)


def test_sde_n_saves_progress_and_stats():
    L = landscapes.quadratic([[2.0, 0.5], [0.5, 1.0]])
    args = (L, [[1.0, 0.3], [0.3, 0.5]], 2.0, [1.0, -1.0])
    steps = dict(dt=0.01, n_steps=60, n_paths=5)
    quiet = simulate_sgd(*args, **steps, seed=3, n_saves=6, progress=False)
    shown = simulate_sgd(*args, **steps, seed=3, n_saves=6, progress=True, threads=1)
    np.testing.assert_array_equal(quiet.x, shown.x)  # the bar (updated per chunk) leaves the paths bit for bit
    np.testing.assert_array_equal(quiet.times, 0.01 * 10 * np.arange(7))
    assert shown.stats["steps"] == 60 and shown.stats["substeps"] == 60 and shown.stats["threads"] == 1
    sub = simulate_sgd(*args, **steps, seed=3, noise_substeps=4)
    assert sub.stats["substeps"] == 240 and sub.x.shape == (2, 5, 2)
    for kw, name in [(dict(n_saves=7), "n_saves"), (dict(progress="yes"), "progress"), (dict(threads=0), "threads")]:
        with pytest.raises(ValueError, match=name):
            simulate_sgd(*args, **steps, seed=3, **kw)


def test_progress_bar_is_updated_per_chunk(monkeypatch, capsys):
    from pde_sgd import driver
    from pde_sgd.sde import chunks
    monkeypatch.setattr(chunks, "CHUNK_WORK", 5 * 12)  # 12-step chunks of 5 paths (on one thread)
    monkeypatch.setattr(chunks, "CHUNK_MIN_STEPS", 1)
    seen = []
    real = driver.Run.advance
    monkeypatch.setattr(driver.Run, "advance", lambda self, *a, **kw: seen.append(a) or real(self, *a, **kw))
    L = landscapes.quadratic([[2.0, 0.5], [0.5, 1.0]])
    r = simulate_sgd(L, 1.0, 2.0, [1.0, -1.0], dt=0.01, n_steps=60, n_paths=5, seed=3, progress=True, threads=1)
    assert seen == [(12, 12)] * 5 and r.stats["steps"] == 60
    assert "SDE euler" in capsys.readouterr().err  # the bar was drawn (on stderr)
