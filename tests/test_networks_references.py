"""Network quantities against hand computations and explicit loops (written after a mutation pass over
pde_sgd/networks: each test here fails for a plausible one-line bug the other tests let through)."""
import numpy as np
import pytest
import torch

from pde_sgd.networks import build_model, naive_per_sample_grads, projected_covariance, synthetic, torch_threads
from pde_sgd.networks.noise_rank import participation_ratio, rank_at, spectrum_measures, stable_rank


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with torch_threads(1):
        yield


def test_noise_rank_measures_on_a_hand_spectrum():
    lam = np.array([4.0, 1.0, 1.0, 0.0, 0.0])  # P = 5
    assert participation_ratio(lam) == pytest.approx(36 / 18, rel=1e-15)
    assert stable_rank(lam) == pytest.approx(6 / 4, rel=1e-15)
    assert rank_at(lam, 5, 0.1) == 1   # tolerance lambda_max P eps = 2: only the 4 is above it
    assert rank_at(lam, 5, 0.01) == 3  # tolerance 0.2
    m = spectrum_measures(lam, 5, 4)
    assert m["mean"] == pytest.approx(6 / 5) and m["std"] == pytest.approx(np.sqrt(18 / 5 - 36 / 25))
    assert m["rank_bound_fraction"] == pytest.approx(3 / 5)


def test_projected_covariance_is_the_sum_of_outer_products_about_the_mean():
    data = synthetic(20, n_features=5, n_classes=3, seed=2, device="cpu")
    net = build_model("mlp", data, seed=2, hidden=(3,), device="cpu")
    G = naive_per_sample_grads(net, net.theta(), data.X, data.y)
    basis = torch.linalg.qr(torch.randn(net.n_params, 3, generator=torch.Generator().manual_seed(0),
                                        dtype=torch.float64))[0]
    gbar = sum(G[k] for k in range(20)) / 20
    D_ref = sum(torch.outer(G[k] - gbar, G[k] - gbar) for k in range(20)) / 20
    assert torch.allclose(projected_covariance(G, basis), basis.T @ D_ref @ basis, rtol=0,
                          atol=1e-14 * float(D_ref.abs().max()))


def test_laplace_evidence_against_the_formula_written_out():
    """E = C(w0) + 1/2 ln det(H / lambda) - N ln 2 with C and H summed sample by sample."""
    from pde_sgd.networks.evidence import fit, log_evidence_ratio
    rng = np.random.default_rng(0)
    Phi = np.hstack([rng.standard_normal((30, 2)), np.ones((30, 1))])
    y = (Phi[:, 0] + 0.5 * rng.standard_normal(30) > 0).astype(float)
    lam = 0.3
    w0 = fit(Phi, y, lam)
    C, H = 0.5 * lam * w0 @ w0, lam * np.eye(3)
    for phi, yk in zip(Phi, y):
        z = phi @ w0
        C += np.log1p(np.exp(z)) - yk * z
        p = 1 / (1 + np.exp(-z))
        H += p * (1 - p) * np.outer(phi, phi)
    E, _ = log_evidence_ratio(w0, Phi, y, lam)
    assert E == pytest.approx(C + 0.5 * np.linalg.slogdet(H / lam)[1] - 30 * np.log(2), rel=1e-12)
