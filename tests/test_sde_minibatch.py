"""Mini-batch noise on a synthetic finite sum: D/b, finite-population correction, noise scale (issue 4)."""
import numpy as np
import pytest

from pde_sgd import noise_scale
from pde_sgd.fokker_planck.exact import lyapunov_covariance
from pde_sgd.sde import simulate_sgd
from pde_sgd.sde.finite_sum import QuadraticFiniteSum
from pde_sgd.sde.sgd import batch_gradients, minibatch_sgd

PROBLEM = QuadraticFiniteSum.random(50, 2, seed=0, spread=[[1.0, 0.6], [0.6, 0.8]],
                                    A=[[1.0, 0.2], [0.2, 0.5]])


def _cov_and_se(g):
    """Sample covariance and its standard error from the empirical fourth moments (distribution-free):
    SE(C_ij) = std((g_i - m_i)(g_j - m_j)) / sqrt(n)."""
    c = g - g.mean(0)
    prod = c[:, :, None] * c[:, None, :]
    return prod.mean(0) * len(g) / (len(g) - 1), prod.std(0, ddof=1) / np.sqrt(len(g))


@pytest.mark.parametrize("replace", [True, False])
def test_batch_gradient_covariance(replace):
    b, x = 10, np.array([0.7, -0.4])
    g = batch_gradients(PROBLEM, x, b, 100_000, seed=1, replace=replace)
    C, se = _cov_and_se(g)
    # the mean is the full gradient; SE = std / sqrt(n)
    full = PROBLEM.sample_gradients(x).mean(0)
    assert np.all(np.abs(g.mean(0) - full) <= 4 * g.std(0) / np.sqrt(len(g)))
    expected = PROBLEM.batch_covariance(b, replace)
    assert np.all(np.abs(C - expected) <= 4 * se)
    # and it is not the other formula: (N - b)/(N - 1) = 0.82 is resolved by the test
    other = PROBLEM.batch_covariance(b, not replace)
    assert np.any(np.abs(C - other) > 4 * se)
    # D itself is the per-sample gradient covariance at x (independent of x for this loss)
    ps = PROBLEM.sample_gradients(x)
    assert np.allclose(np.cov(ps.T, bias=True), PROBLEM.diffusion())


def test_equal_noise_scale_gives_equal_stationary_covariance():
    N = PROBLEM.n_samples
    pairs = [(0.02, 5), (0.045, 10), (0.02, 25)]  # g = eta (N/b - 1): 0.18, 0.18, 0.02
    g = [noise_scale(eta, N, b) for eta, b in pairs]
    assert g[0] == pytest.approx(g[1]) and g[2] < g[0] / 5
    covs, ses, exact = [], [], []
    for k, (eta, b) in enumerate(pairs):
        r = minibatch_sgd(PROBLEM, eta, b, PROBLEM.mean, n_steps=int(30 / eta), n_chains=4000, seed=10 + k,
                          replace=False)
        C, se = _cov_and_se(r["x"][-1])
        covs.append(C), ses.append(se)
        exact.append(PROBLEM.sgd_stationary_covariance(eta, b, replace=False))
        # each matches its exact discrete Lyapunov prediction within 4 SE (30 / eta steps: e^-15 transient)
        assert np.all(np.abs(C - exact[-1]) <= 4 * se)
    # same noise scale: predictions differ only at O(eta) (here < 4%), and the measured covariances agree
    # within the combined SEs plus that predicted difference
    assert np.max(np.abs(exact[0] - exact[1]) / np.abs(exact[0]).max()) < 0.04
    assert np.all(np.abs(covs[0] - covs[1]) <= 4 * np.hypot(ses[0], ses[1]) + np.abs(exact[0] - exact[1]))
    # a smaller noise scale gives a clearly smaller covariance
    assert np.all(np.diag(covs[0] - covs[2]) > 10 * np.hypot(np.diag(ses[0]), np.diag(ses[2])))


def test_sde_matches_sgd_stationary_covariance():
    # SGD with replacement, eta = 0.02, b = 5 vs its SDE dx = -grad f dt + sqrt(2 beta^-1 D) dW, beta = 2b/eta
    eta, b = 0.02, 5
    D = PROBLEM.diffusion()
    sde = simulate_sgd(PROBLEM.landscape(), D, None, PROBLEM.mean, dt=0.02, n_steps=1500, n_paths=4000, seed=3,
                       eta=eta, batch_size=b)
    C_sde, se_sde = _cov_and_se(sde["x"][-1])
    lyap = lyapunov_covariance(PROBLEM.A, D, sde.params["beta"])
    sgd_exact = PROBLEM.sgd_stationary_covariance(eta, b, replace=True)
    # the SDE's stationary covariance is the Lyapunov one within 4 SE + its own Euler O(dt) bias, and the
    # discrete SGD one agrees with it up to O(eta) (the relative gap is below eta * lambda_max(A))
    # Euler-Maruyama with step dt is a linear recursion with P = I - dt A and noise (eta/b) D dt per step: its
    # exact stationary covariance is that of SGD with learning rate dt and batch noise D, rescaled by eta/(b dt)
    dt = 0.02
    em_exact = PROBLEM.sgd_stationary_covariance(dt, 1, replace=True) * eta / (b * dt)
    assert np.all(np.abs(C_sde - lyap) <= 4 * se_sde + np.abs(em_exact - lyap))
    assert np.max(np.abs(sgd_exact - lyap) / np.abs(lyap).max()) < eta * np.linalg.eigvalsh(PROBLEM.A).max()


def test_minibatch_bad_input():
    with pytest.raises(ValueError, match="batch_size"):
        minibatch_sgd(PROBLEM, 0.1, 51, [0, 0], n_steps=10, n_chains=2, seed=0, replace=False)
    with pytest.raises(ValueError, match="eta"):
        minibatch_sgd(PROBLEM, 5.0, 5, [0, 0], n_steps=10, n_chains=2, seed=0)
    with pytest.raises(ValueError, match="anchors"):
        QuadraticFiniteSum(np.zeros((1, 2)))
