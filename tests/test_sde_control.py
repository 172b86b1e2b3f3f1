"""Stochastic control (THEORY.md section 1): HJB value, Feynman-Kac, J(alpha*) = u(x, 0), the inequality."""
import numpy as np
import pytest

from pde_sgd import Grid, landscapes
from pde_sgd.sde.control import feynman_kac_value, hjb_value, simulate_controlled
from sde_helpers import loglog_slope


def _exact_ou_value(a, k, c, beta, T, x):
    """f = a x^2/2, V = k (x - c)^2 / 2: X_T ~ N(x e^{-aT}, s2), s2 = (1 - e^{-2aT}) / (a beta), and
    E exp(-lam (X - c)^2) = (1 + 2 lam s2)^(-1/2) exp(-lam (m - c)^2 / (1 + 2 lam s2)) with lam = beta k / 4."""
    m = x * np.exp(-a * T)
    s2 = (1 - np.exp(-2 * a * T)) / (a * beta)
    lam = beta * k / 4
    logw = -0.5 * np.log(1 + 2 * lam * s2) - lam * (m - c) ** 2 / (1 + 2 * lam * s2)
    return -2.0 / beta * logw


def test_hjb_second_order_against_exact():
    a, k, c, beta, T = 1.0, 2.0, 1.0, 4.0, 1.0
    L, V = landscapes.quadratic([[a]]), landscapes.quadratic([[k]], [c])
    errs, hs = [], []
    for n in (100, 200, 400):
        grid = Grid(-5.0, 5.0, n)
        r = hjb_value(L, V, beta, T=T, grid=grid, n_steps=n)
        x = grid.axes[0]
        inner = np.abs(x) < 2.5
        errs.append(np.max(np.abs(r["u"][0][inner] - _exact_ou_value(a, k, c, beta, T, x[inner]))))
        hs.append(grid.spacing[0])
    order, _ = loglog_slope(hs, errs)
    print(f"HJB errors {errs}, order {order:.2f}")
    assert order >= 1.8 and errs[-1] < 1e-3


@pytest.fixture(scope="module")
def setup():
    # double well, start in the left well, terminal cost pulls to the right well
    L, V = landscapes.double_well(1), landscapes.quadratic([[2.0]], [1.0])
    beta, T, x0 = 4.0, 2.0, -1.0
    grid = Grid(-4.0, 4.0, 400)
    hjb = hjb_value(L, V, beta, T=T, grid=grid, n_steps=400)
    run = simulate_controlled(L, hjb, V, x0, n_steps=2000, n_paths=20000, seed=3)
    return L, V, beta, hjb, run


def test_feynman_kac_equals_hjb(setup):
    L, V, beta, hjb, run = setup
    fk, se = feynman_kac_value(run["V_sgd"], beta)
    u0 = run.params["u0"]
    print(f"u(x0,0): HJB {u0:.4f}, Feynman-Kac {fk:.4f} +- {se:.4f}")
    # 4 SE of the MC estimate plus the Euler O(dt) weak bias (dt = 1e-3: below 0.01 here)
    assert abs(fk - u0) <= 4 * se + 0.01


def test_optimal_cost_and_inequality(setup):
    L, V, beta, hjb, run = setup
    J, u0 = run["J"], run.params["u0"]
    se_J = J.std(ddof=1) / np.sqrt(J.size)
    print(f"J(alpha*) {J.mean():.4f} +- {se_J:.4f}, u0 {u0:.4f}, E V(sgd) {run['V_sgd'].mean():.4f}")
    assert abs(J.mean() - u0) <= 4 * se_J + 0.01
    # E V(x_controlled) <= E V(x_sgd) - 1/2 E ∫ alpha*^2: the paired gap (same Brownian paths) is positive
    gap = run["V_sgd"] - J
    assert gap.mean() > 4 * gap.std(ddof=1) / np.sqrt(gap.size)
    assert run["V_controlled"].mean() < run["V_sgd"].mean()


@pytest.mark.parametrize("scale", [0.5, 1.5])
def test_other_controls_cost_more(setup, scale):
    L, V, beta, hjb, run = setup
    other = simulate_controlled(L, hjb, V, -1.0, n_steps=2000, n_paths=20000, seed=3, control_scale=scale)
    d = other["J"] - run["J"]  # paired on common noise
    assert d.mean() > 4 * d.std(ddof=1) / np.sqrt(d.size)


def test_control_bad_input():
    with pytest.raises(ValueError, match="1-D"):
        hjb_value(landscapes.double_well(2), landscapes.double_well(1), 1.0, T=1.0, grid=Grid(-1, 1, 10))
    with pytest.raises(ValueError, match="T"):
        hjb_value(landscapes.double_well(1), landscapes.double_well(1), 1.0, T=0.0, grid=Grid(-1, 1, 10))
