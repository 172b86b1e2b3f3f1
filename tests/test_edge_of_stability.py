"""The sharpness instrument's controls: full-batch GD reaches the edge of stability 2/eta on a model that
sharpens (Cohen et al. 2021), and the overshoot curve along e_1 equals its closed form on a quadratic loss."""
import numpy as np
import pytest
import torch

from pde_sgd.networks import FlatModel, build_model, dense_hessian, synthetic
from pde_sgd.networks.edge_of_stability import edge_of_stability, overshoot_curve


@pytest.fixture(scope="module")
def data():
    return synthetic(128, n_features=16, n_classes=4, noise=1.0, seed=0, device="cpu")


@pytest.mark.parametrize("eta", [1.0, 2.0])
def test_gd_plateaus_at_two_over_eta(data, eta):
    model = build_model("mlp", data, seed=0, hidden=(32,), weight_decay=0.0, loss="mse", device="cpu")
    with torch.random.fork_rng():
        res = edge_of_stability(model, data, eta=eta, n_steps=600, record_every=25, n_iter=20)
    lam = res.arrays["eigenvalues"][:, 0]
    assert lam[0] < 0.8 * 2 / eta or eta == 2.0          # eta = 1 starts below the edge and sharpens to it
    assert res.params["ratio"] == pytest.approx(1.0, abs=0.10)
    assert res.params["stability_edge"]["met"]
    assert res.params["edge"] == 2 / eta


def test_edge_of_stability_bad_input(data):
    model = build_model("mlp", data, seed=0, hidden=(8,), weight_decay=0.0, loss="mse", device="cpu")
    with pytest.raises(ValueError, match="record_every"):
        edge_of_stability(model, data, eta=1.0, n_steps=10, record_every=5)
    with pytest.raises(ValueError, match="eta"):
        edge_of_stability(model, data, eta=-1.0, n_steps=100, record_every=5)


class _ScaledLinear(torch.nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.lin = torch.nn.Linear(n_in, n_out, dtype=torch.float64)
        self.register_buffer("scale", torch.arange(1.0, n_out + 1, dtype=torch.float64))

    def forward(self, x):
        return self.lin(x) * self.scale


def scaled_linear(data):
    torch.manual_seed(1)
    return FlatModel(_ScaledLinear(data.X.shape[1], data.n_classes), loss="mse")


@pytest.mark.parametrize("eta", [0.01, 0.2])
def test_overshoot_matches_quadratic_closed_form(data, eta):
    """Linear model + MSE: L is quadratic, so along e_1 with s = alpha eta (G . e_1) the change is exactly
    -s (G . e_1) + s^2 lambda_1 / 2 (full batch: g_B = G). Reference from the dense Hessian (numpy eigh).
    Outputs scaled by 1..C so that the top eigenvalue is simple (plain MSE repeats it C times)."""
    model = scaled_linear(data)
    theta = model.theta()
    H = dense_hessian(model, theta, data.X, data.y).numpy()
    w, V = np.linalg.eigh(H)
    lam1, e1 = w[-1], V[:, -1]
    G = torch.func.grad(model.loss)(theta, data.X, data.y).numpy()
    L0 = float(model.loss(theta, data.X, data.y))
    alphas = np.array([0.25, 0.5, 1.0, 2.0, 4.0])
    s = alphas * eta * (G @ e1)
    expected = (-s * (G @ e1) + 0.5 * s ** 2 * lam1) / L0
    res = overshoot_curve(model, theta, data, eta=eta, batch_size=data.n, alphas=alphas, n_batches=2)
    assert res.params["lambda_1"] == pytest.approx(lam1, rel=1e-8)
    np.testing.assert_allclose(res.arrays["relative_change"], expected, rtol=1e-6, atol=1e-12)
    # the step alpha = 4 raises the loss only when it crosses the valley along e_1: 4 eta lambda_1 > 2
    crosses = 4 * eta * lam1 > 2.0
    assert crosses == (eta == 0.2)
    assert (res.arrays["relative_change"][-1] > 0) == crosses


def test_overshoot_bad_alphas(data):
    model = scaled_linear(data)
    with pytest.raises(ValueError, match="alphas"):
        overshoot_curve(model, model.theta(), data, eta=0.1, batch_size=8, alphas=[0.5, -1.0])
