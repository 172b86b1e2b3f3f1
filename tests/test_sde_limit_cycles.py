"""Limit cycles: spectral peak at the rotation frequency for Q != 0 / anisotropic D, none for isotropic (issue 4)."""
import numpy as np
import pytest

from pde_sgd import landscapes
from pde_sgd.fokker_planck.exact import linear_recipe
from pde_sgd.sde import simulate_sgd
from pde_sgd.sde.spectral import (autocorrelation, ou_spectral_density, peak_frequency, power_spectrum,
                                  rotation_frequency)

BETA, DT = 1.0, 0.01
J = np.array([[0.0, -1.0], [1.0, 0.0]])


def _linear_run(U, D, Q, seed):
    """dX = -(D + Q) U X dt + sqrt(2/beta D) dW: the A-type form with Phi = x^T U x / 2."""
    r = simulate_sgd(landscapes.quadratic(U), D, BETA, [0.0, 0.0], dt=DT, n_steps=40000, n_paths=16, seed=seed,
                     precondition=D + Q,
                     n_saves=40000)
    return r["x"][1000:]  # drop a burn-in of 10 time units (relaxation time 1 / Re lambda <= 2)


def test_spectral_peak_at_rotation_frequency():
    U, D = np.eye(2), np.diag([1.0, 0.2])
    Q = np.pi * J
    F = (D + Q) @ U
    # the recipe of THEORY.md section 3 recovers U and Q from F and D
    rec = linear_recipe(F, D, BETA)
    assert np.allclose(rec["U"], U) and np.allclose(rec["Q"], Q)
    nu_pred = rotation_frequency(F)
    half_width = np.linalg.eigvals(F).real.max() / (2 * np.pi)
    x = _linear_run(U, D, Q, seed=1)
    freqs, P, n_avg = power_spectrum(x[:, :, 0], DT, segment=2048)
    nu_peak = peak_frequency(freqs, P)
    print(f"predicted {nu_pred:.4f}, measured peak {nu_peak:.4f} (resolution {freqs[1]:.4f})")
    # peak position: within the Lorentzian half-width Re(lambda)/2pi plus one frequency bin
    assert abs(nu_peak - nu_pred) <= half_width + freqs[1]
    # the most likely trajectory x' = j(x) = -Q U x rotates at |Im lambda(Q U)| / 2 pi: the same peak
    nu_j = rotation_frequency(Q @ U)
    assert abs(nu_peak - nu_j) <= half_width + freqs[1]
    # its height matches the exact OU spectral density: each Welch bin has relative SE 1/sqrt(n_avg);
    # 4 SE plus 3% for the Euler-Maruyama O(dt) bias and the Hann window's leakage
    exact = ou_spectral_density(F, D, BETA, freqs)[:, 0, 0]
    k = np.argmin(np.abs(freqs - nu_pred))
    assert abs(P[k] / exact[k] - 1) <= 4 / np.sqrt(n_avg) + 0.03
    assert P[k] > 3 * P[1]  # a real peak, well above the low-frequency power
    # the autocorrelation oscillates: below the 99% band near half a period, above it near a full period
    lags, acf, band = autocorrelation(x[:, :, 0], 300)
    half, full = int(round(0.5 / nu_pred / DT)), int(round(1.0 / nu_pred / DT))
    assert acf[half - 10: half + 10].min() < -band and acf[full - 10: full + 10].max() > band


def test_no_peak_for_isotropic_gradient_flow():
    U = np.array([[1.0, 0.3], [0.3, 0.6]])
    x = _linear_run(U, np.eye(2), np.zeros((2, 2)), seed=2)
    freqs, P, n_avg = power_spectrum(x[:, :, 0], DT, segment=2048)
    # F = U is symmetric: real eigenvalues, monotone spectrum; the largest power is in the lowest bins and
    # there is no interior local maximum beyond sampling noise (4 relative SEs) up to 2 Hz (bins 0 and 1 are
    # biased low by the per-segment mean removal, so the check starts at bin 2)
    assert rotation_frequency(U) == 0.0
    assert peak_frequency(freqs, P) <= 2 * freqs[1]
    Pb = P[2:][freqs[2:] < 2.0]
    running_min = np.minimum.accumulate(Pb)
    assert np.all(Pb <= running_min * (1 + 4 / np.sqrt(n_avg)) + 1e-12)
    lags, acf, band99 = autocorrelation(x[:, :, 0], 300)
    assert acf.min() > -band99


def test_spectral_bad_input():
    with pytest.raises(ValueError, match="segment"):
        power_spectrum(np.zeros(10), 0.1, segment=64)
    with pytest.raises(ValueError, match="max_lag"):
        autocorrelation(np.zeros(10), 20)
    with pytest.raises(ValueError, match="dt"):
        power_spectrum(np.zeros(100), 0.0, segment=16)
