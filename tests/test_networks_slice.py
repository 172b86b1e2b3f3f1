"""The 2-D slice of a tiny network: f and the projected D(x), and FP / torchsde / Numba / SGD on it (CPU)."""
import numpy as np
import pytest
import torch

from pde_sgd import Grid, beta_from_sgd
from pde_sgd.networks import build_model, covariance_dense, naive_per_sample_grads, synthetic, torch_threads, train
from pde_sgd.networks.coupling import (chain_moments, compare_moments, full_space_coupling, phi_vs_f, slice_coupling,
                                       torchsde_stationary)
from pde_sgd.networks.slice import LossSlice, make_slice, suggest_extent

ETA, B = 0.05, 1


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def setup(_one_thread):
    data = synthetic(48, n_features=6, n_classes=3, noise=1.0, seed=0, device="cpu")
    net = build_model("mlp", data, seed=0, hidden=(4,), weight_decay=1e-2, device="cpu")
    theta = train(net, data, eta=0.3, batch_size=8, n_steps=300, seed=0)
    sl, info = make_slice(net, theta, data)
    ext = suggest_extent(info["H_eigenvalues"], info["D0"], beta_from_sgd(ETA, B), n_std=5)
    grid = Grid(-ext, ext, (17, 17))
    return net, data, sl, grid, sl.on_grid(grid)


def test_slice_fields_match_full_per_sample_gradients(setup):
    net, data, sl, grid, fields = setup
    D = fields["D"]
    assert np.allclose(D, np.swapaxes(D, -1, -2), rtol=0, atol=0)
    assert np.linalg.eigvalsh(D).min() >= -1e-14 * np.abs(D).max()  # PSD at every grid point
    Bm = sl.basis
    pts = grid.points()
    for i in (0, 100, grid.size - 1):
        theta = sl.theta0 + Bm @ torch.as_tensor(pts[i])
        G = naive_per_sample_grads(net, theta, data.X, data.y)
        D_ref = (Bm.T @ covariance_dense(G) @ Bm).numpy()
        assert np.allclose(D.reshape(-1, 2, 2)[i], D_ref, rtol=0, atol=1e-12 * np.abs(D_ref).max())
        assert np.isclose(fields["f"].ravel()[i], float(net.loss(theta, data.X, data.y)), rtol=1e-13)
        assert np.allclose(fields["grad_f"].reshape(-1, 2)[i], (Bm.T @ G.mean(0)).numpy(), atol=1e-13)
    with pytest.raises(ValueError, match="orthonormal"):
        LossSlice(net, data, sl.theta0, 2 * sl.basis)


def test_torchsde_and_numba_engine_agree_on_the_slice(setup):
    """Same fields, same beta: stationary mean and covariance within 4 standard errors (SE from 200
    independent paths' time averages, so |z| > 4 has probability < 1e-4 per entry if both are right)."""
    from pde_sgd.sde import simulate_sgd
    from pde_sgd.sde.torch_bridge import make_sde
    _, _, _, grid, fields = setup
    beta = beta_from_sgd(ETA, B)
    n_paths, dt, t_burn, t_sample, n_saves = 200, 0.05, 2.0, 12.0, 60
    sde = make_sde(fields["grad_f"], fields["D"], beta, grid=grid, drift_grid=grid, device="cpu")
    x_t = torchsde_stationary(sde, np.zeros((n_paths, 2)), dt=dt, t_burn=t_burn, t_sample=t_sample,
                              n_saves=n_saves, seed=1)
    steps_burn, every = int(round(t_burn / dt)), int(round(t_sample / dt / n_saves))
    res = simulate_sgd(fields["grad_f"], fields["D"], beta, np.zeros(2), dt=dt, n_steps=steps_burn + every * n_saves,
                       n_paths=n_paths,
                       seed=2, grid=grid, drift_grid=grid, n_saves=steps_burn // every + n_saves)
    x_n = res["x"][-n_saves:]
    assert x_n.shape == x_t.shape
    cmp = compare_moments(chain_moments(x_t), chain_moments(x_n))
    assert cmp["max_z_mean"] < 4 and cmp["max_z_cov"] < 4, cmp


def test_phi_equals_f_for_isotropic_noise(setup):
    """With D = I the steady state is Gibbs exp(-beta f): Phi - f is constant up to the scheme's error."""
    from pde_sgd.fokker_planck import FokkerPlanck
    _, _, _, grid, fields = setup
    fp = FokkerPlanck(fields["f"], grid, 1.0, 50.0)
    rho = fp.steady_state()
    d = phi_vs_f(grid, fields["f"], fp.potential(rho), rho)
    assert d["relative_rms"] < 1e-6, d


def test_slice_coupling_runs_and_reports(setup):
    _, _, sl, _, fields = setup
    res = slice_coupling(sl, fields, eta=ETA, batch_size=B, n_chains=8, t_burn=0.5, t_sample=2.0, seed=0)
    p = res.params
    assert res["sde_x"].shape[1:] == (8, 2) and res["sgd_x"].shape[1:] == (8, 2)
    assert np.isclose(res["rho_ss"].sum() * np.prod(p["grid"].spacing), 1.0)
    assert p["phi_vs_f"]["relative_rms"] >= 0 and set(p["sde_vs_sgd"]) == {"max_z_mean", "max_z_cov", "max_rel_var"}
    with pytest.raises(ValueError, match="eta"):
        slice_coupling(sl, fields, eta=0.0, batch_size=B)


def test_full_space_coupling_tiny(setup):
    net, data, sl, _, _ = setup
    res = full_space_coupling(net, sl.theta0, data, [(0.05, 4), (0.1, 8)], t_total=1.0, n_chains=3, n_factor=8,
                              n_saves=5, seed=0)
    assert res["excess_sgd"].shape == (2, 5, 3) and res["excess_sde"].shape == (2, 5, 3)
    assert res["loss_gd"].shape == (2, 5)
    s = res.params["summary"]
    assert s[0]["beta"] == s[1]["beta"] and np.isclose(s[0]["noise_scale_approx"], s[1]["noise_scale_approx"])
    assert np.all(np.isfinite(res["excess_sde"]))


def test_slice_directions_and_anchor_diffusion(setup):
    net, data, sl, _, _ = setup
    D_ref = covariance_dense(naive_per_sample_grads(net, sl.theta0, data.X, data.y))
    lam, V = torch.linalg.eigh(D_ref)
    sl_d, info_d = make_slice(net, sl.theta0, data, "diffusion")
    assert torch.allclose((sl_d.basis.T @ V[:, [-1, -2]]).abs(), torch.eye(2, dtype=torch.float64), atol=1e-8)
    assert np.allclose(info_d["D0"], np.diag(lam[[-1, -2]].numpy()), rtol=0, atol=1e-12)
    _, info_h = make_slice(net, sl.theta0, data, "hessian")
    assert np.allclose(info_h["D0"], (sl.basis.T @ D_ref @ sl.basis).numpy(), rtol=0, atol=1e-13)
    with pytest.raises(ValueError, match="directions"):
        make_slice(net, sl.theta0, data, "random")
