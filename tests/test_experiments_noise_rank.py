"""Rank of D at scale (pde_sgd.networks.noise_rank): the Gram route against the dense P x P route, and the measures."""
import numpy as np
import pytest
import torch

from pde_sgd.networks import build_model, covariance_dense, digits, per_sample_grads, torch_threads, train
from pde_sgd.networks.noise_rank import (EPS, noise_eigenvalues, participation_ratio, rank_at, spectrum_measures,
                                         stable_rank)


@pytest.fixture(scope="module")
def small_net():
    with torch_threads(1):
        data = digits(40, seed=1, device="cpu")
        model = build_model("mlp", data, seed=1, hidden=(12,), weight_decay=0.0, device="cpu")
        theta = train(model, data, eta=0.2, batch_size=8, n_steps=30, seed=1)
    return model, theta, data


def test_gram_spectrum_equals_dense_route(small_net):
    """P = 790 > N = 40: the N x N Gram eigenvalues are the nonzero eigenvalues of the dense P x P matrix D."""
    model, theta, data = small_net
    with torch_threads(1):
        lam = noise_eigenvalues(model, theta, data.X, data.y)
        dense = torch.linalg.eigvalsh(covariance_dense(per_sample_grads(model, theta, data.X, data.y))).flip(0).numpy()
    assert lam.shape == (data.n,)
    scale = dense[0]
    np.testing.assert_allclose(lam, dense[:data.n].clip(0), rtol=0, atol=1e-12 * scale)
    assert np.all(np.abs(dense[data.n:]) < 1e-12 * scale)    # the other P - N eigenvalues are 0
    assert rank_at(lam, model.n_params, EPS["float64"]) == data.n - 1    # centring removes one direction
    # float32 per-sample gradients: the same spectrum to float32 round-off (relative to lambda_max)
    with torch_threads(1):
        lam32 = noise_eigenvalues(model, theta.float(), data.X.float(), data.y)
    np.testing.assert_allclose(lam32, lam, rtol=0, atol=1e-5 * scale)


def test_measures_on_known_spectra():
    assert participation_ratio(np.array([2.0, 2.0, 2.0, 0.0])) == pytest.approx(3.0)
    assert participation_ratio(np.array([1.0, 1e-9])) == pytest.approx(1.0, abs=1e-8)
    assert stable_rank(np.array([4.0, 2.0, 2.0])) == pytest.approx(2.0)
    lam = np.array([1.0, 1e-3, 1e-9, 1e-14])
    assert rank_at(lam, 1000, EPS["float32"]) == 2 and rank_at(lam, 1000, EPS["float64"]) == 3
    m = spectrum_measures(lam, 1000, 5)
    assert m["rank_fraction_float64"] == pytest.approx(3 / 1000)
    assert m["rank_bound_fraction"] == pytest.approx(4 / 1000)
    assert m["mean"] == pytest.approx(lam.sum() / 1000)
    assert m["std"] == pytest.approx(np.concatenate([lam, np.zeros(996)]).std())
    with pytest.raises(ValueError, match="eigenvalues"):
        participation_ratio(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="n_params"):
        rank_at(lam, 0, 1e-7)


def test_rank_at_scale_float32_tolerance_cuts_the_rank():
    """P = 132,810 >> N = 24 (the simulation behind the figure, one capture): at the float64 tolerance D has
    full rank N - 1 (rank fraction (N-1)/P, set by N alone); at the float32 tolerance lambda_max P eps_32
    (~1.6% of lambda_max here) fewer directions count; PR and stable rank lie below both."""
    from simulations.noise_rank import rank_point
    r = rank_point(n_samples=24, n_steps=20, fractions=(1.0,), device="cpu")
    m = r.params["measures"][-1]["float64_grads"]
    assert r.params["n_params"] >= 100_000
    assert m["rank_float64"] == 23 and m["rank_fraction_float64"] == pytest.approx(23 / r.params["n_params"])
    assert m["rank_float32"] < 23
    assert m["stable_rank"] <= m["participation_ratio"] <= m["rank_float32"]
    assert r.params["measures"][-1]["float32_grads"]["rank_float32"] == m["rank_float32"]
