"""torchsde bridge agrees with the Numba kernels within standard errors; the core imports without torch."""
import subprocess
import sys

import numpy as np
import pytest
import torch  # a missing torch or torchsde must fail these tests, not skip them
import torchsde  # noqa: F401

from pde_sgd import Grid, landscapes
from pde_sgd.sde import simulate_sgd
from pde_sgd.sde import torch_bridge as tb

L = landscapes.double_well(2)
BETA, T, DT, N = 3.0, 1.0, 0.01, 3000
X0 = [0.3, 0.5]
GRID = Grid([-2.5, -2.5], [2.5, 2.5], [10, 10])
DFIELD = np.einsum("...,ij->...ij", 1.0 + 0.5 * np.sin(GRID.coords[0]) ** 2, [[1.0, 0.4], [0.4, 0.5]])
V = np.array([[1.0], [0.6]])


def _two_sample_ok(a, b):
    """Means and variances agree within 4 combined standard errors (SE(var) from the fourth moments)."""
    ma, mb = a.mean(0), b.mean(0)
    va, vb = a.var(0, ddof=1), b.var(0, ddof=1)
    se_m = np.sqrt(va / len(a) + vb / len(b))
    se_v = np.sqrt(((a - ma) ** 4).mean(0) / len(a) - va ** 2 / len(a) + ((b - mb) ** 4).mean(0) / len(b)
                   - vb ** 2 / len(b))
    return np.all(np.abs(ma - mb) <= 4 * se_m) and np.all(np.abs(va - vb) <= 4 * se_v)


@pytest.mark.parametrize("case", ["constant", "diagonal", "field", "lowrank", "grad_field"])
def test_bridge_matches_numba(case):
    kw, tkw, D_numba, D_torch, drift = {}, {}, None, None, L
    if case == "constant":
        D_numba = D_torch = np.array([[1.0, 0.4], [0.4, 0.5]])
    elif case == "diagonal":
        D_numba = D_torch = np.diag([1.0, 0.3])
    elif case == "field":
        D_numba = D_torch = DFIELD
        kw, tkw = dict(grid=GRID), dict(grid=GRID)
    elif case == "lowrank":
        D_numba, D_torch = V @ V.T, tb.LowRank(V)
    else:  # gradient field drift on a fine grid, isotropic D
        fine = Grid([-3, -3], [3, 3], [121, 121])
        drift = L.grad_on_grid(fine)
        D_numba = D_torch = 1.0
        kw = dict(drift_grid=fine)
        tkw = dict(drift_grid=fine)
    numba_x = simulate_sgd(drift, D_numba, BETA, X0, dt=DT, n_steps=int(T / DT), n_paths=N, seed=1, **kw)["x"][-1]
    sde = tb.make_sde(drift, D_torch, BETA, device="cpu", **tkw)
    assert sde.noise_type == ("diagonal" if case in ("diagonal", "grad_field") else "general")
    torch_x = tb.run(sde, X0, T=T, dt=DT, n_paths=N, seed=2)["x"][-1]
    assert _two_sample_ok(numba_x, torch_x)


def test_callable_drift_and_milstein():
    sde = tb.make_sde(lambda x: x, np.diag([0.5, 2.0]), 2.0, device="cpu")
    r = tb.run(sde, [1.0, 1.0], T=1.0, dt=0.01, n_paths=4000, seed=0, method="milstein", n_saves=4)
    x = r["x"][-1]
    # OU with K = I: mean e^-1, variance D (1 - e^-2) / beta (exact); 4 SE (Gaussian SE(var) = var sqrt(2/n))
    # plus 1% for the O(dt) = O(0.01) bias of the scheme (additive noise: Milstein = Euler)
    var = np.array([0.5, 2.0]) * (1 - np.exp(-2.0)) / 2.0
    assert np.all(np.abs(x.mean(0) - np.exp(-1)) <= 4 * np.sqrt(var / len(x)))
    assert np.all(np.abs(x.var(0) - var) <= 4 * var * np.sqrt(2 / len(x)) + 0.01 * var)
    assert r["x"].shape == (5, 4000, 2)


def test_core_imports_without_torch():
    code = "import sys, pde_sgd.sde, pde_sgd.sde.sgd, pde_sgd.sde.control; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bridge_bad_input():
    with pytest.raises(ValueError, match="drift_grid"):
        tb.make_sde(np.zeros((4, 4, 2)), 1.0, 1.0)
    with pytest.raises(ValueError, match="positive semi-definite"):
        tb.make_sde(L, np.array([[1.0, 2.0], [2.0, 1.0]]), 1.0)
    with pytest.raises(TypeError, match="must be a pde_sgd Landscape"):
        tb.landscape_grad(lambda x: x)


def test_run_is_seeded_and_leaves_the_global_torch_rng_alone():
    sde = tb.make_sde(landscapes.double_well(2), np.diag([1.0, 0.3]), 2.0, device="cpu")
    state = torch.random.get_rng_state()
    a = tb.run(sde, np.zeros(2), T=0.2, dt=0.01, n_paths=16, seed=5)["x"]
    assert torch.equal(torch.random.get_rng_state(), state)
    np.testing.assert_array_equal(a, tb.run(sde, np.zeros(2), T=0.2, dt=0.01, n_paths=16, seed=5)["x"])
    assert not np.array_equal(a, tb.run(sde, np.zeros(2), T=0.2, dt=0.01, n_paths=16, seed=6)["x"])
