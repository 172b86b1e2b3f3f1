"""One drift spec (pde_sgd.Drift) for Fokker-Planck, the Numba SDE kernels and torchsde (issue 11).

The user drift is the rotational linear b(x) = -(I + c J) x (J the 90-degree rotation) with isotropic D = I: the
steady state is the Gibbs Gaussian N(0, I / beta) whatever c (J x is divergence-free and tangent to the level
sets), while the transient mean exp(-(I + c J) t) x0 turns with c, so a sign or transpose error in the routing
of the drift shows in the transient and a factor error in the steady state.
"""
import numpy as np
import pytest
import torch  # noqa: F401  (a missing torch must fail, not skip)
from numba import njit
from scipy.linalg import expm

from pde_sgd import Diffusion, Drift, Grid, landscapes
from pde_sgd.fokker_planck import FokkerPlanck
from pde_sgd.sde import simulate_sgd
from pde_sgd.sde import torch_bridge as tb

C, BETA = 1.0, 2.0
J = np.array([[0.0, -1.0], [1.0, 0.0]])
F = np.eye(2) + C * J
X0 = np.array([1.5, 0.0])
D = Diffusion.constant(1.0, 2)
B = Drift.linear(F)  # the user drift, given once
T1, T_END, DT, N = 1.0, 6.0, 0.005, 4000


@njit
def _b(x, out):
    out[0] = -(x[0] - C * x[1])
    out[1] = -(x[1] + C * x[0])


def _gibbs(grid):
    r2 = sum(c ** 2 for c in grid.coords)
    rho = np.exp(-BETA * r2 / 2)
    return rho / (rho.sum() * grid.cell_volume)


def _moments_ok(x, mean, cov, n_se=4.0):
    """Sample mean and covariance of x (n, 2) within n_se standard errors of the exact Gaussian's (mean, cov):
    SE(mean_i) = sqrt(cov_ii / n), SE(cov_ij) = sqrt((cov_ii cov_jj + cov_ij^2) / n)."""
    n = len(x)
    se_m = np.sqrt(np.diag(cov) / n)
    se_c = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov ** 2) / n)
    dm, dc = np.abs(x.mean(0) - mean), np.abs(np.cov(x.T) - cov)
    return bool(np.all(dm <= n_se * se_m) and np.all(dc <= n_se * se_c)), dm / se_m, dc / se_c


def _transient():
    """Exact law at T1 from the point mass at X0: mean e^{-F t} x0, cov (1 - e^{-2t}) I / beta (F + F^T = 2I)."""
    return expm(-F * T1) @ X0, (1 - np.exp(-2 * T1)) / BETA * np.eye(2)


def test_fokker_planck_steady_state_is_gibbs_at_second_order():
    errs, hs = [], []
    for n in (32, 64):
        grid = Grid([-4, -4], [4, 4], [n, n])
        rho = FokkerPlanck(B, grid, D, BETA).steady_state()
        errs.append(np.abs(rho - _gibbs(grid)).max() / _gibbs(grid).max())
        hs.append(grid.spacing[0])
    order = np.log(errs[0] / errs[1]) / np.log(hs[0] / hs[1])
    assert errs[1] < 5e-3 and order > 1.8, (errs, order)
    # the same drift as an @njit point function gives the same discrete operator
    rho_fn = FokkerPlanck(Drift.function(_b, 2), grid, D, BETA).steady_state()
    assert np.abs(rho_fn - rho).max() <= 1e-10 * rho.max()


def test_fokker_planck_transient_turns_with_the_drift():
    grid = Grid([-4, -4], [4, 4], [64, 64])
    X, Y = grid.coords
    s0 = 0.2
    rho0 = np.exp(-((X - X0[0]) ** 2 + (Y - X0[1]) ** 2) / (2 * s0))
    rho = FokkerPlanck(B, grid, D, BETA).evolve(rho0, T=T1, n_saves=1, method="implicit", dt=0.01)["rho"][-1]
    w = rho / rho.sum()
    mean = np.array([(w * X).sum(), (w * Y).sum()])
    exact = expm(-F * T1) @ X0
    assert np.abs(mean - exact).max() < 0.02, (mean, exact)  # a flipped J moves the mean by 2 sin(1) e^-1 1.5 ~ 0.9


def test_numba_and_torch_ensembles_match_the_exact_laws():
    gibbs_cov = np.eye(2) / BETA
    m1, c1 = _transient()
    x_numba = simulate_sgd(B, D, BETA, X0, dt=DT, T=T_END, n_saves=6, n_paths=N, seed=3)["x"]
    sde = tb.make_sde(B, D, BETA, device="cpu")
    x_torch = tb.run(sde, X0, T=T_END, dt=DT, n_paths=N, seed=4, n_saves=6)["x"]
    for x in (x_numba, x_torch):
        ok1, *_ = _moments_ok(x[1], m1, c1)
        ok_end, *_ = _moments_ok(x[-1], expm(-F * T_END) @ X0, gibbs_cov * (1 - np.exp(-2 * T_END)))
        assert ok1 and ok_end
    # the FP steady state's moments are the Gibbs ones (to the grid error) and the ensembles agree with them
    grid = Grid([-4, -4], [4, 4], [64, 64])
    rho = FokkerPlanck(B, grid, D, BETA).steady_state()
    pts = grid.points()
    w = (rho / rho.sum()).ravel()
    fp_mean, fp_cov = w @ pts, (pts * w[:, None]).T @ pts
    assert np.abs(fp_mean).max() < 1e-10 and np.abs(fp_cov - gibbs_cov).max() < 0.02
    for x in (x_numba, x_torch):
        assert _moments_ok(x[-1], fp_mean, fp_cov)[0]


def test_every_form_routes_to_the_same_drift():
    rng = np.random.default_rng(0)
    pts = rng.uniform(-2, 2, (50, 2))
    exact = -pts @ F.T
    grid = Grid([-3, -3], [3, 3], [24, 24])
    field = Drift.field(grid, (-grid.points() @ F.T).reshape(grid.shape + (2,)))
    for spec in (B, Drift.function(_b, 2), field):
        assert np.allclose(spec.at(pts), exact, rtol=0, atol=1e-12)  # multilinear is exact on linear fields
    L = landscapes.quadratic(np.diag([1.0, 2.0]))
    assert np.array_equal(Drift.gradient(L).at(pts), -L.grad(pts))
    # the function and field forms in the SDE kernels and torch: transient moments within 4 SE
    m1, c1 = _transient()
    for spec in (Drift.function(_b, 2), field):
        x = simulate_sgd(spec, D, BETA, X0, dt=DT, T=T1, n_saves=1, n_paths=N, seed=5)["x"][-1]
        assert _moments_ok(x, m1, c1)[0]
        xt = tb.run(tb.make_sde(spec, D, BETA, device="cpu"), X0, T=T1, dt=DT, n_paths=N, seed=6)["x"][-1]
        assert _moments_ok(xt, m1, c1)[0]
    # a gradient spec is the landscape itself: identical paths
    a = simulate_sgd(Drift.gradient(L), D, BETA, X0, dt=DT, n_steps=20, n_paths=50, seed=7)["x"]
    b = simulate_sgd(L, D, BETA, X0, dt=DT, n_steps=20, n_paths=50, seed=7)["x"]
    assert np.array_equal(a, b)


def test_bad_input_names_the_parameter():
    grid = Grid([-1, -1], [1, 1], [8, 8])
    with pytest.raises(ValueError, match="values"):
        Drift.field(grid, np.zeros((8, 8, 3)))
    bad = np.zeros((8, 8, 2))
    bad[2, 3, 1] = np.nan
    with pytest.raises(ValueError, match="values"):
        Drift.field(grid, bad)
    with pytest.raises(ValueError, match="F"):
        Drift.linear([[1.0, np.nan], [0.0, 1.0]])
    with pytest.raises(ValueError, match="F"):
        Drift.linear(np.ones((2, 3)))
    with pytest.raises(ValueError, match="b must be an @njit"):
        Drift.function(lambda x, out: None, 2)
    with pytest.raises(ValueError, match="b must be an @njit"):
        Drift.function(3.0, 2)
    with pytest.raises(ValueError, match="dim"):
        Drift.function(_b, 0)
    with pytest.raises(ValueError, match="landscape"):
        Drift.gradient(np.eye(2))
    three = Drift.linear(np.eye(3))
    with pytest.raises(ValueError, match="f is a drift in dim=3"):
        FokkerPlanck(three, grid, 1.0, 1.0)
    with pytest.raises(ValueError, match="x0 must have dim=3"):
        simulate_sgd(three, 1.0, 1.0, X0, dt=0.01, n_steps=1, n_paths=2, seed=0)
    with pytest.raises(ValueError, match="grad is a drift in dim=3"):
        tb.make_sde(three, 1.0, 1.0, dim=2)
    with pytest.raises(ValueError, match="precondition"):
        simulate_sgd(B, 1.0, 1.0, X0, dt=0.01, n_steps=1, n_paths=2, seed=0, precondition=np.eye(2))
    with pytest.raises(ValueError, match="precondition"):
        tb.make_sde(B, 1.0, 1.0, precondition=np.eye(2))
