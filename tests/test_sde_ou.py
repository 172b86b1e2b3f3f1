"""Ornstein-Uhlenbeck checks of the Numba kernels: exact moments, strong and weak orders (issue 4)."""
import numpy as np
import pytest
from numba import cfunc

from pde_sgd import landscapes
from pde_sgd.sde import fields, simulate_sgd
from pde_sgd.sde.kernels import SCHEME_TABLE
from pde_sgd.fokker_planck.exact import ou_moments
from sde_helpers import loglog_slope

A = np.array([[2.0, 0.5], [0.5, 1.0]])
D = np.array([[1.0, 0.3], [0.3, 0.5]])
BETA = 2.0
X0 = np.array([1.0, -1.0])


def _em_moments(K, Dm, beta, m0, dt, n):
    """Exact mean/covariance of the Euler-Maruyama recursion (for the O(dt) bias of the scheme)."""
    P = np.eye(len(m0)) - dt * K
    m, S = m0.copy(), np.zeros((len(m0), len(m0)))
    for _ in range(n):
        m, S = P @ m, P @ S @ P.T + dt * 2.0 / beta * Dm
    return m, S


@pytest.mark.parametrize("scheme", ["euler", "milstein"])
def test_ou_exact_mean_and_covariance(scheme):
    n, dt, steps = 20000, 0.004, 250
    r = simulate_sgd(landscapes.quadratic(A), D, BETA, X0, dt=dt, n_steps=steps, n_paths=n, seed=3, scheme=scheme,
                     n_saves=2)
    x = r["x"][-1]
    m, S = ou_moments(A, D, BETA, X0, np.zeros((2, 2)), dt * steps)
    m_em, S_em = _em_moments(A, D, BETA, X0, dt, steps)
    # tolerance = 4 standard errors (Gaussian: SE(mean_i) = sqrt(S_ii/n), SE(cov_ij) = sqrt((S_ii S_jj + S_ij^2)/n))
    # plus the scheme's exact O(dt) bias |EM moments - exact moments| (computed from the EM recursion).
    se_m = np.sqrt(np.diag(S) / n)
    se_S = np.sqrt((np.outer(np.diag(S), np.diag(S)) + S ** 2) / n)
    assert np.all(np.abs(x.mean(0) - m) <= 4 * se_m + np.abs(m_em - m))
    assert np.all(np.abs(np.cov(x.T) - S) <= 4 * se_S + np.abs(S_em - S))
    assert r["times"].tolist() == pytest.approx([0.0, 0.5, 1.0])


# 1-D OU with multiplicative noise: dX = -X dt + sqrt(2/beta D(X)) dW, D = 0.2 + 0.5 x^2 (non-additive,
# commutative: Milstein has strong order 1, Euler-Maruyama 1/2; both weak order 1).
@cfunc(fields.DIFFUSION_SIG, cache=True)
def _mult_D(x, t, out):
    out[0, 0] = 0.2 + 0.5 * x[0] * x[0]


def _runs(scheme, n, dts, dt_ref, T, seed, L=landscapes.quadratic([[1.0]]), x0=1.0):
    out = {}
    for dt in list(dts) + [dt_ref]:
        r = simulate_sgd(L, _mult_D, 2.0, [x0], dt=dt, n_steps=int(round(T / dt)), n_paths=n, seed=seed, scheme=scheme,
                         noise_substeps=int(round(dt / dt_ref)))
        out[dt] = r["x"][-1, :, 0]
    return out


# Pre-asymptotic allowance for the strong slopes, one-sided (steeper only): at dt = 1/8 the error still holds the
# next term of its expansion (Euler: e = a dt^1/2 + b dt, local slope 1/2 + b dt^1/2 / (a + b dt^1/2); Milstein:
# + dt^3/2), which steepens the fitted slope; 0.15 covers e.g. b dt^1/2 up to ~40% of a at dt = 1/8. The
# reference's own error (dt_ref = dt_min / 16) shifts the slope by < 0.05 and is part of it.
STRONG_ALLOWANCE = 0.15


@pytest.mark.parametrize("scheme", sorted(SCHEME_TABLE))
def test_strong_order(scheme):
    order = SCHEME_TABLE[scheme].order  # declared (kernels.SCHEME_TABLE): euler 1/2, milstein 1 (commutative)
    dts, dt_ref = [2.0 ** -k for k in range(3, 7)], 2.0 ** -10
    x = _runs(scheme, 2000, dts, dt_ref, 1.0, seed=11)
    # strong error e = sqrt(mean (X_dt - X_ref)^2) on the same Brownian paths; SE(e) = SE(mean sq) / (2 e)
    sq = [(x[dt] - x[dt_ref]) ** 2 for dt in dts]
    err = np.array([np.sqrt(s.mean()) for s in sq])
    se = np.array([s.std(ddof=1) / np.sqrt(s.size) / (2 * e) for s, e in zip(sq, err)])
    slope, slope_se = loglog_slope(dts, err, se)
    print(f"{scheme}: strong errors {err}, slope {slope:.3f} +- {slope_se:.3f}")
    assert slope_se < 0.05
    # 4 standard errors of the fitted slope around the theoretical order, plus the one-sided allowance above
    assert -4 * slope_se <= slope - order <= 4 * slope_se + STRONG_ALLOWANCE


@pytest.mark.parametrize("scheme", sorted(SCHEME_TABLE))
def test_weak_order(scheme):
    # nonlinear drift (1-D double well) with the same multiplicative noise, phi(x) = x
    dts, dt_ref = [2.0 ** -k for k in range(3, 7)], 2.0 ** -10
    x = _runs(scheme, 8000, dts, dt_ref, 1.0, seed=5, L=landscapes.double_well(1), x0=0.3)
    # weak error of phi against the fine reference on the same Brownian paths (paired differences: SE =
    # std(diff)/sqrt(n)); the reference's own O(dt_ref) bias is 1/16 of the smallest dt's (slope shift < 0.05)
    diffs = [x[dt] - x[dt_ref] for dt in dts]
    err = np.array([abs(dd.mean()) for dd in diffs])
    se = np.array([dd.std(ddof=1) / np.sqrt(dd.size) for dd in diffs])
    assert np.all(err > 4 * se)  # the bias is resolved above the noise
    slope, slope_se = loglog_slope(dts, err, se)
    print(f"{scheme}: weak errors {err}, slope {slope:.3f} +- {slope_se:.3f}")
    # 4 standard errors of the slope around weak order 1, plus 0.1 for the pre-asymptotic dt^2 term (either sign:
    # e = c dt + c2 dt^2 has local slope 1 + c2 dt / (c + c2 dt), |.| <= 0.1 for |c2 / c| <= 0.8 at dt = 1/8)
    assert abs(slope - SCHEME_TABLE[scheme].weak_order) <= 4 * slope_se + 0.1
