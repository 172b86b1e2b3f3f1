"""Every pde_sgd.checks function rejects a deliberately wrong solver or input (issue 14).

A check that could be replaced by "return passed" without a failing test is no check. Each test below feeds
the check a solver with a known bug (wrong beta, missing factor, wrong sign) and asserts the check fails, so a
stubbed check fails the test. (lyapunov, solver_order and homogenization_check have theirs beside their
passing tests.)
"""
import numpy as np
import pytest

from pde_sgd import Grid, Result, hj, landscapes
from pde_sgd.checks import fokker_planck as fpc
from pde_sgd.checks import hj as hjc
from pde_sgd.checks import sde as sdec
from pde_sgd.fokker_planck import FokkerPlanck, exact


def _failed(checks, index=None):
    chosen = checks if index is None else [checks[index]]
    return any(not c.passed for c in chosen)


# --- Fokker-Planck ---------------------------------------------------------------------------------------
def test_gibbs_check_rejects_a_solver_with_beta_off_by_5_percent(monkeypatch):
    g = Grid([-2.5, -2.5], [2.5, 2.5], [24, 24])
    real = fpc.FokkerPlanck
    monkeypatch.setattr(fpc, "FokkerPlanck", lambda f=None, grid=None, D=1.0, beta=1.0, **kw:
                        real(f, grid, D, beta=1.05 * beta, **kw))
    out = fpc.gibbs(g, landscapes.double_well(2), beta=2.0, c=0.7)
    assert _failed(out) and out[0].measured > 1e3 * out[0].tolerance


def _fp_with_bad_evolve(bug):
    g = Grid([-2.5, -2.5], [2.5, 2.5], [24, 24])
    fp = FokkerPlanck(landscapes.double_well(2), g, beta=2.0, D=0.8)  # monotone
    real = fp.evolve

    def evolve(rho0, *, times, **kw):
        r = real(rho0, times=times, **kw)
        rho = r["rho"].copy()
        if bug == "leak":  # loses 1% of the mass per unit time
            rho *= np.exp(-0.01 * np.asarray(times))[:, None, None]
        elif bug == "backwards":  # runs the snapshots in reverse: the free energy grows
            rho = rho[::-1].copy()
        elif bug == "negative":  # an undershoot on a monotone operator
            rho[-1, 3, 3] = -1e-6 * rho.max()
        flat = rho.reshape(len(times), -1)
        return Result(r.kind, {"times": r["times"], "rho": rho, "mass": flat.sum(1) * g.cell_volume,
                               "min": flat.min(1)}, r.params)

    fp.evolve = evolve
    return fp, exact.gaussian_density(g, [0.6, 0.6], 0.16 * np.eye(2))


@pytest.mark.parametrize("bug, index", [("leak", 0), ("backwards", 1), ("negative", 2)])
def test_conservation_and_free_energy_check_rejects_broken_evolutions(bug, index):
    fp, rho0 = _fp_with_bad_evolve(bug)
    out = fpc.conservation_and_free_energy(fp, rho0, np.linspace(0, 1, 11))
    assert _failed(out, index), [str(c) for c in out]


# --- Hamilton-Jacobi -------------------------------------------------------------------------------------
def test_quadratic_matrix_form_check_rejects_a_wrong_beta(monkeypatch):
    real = hj.local_entropy
    monkeypatch.setattr(hj, "local_entropy", lambda f, g, t, beta, **kw: real(f, g, t, 2.0 * beta, **kw))
    out = hjc.quadratic_matrix_form([[2.0, 0.7], [0.7, 1.0]], 0.3, 5.0)
    assert _failed(out, 0)


def test_quadratic_matrix_form_check_rejects_a_wrong_gradient(monkeypatch):
    real = hj.local_entropy

    def bad_grad(f, g, t, beta, **kw):
        r = real(f, g, t, beta, **kw)
        return Result(r.kind, dict(r.arrays, grad=1.01 * r.grad), r.params)

    monkeypatch.setattr(hj, "local_entropy", bad_grad)
    out = hjc.quadratic_matrix_form([[2.0, 0.7], [0.7, 1.0]], 0.3, 5.0)
    assert out[0].passed and _failed(out, 1)


@pytest.mark.parametrize("beta", [None, 10.0])
def test_semiconcavity_check_rejects_an_unsmoothed_u(monkeypatch, beta):
    # a "solver" that returns f itself: rastrigin's curvature exceeds 1/t
    monkeypatch.setattr(hj, "moreau_envelope", lambda f, g, t, **kw: (np.array(f), None))
    monkeypatch.setattr(hj, "local_entropy", lambda f, g, t, b, **kw: Result("hj.local_entropy", {"u": np.array(f)}))
    g = Grid([-2, -2], [2, 2], [40, 40])
    out = hjc.semiconcavity(landscapes.rastrigin(2).on_grid(g), g, 0.2, beta=beta)
    assert _failed(out)


@pytest.mark.parametrize("bug", ["rises_with_t", "shifted"])
def test_moreau_invariants_check_rejects_broken_envelopes(monkeypatch, bug):
    real = hj.moreau_envelope

    def bad(f, g, t, **kw):
        u, y = real(f, g, t, **kw)
        return (u + 0.01 * t if bug == "rises_with_t" else u - 1e-3), y

    monkeypatch.setattr(hj, "moreau_envelope", bad)
    g = Grid([-2, -2], [2, 2], [40, 40])
    out = hjc.moreau_invariants(landscapes.rastrigin(2).on_grid(g), g, [0.05, 0.1, 0.5])
    assert _failed(out, 0 if bug == "rises_with_t" else 1)


def test_viscous_gap_slope_check_rejects_a_gap_of_the_wrong_order(monkeypatch):
    # gap ~ beta^-1/2 instead of beta^-1 (e.g. a kernel variance t / beta^2): slope -1/2
    real = hj.local_entropy
    monkeypatch.setattr(hj, "local_entropy", lambda f, g, t, beta, **kw: real(f, g, t, beta ** 0.5 * 10, **kw))
    g1 = Grid(-2.5, 2.5, 2000)
    out = hjc.viscous_gap_slope(landscapes.double_well(1, tilt=0.1).on_grid(g1), g1, 0.3)
    assert _failed(out), str(out[0])


# --- SDE -------------------------------------------------------------------------------------------------
def test_ou_moments_check_rejects_a_wrong_temperature(monkeypatch):
    real = sdec.simulate_sgd
    monkeypatch.setattr(sdec, "simulate_sgd", lambda f, D, beta, *a, **kw: real(f, D, 1.2 * beta, *a, **kw))
    out = sdec.ou_moments_check([[2.0, 0.5], [0.5, 1.0]], [[1.0, 0.3], [0.3, 0.5]], 2.0, [1.0, -1.0], 0.5, 0.005,
                                n_paths=5000, seed=1)
    assert out[0].passed and _failed(out, 1), [str(c) for c in out]  # the mean does not see beta


def test_ou_moments_check_rejects_a_wrong_drift(monkeypatch):
    real = sdec.simulate_sgd
    monkeypatch.setattr(sdec, "simulate_sgd", lambda f, *a, **kw: real(landscapes.quadratic(
        [[2.0, 0.5], [0.5, 1.1]]), *a, **kw))
    out = sdec.ou_moments_check([[2.0, 0.5], [0.5, 1.0]], [[1.0, 0.3], [0.3, 0.5]], 2.0, [1.0, -1.0], 0.5, 0.005,
                                n_paths=5000, seed=1)
    assert _failed(out, 0), [str(c) for c in out]


def test_control_check_rejects_a_wrong_feynman_kac_weight(monkeypatch):
    real = sdec.feynman_kac_value
    monkeypatch.setattr(sdec, "feynman_kac_value", lambda V, beta: real(V, 2.0 * beta))  # exp(-beta V) weight
    out = sdec.control_check(landscapes.double_well(1), landscapes.quadratic([[2.0]], [1.0]), 4.0, 2.0, -1.0,
                             Grid(-4.0, 4.0, 200), n_paths=5000, n_steps=1000, seed=3)
    assert _failed(out, 0) and out[1].passed, [str(c) for c in out]


def test_control_check_rejects_a_suboptimal_control(monkeypatch):
    real = sdec.hjb_value

    def weak_control(*a, **kw):
        r = real(*a, **kw)
        return Result(r.kind, dict(r.arrays, alpha=0.5 * r["alpha"]), r.params)

    monkeypatch.setattr(sdec, "hjb_value", weak_control)
    out = sdec.control_check(landscapes.double_well(1), landscapes.quadratic([[2.0]], [1.0]), 4.0, 2.0, -1.0,
                             Grid(-4.0, 4.0, 200), n_paths=5000, n_steps=1000, seed=3)
    assert _failed(out, 1), [str(c) for c in out]
