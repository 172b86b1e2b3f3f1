"""SDE ensemble vs a stationary density (pde_sgd.sde.stationary): autocorrelation times against AR(1)'s exact
value, burn-in against the exact OU transient, OU vs its exact Gaussian (and a 20% wrong one), and a double
well too slow to mix reported as not mixed."""
import numpy as np
import pytest
from scipy.linalg import solve_discrete_lyapunov
from scipy.signal import lfilter

from pde_sgd import Grid, landscapes
from pde_sgd.fokker_planck.exact import gaussian_density, lyapunov_covariance, ou_moments
from pde_sgd.sde import (compare_stationary, effective_sample_size, histogram_distance,
                         integrated_autocorrelation_time, simulate_sgd, split_rhat)


def ar1(phi, n_times, n_chains, seed):
    """Stationary AR(1) chains x_t = phi x_{t-1} + e_t, e ~ N(0, 1), x_0 ~ N(0, 1 / (1 - phi^2))."""
    e = np.random.default_rng(seed).standard_normal((n_times, n_chains))
    e[0] /= np.sqrt(1 - phi ** 2)
    return lfilter([1.0], [1.0, -phi], e, axis=0)


def sokal_sd(tau, window, n):
    """Sokal's standard deviation of the windowed estimate: var(tau_hat) = 2 (2M + 1) / N tau^2."""
    return np.sqrt(2 * (2 * window + 1) / n) * tau


@pytest.mark.parametrize("phi", [0.5, 0.9])
def test_ar1_integrated_autocorrelation_time(phi):
    x = ar1(phi, 20000, 16, seed=int(10 * phi))
    exact = (1 + phi) / (1 - phi)  # 1 + 2 sum_t phi^t
    tau, window, found = integrated_autocorrelation_time(x)
    sd = sokal_sd(exact, window, x.size)
    print(f"AR(1) phi={phi}: tau {tau:.4f} vs exact {exact:.4f} ({(tau - exact) / sd:+.2f} SD), window {window}")
    assert found and window >= 5 * tau - 1
    assert abs(tau - exact) <= 4 * sd
    assert effective_sample_size(x) == pytest.approx(x.size / tau, rel=1e-12)


def test_iid_samples_have_ess_n_and_rhat_one():
    x = np.random.default_rng(1).standard_normal((20000, 16))
    tau, window, _ = integrated_autocorrelation_time(x)
    ess = effective_sample_size(x)
    print(f"iid: ESS / n = {ess / x.size:.4f}, window {window}, split-R-hat {split_rhat(x):.5f}")
    assert abs(ess / x.size - 1) <= 4 * sokal_sd(1.0, window, x.size)
    # stationary iid halves: R-hat^2 - 1 is ~ (F - 1) / n with F ~ F(31, 310000); 1e-3 is many SDs away
    assert abs(split_rhat(x) - 1) < 1e-3
    shifted = x + np.arange(16)  # each chain its own mean: R-hat far above 1
    assert split_rhat(shifted) > 2


def test_histogram_distance_counts_samples_outside_the_box():
    # half of the samples outside the box: each in-box bin holds h/2 < p, so L1 = sum (p - h/2) + 1/2 = 1
    grid = Grid([-1.0, -1.0], [1.0, 1.0], [6, 6])
    rho = np.full(grid.shape, 0.25)
    x = np.random.default_rng(0).uniform(-1, 1, (4000, 2))
    inside = histogram_distance(x, grid, rho, bin_cells=3)
    half_out = histogram_distance(np.concatenate([x, x + 5.0]), grid, rho, bin_cells=3)
    assert inside["l1"] <= inside["quantile"] and inside["outside"] == 0
    assert half_out["l1"] == pytest.approx(1.0, abs=1e-12) and half_out["outside"] == 0.5


K = np.array([[1.0, 0.3], [0.3, 2.0]])
D = np.array([[1.0, 0.2], [0.2, 0.5]])
BETA, X0, DT, SAVE = 2.0, np.array([4.0, -4.0]), 0.005, 20


@pytest.fixture(scope="module")
def ou():
    """1000 OU paths dX = -K X dt + sqrt(2/beta D) dW from x0 = (4, -4) (~11 stationary SDs away) to T = 80."""
    run = simulate_sgd(landscapes.quadratic(K), D, BETA, X0, dt=DT, n_steps=16000, n_paths=1000, seed=0,
                       n_saves=16000 // SAVE)
    S = lyapunov_covariance(K, D, BETA)
    sd = np.sqrt(np.diag(S))
    grid = Grid(-6 * sd, 6 * sd, [60, 60])
    return run, grid, S


def test_burn_in_covers_the_exact_transient(ou):
    run, grid, S = ou
    res = compare_stationary(run, grid, gaussian_density(grid, [0, 0], S))
    p = res.params
    t = run["times"]
    sd = np.sqrt(np.diag(S))
    means = np.array([ou_moments(K, D, BETA, X0, np.zeros((2, 2)), s)[0] for s in t])
    t_settled = t[np.argmax(np.all(np.abs(means) <= 0.1 * sd, axis=1))]  # exact mean within 0.1 SD from here on
    kept_bias = np.abs(means[p["burn_in"]:].mean(axis=0))  # exact bias of the kept time average
    se = p["moments"]["sample"]["mean_se"]
    print(f"burn-in {p['burn_in_time']:.2f} (mean within 0.1 SD from t = {t_settled:.2f}; run T = {t[-1]:.0f}); "
          f"kept-window bias / SE = {kept_bias / se}")
    assert p["burn_in_detected"] and p["stationary"]
    assert t_settled <= p["burn_in_time"] <= t[-1] / 2
    assert np.all(kept_bias <= 0.5 * se)


def test_ou_ensemble_matches_exact_density_and_not_a_wrong_one(ou):
    run, grid, S = ou
    good = compare_stationary(run, grid, gaussian_density(grid, [0, 0], S)).params
    wrong = compare_stationary(run, grid, gaussian_density(grid, [0, 0], 1.2 * S)).params
    unburnt = compare_stationary(run, grid, gaussian_density(grid, [0, 0], S), burn_in=0).params
    for name, p in (("exact", good), ("variance x1.2", wrong), ("no burn-in", unburnt)):
        print(f"{name}: {p['message']}")
    # exact tau of each coordinate of the Euler-Maruyama chain saved every SAVE steps: X_{n+1} = A X_n + noise,
    # A = I - K dt, stationary covariance S_d (discrete Lyapunov), lag-l covariance E^l S_d with E = A^SAVE, so
    # tau_i = 1 + 2 [(I - E)^-1 E S_d]_ii / (S_d)_ii
    A = np.eye(2) - K * DT
    S_d = solve_discrete_lyapunov(A, 2 / BETA * D * DT)
    E = np.linalg.matrix_power(A, SAVE)
    tau_exact = 1 + 2 * np.diag(np.linalg.solve(np.eye(2) - E, E @ S_d)) / np.diag(S_d)
    sd = sokal_sd(tau_exact, np.array(good["windows"]), good["n_kept"] * good["n_paths"])
    print(f"tau {good['tau_max']:.3f} vs exact {tau_exact.max():.3f} (Sokal SD {sd.max():.3f})")
    assert good["mixed"] and abs(good["tau_max"] - tau_exact.max()) <= 4 * sd[np.argmax(tau_exact)]
    assert good["passed"] and good["max_z"] <= 4 and good["l1"] <= good["l1_quantile"]
    assert not wrong["passed"] and wrong["max_z"] > 4 and wrong["l1"] > wrong["l1_quantile"]
    assert wrong["message"].startswith("fail")
    assert not unburnt["passed"] and unburnt["max_z"] > 4  # the transient biases the mean


def test_slowly_mixing_double_well_is_reported_not_mixed():
    # beta = 40: barrier beta * 1/4 = 10, Kramers crossing time ~ 1e5 >> T = 100; paths from the saddle
    # split between the wells and stay
    L = landscapes.double_well(1)
    grid = Grid(-3.0, 3.0, 300)

    def gibbs(beta):
        f = L.on_grid(grid)
        return np.exp(-beta * (f - f.min()))

    slow = compare_stationary(simulate_sgd(L, 1.0, 40.0, [0.0], dt=0.01, n_steps=10000, n_paths=500, seed=1,
                                           n_saves=1000),
                              grid, gibbs(40.0)).params
    print(f"beta=40: {slow['message']}  [moments max |z| {slow['max_z']:.2f}, L1 {slow['l1']:.4f}]")
    assert not slow["mixed"] and not slow["passed"]
    assert slow["message"].startswith("not mixed") and slow["rhat"] > 1.1 and not slow["window_found"]
    # beta = 2: crossings every few time units; T = 400 mixes and passes against Gibbs
    fast = compare_stationary(simulate_sgd(L, 1.0, 2.0, [0.0], dt=0.01, n_steps=40000, n_paths=200, seed=1,
                                           n_saves=4000),
                              grid, gibbs(2.0)).params
    print(f"beta=2: {fast['message']}")
    assert fast["mixed"] and fast["passed"]


def test_bad_input_raises_naming_the_parameter(ou):
    run, grid, S = ou
    rho = gaussian_density(grid, [0, 0], S)
    x = run["x"]
    bad = x.copy()
    bad[3, 2, 0] = np.nan
    with pytest.raises(ValueError, match="samples"):
        compare_stationary(bad, grid, rho)
    with pytest.raises(ValueError, match="samples"):
        compare_stationary(x[..., :1], grid, rho)
    with pytest.raises(ValueError, match="samples"):
        compare_stationary(x[:20], grid, rho)
    with pytest.raises(ValueError, match="density"):
        compare_stationary(x, grid, -rho)
    with pytest.raises(ValueError, match="density"):
        compare_stationary(x, grid, rho[:-1])
    with pytest.raises(ValueError, match="burn_in"):
        compare_stationary(x, grid, rho, burn_in=x.shape[0])
    with pytest.raises(ValueError, match="times"):
        compare_stationary(x, grid, rho, times=np.r_[0.0, np.cumsum(np.arange(1, x.shape[0]))])
    with pytest.raises(ValueError, match="k must"):
        compare_stationary(x, grid, rho, k=0)
    with pytest.raises(ValueError, match="max_rhat"):
        compare_stationary(x, grid, rho, max_rhat=0.5)
    with pytest.raises(ValueError, match="alpha"):
        histogram_distance(x[0], grid, rho, alpha=1.5)
    with pytest.raises(ValueError, match="bin_cells"):
        histogram_distance(x[0], grid, rho, bin_cells=(2, 2, 2))
    with pytest.raises(ValueError, match="x must"):
        integrated_autocorrelation_time(np.ones((1, 3)))
    with pytest.raises(TypeError, match="grid"):
        compare_stationary(x, "grid", rho)
