"""One diffusion spec D(x) for Fokker-Planck, the Numba SDE kernels and the torchsde bridge."""
import math

import numpy as np
import pytest
from numba import njit

from pde_sgd import Diffusion, Grid, landscapes
from pde_sgd.fokker_planck import FokkerPlanck
from pde_sgd.sde import simulate_sgd
from pde_sgd.sde.fields import psd_factor

BETA = 2.0
F = landscapes.double_well(2, tilt=0.2)


@njit
def rotating_D(x, out):
    """Eigenvalues 1 and 0.3 + 0.2 sin^2 x_2, eigenvectors rotated by 0.6 x_1: anisotropic, x-dependent, so the
    steady state is not the Gibbs state (E x_2^2: 0.265 here vs 0.500 for Gibbs)."""
    th = 0.6 * x[0]
    c, s = math.cos(th), math.sin(th)
    l1, l2 = 1.0, 0.3 + 0.2 * math.sin(x[1]) ** 2
    out[0, 0] = c * c * l1 + s * s * l2
    out[0, 1] = c * s * (l1 - l2)
    out[1, 0] = out[0, 1]
    out[1, 1] = s * s * l1 + c * c * l2


def _stats(x):  # per-path statistics: x_1, x_1^2, x_2^2, x_1 x_2
    return np.stack([x[:, 0], x[:, 0] ** 2, x[:, 1] ** 2, x[:, 0] * x[:, 1]], 1)


def test_the_same_user_D_in_fokker_planck_numba_and_torchsde():
    """The FP steady state of the user's D is stationary for both SDE integrators with that same D: paths started
    from FP samples keep the FP moments after T = 3 (several relaxation times of x_2) within 4 standard errors.
    The test can fail: the same run with D = I drifts towards Gibbs (E x_2^2 = 0.5), > 4 SE away."""
    torch = pytest.importorskip("torch")
    from pde_sgd.sde import torch_bridge as tb

    D = Diffusion.function(rotating_D, 2)
    g = Grid([-3.5, -3.5], [3.5, 3.5], [96, 96])
    rho = FokkerPlanck(F, g, beta=BETA, D=D).steady_state()
    w = np.clip(rho, 0.0, None).ravel()
    w /= w.sum()
    pts = g.points()
    ref = np.array([w @ s for s in _stats(pts).T])
    rng = np.random.default_rng(0)
    n = 2000
    x0 = pts[rng.choice(g.size, n, p=w)] + rng.uniform(-0.5, 0.5, (n, 2)) * np.array(g.spacing)
    numba_x = simulate_sgd(F, D, beta=BETA, x0=x0, dt=0.01, n_steps=300, n_paths=n, seed=1)["x"][-1]
    torch.manual_seed(0)
    torch_x = tb.run(tb.make_sde(F, D, BETA, device="cpu"), x0, T=3.0, dt=0.01, n_paths=n, seed=2)["x"][-1]
    for x in (numba_x, torch_x):
        s = _stats(x)
        z = (s.mean(0) - ref) / (s.std(0, ddof=1) / math.sqrt(n))
        assert np.all(np.abs(z) < 4.0), z
    wrong = _stats(simulate_sgd(F, 1.0, beta=BETA, x0=x0, dt=0.01, n_steps=300, n_paths=n, seed=1)["x"][-1])
    assert abs((wrong[:, 2].mean() - ref[2]) / (wrong[:, 2].std(ddof=1) / math.sqrt(n))) > 4.0


def test_forms_agree_where_they_describe_the_same_D():
    """function / field / constant / low rank: FP sees the same cell matrices, and the Numba kernels the same
    paths (bitwise) for a constant D given as a matrix, as Diffusion.constant, or as its factor V V^T."""
    g = Grid([-2, -2], [2, 2], [12, 10])
    fn = Diffusion.function(rotating_D, 2)
    cells = fn.on_grid(g)
    field = Diffusion.field(g, cells)
    np.testing.assert_array_equal(FokkerPlanck(F, g, beta=BETA, D=field).D, FokkerPlanck(F, g, beta=BETA, D=fn).D)
    np.testing.assert_allclose(field.at(g.points()).reshape(cells.shape), cells, rtol=0, atol=1e-15)  # at centres
    M = np.array([[1.0, 0.4], [0.4, 0.5]])
    run = dict(beta=BETA, x0=[0.5, 0.1], dt=0.01, n_steps=20, n_paths=8, seed=3)
    ref = simulate_sgd(F, M, **run)["x"]
    np.testing.assert_array_equal(simulate_sgd(F, Diffusion.constant(M), **run)["x"], ref)
    np.testing.assert_array_equal(simulate_sgd(F, Diffusion.low_rank(psd_factor(M)), **run)["x"], ref)
    np.testing.assert_allclose(Diffusion.low_rank([[1.0], [2.0]]).on_grid(g)[3, 4], [[1.0, 2.0], [2.0, 4.0]])
    # a function of (x, t, out) is taken as is
    chol = simulate_sgd(F, Diffusion.low_rank(np.linalg.cholesky(M)), **run)["x"]  # the kernels' factor of D(x)
    np.testing.assert_allclose(simulate_sgd(F, Diffusion.function(_const_D, 2), **run)["x"], chol, rtol=0, atol=1e-12)


@njit
def _const_D(x, t, out):  # the (x, t, out) form is taken as is
    out[0, 0], out[0, 1], out[1, 0], out[1, 1] = 1.0, 0.4, 0.4, 0.5


@njit
def _not_psd(x, out):
    out[0, 0], out[0, 1], out[1, 0], out[1, 1] = 1.0, 2.0, 2.0, 1.0


@pytest.mark.parametrize("make, match", [
    (lambda: Diffusion.constant([[1.0, 0.5], [0.0, 1.0]]), "must be symmetric"),
    (lambda: Diffusion.constant([[1.0, 2.0], [2.0, 1.0]]), "positive semi-definite"),
    (lambda: Diffusion.constant(1.0), "dim is required"),
    (lambda: Diffusion.constant(-1.0, 2), "D must be finite and >= 0"),
    (lambda: Diffusion.field(Grid(-1, 1, 4), np.ones(5)), "D field must have shape"),
    (lambda: Diffusion.field(Grid(-1, 1, 4), -np.ones(4)), ">= 0 everywhere"),
    (lambda: Diffusion.low_rank([1.0, np.nan]), "V"),
    (lambda: Diffusion.function(lambda x, out: None, 2), "@njit function"),
    (lambda: FokkerPlanck(F, Grid([-1, -1], [1, 1], [4, 4]), D=Diffusion.function(_not_psd, 2)),
     "positive semi-definite"),
    (lambda: simulate_sgd(F, Diffusion.function(_not_psd, 2), beta=1.0, x0=[0, 0], dt=0.01, n_steps=2,
                          n_paths=2, seed=0), "positive semi-definite"),
    (lambda: simulate_sgd(F, Diffusion.constant(1.0, 3), beta=1.0, x0=[0, 0], dt=0.01, n_steps=2, n_paths=2,
                          seed=0), "dim=3"),
    (lambda: FokkerPlanck(F, Grid([-1, -1], [1, 1], [4, 4]), D=Diffusion.field(Grid([-1, -1], [1, 1], [5, 5]),
                                                                            np.ones((5, 5)))), "field on"),
])
def test_bad_diffusion_specs_raise_naming_D(make, match):
    with pytest.raises(ValueError, match=match):
        make()
