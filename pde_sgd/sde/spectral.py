"""Spectra and autocorrelations of long trajectories: limit cycles of SGD (THEORY.md section 3, F5).

With a leftover field j != 0 SGD circulates. For the linear SDE dX = -F X dt + sqrt(2 beta^-1 D) dW with
F = (D + Q) U (the A-type form, Q antisymmetric) the eigenvalues of F are a +- i omega and long trajectories
show a spectral peak near omega / (2 pi) = |Im lambda(F)| / (2 pi) and an oscillating autocorrelation; with
isotropic D and Q = 0 (F = U symmetric) the spectrum decays monotonically and the autocorrelation stays positive.

Conventions: one-sided power spectral density per unit time, P(nu) = 2 dt |sum_n w_n x_n e^{-2 pi i nu n dt}|^2 /
sum_n w_n^2 (Hann window w), averaged over non-overlapping segments and over series (Welch); its relative
standard error is about 1 / sqrt(number of periodograms averaged), which is returned.
"""
from __future__ import annotations

import numpy as np

from ..validation import finite_array, positive, positive_int, spd_matrices


def _series(x) -> np.ndarray:
    arr = finite_array("x", x)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim == 0 or arr.shape[0] < 2 or arr[0].size == 0:
        raise ValueError(f"x must hold at least 2 samples of at least one series (shape (n_times, ...)), got "
                         f"shape {arr.shape}")
    return arr.reshape(arr.shape[0], -1)


def power_spectrum(x, dt: float, segment: int = 2048, increments: bool = False) -> tuple[np.ndarray, np.ndarray, int]:
    """Welch power spectrum of series ``x`` (n_times, ...) sampled every ``dt``, averaged over trailing series.

    ``segment``: samples per segment (frequency resolution 1 / (segment dt)); ``increments=True`` analyses
    the increments x_{n+1} - x_n (the "FFT of weight increments" of SGD-VI), per unit time.
    Returns (freqs, power, n_periodograms).
    """
    dt = positive("dt", dt)
    s = _series(x)
    if increments:
        s = np.diff(s, axis=0) / dt
    segment = positive_int("segment", segment, minimum=8)
    n_seg = s.shape[0] // segment
    if n_seg < 1:
        raise ValueError(f"segment={segment} is longer than the series ({s.shape[0]} samples)")
    w = np.hanning(segment)
    blocks = s[: n_seg * segment].reshape(n_seg, segment, -1)
    blocks = blocks - blocks.mean(axis=1, keepdims=True)
    F = np.fft.rfft(blocks * w[None, :, None], axis=1)
    P = 2.0 * dt * np.abs(F) ** 2 / np.sum(w ** 2)
    return np.fft.rfftfreq(segment, dt), P.mean(axis=(0, 2)), n_seg * s.shape[1]


def autocorrelation(x, max_lag: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Sample autocorrelation of ``x`` (n_times, ...) at lags 0..max_lag, averaged over trailing series.

    Returns (lags, acf, band) with the 99% band +- 2.576 / sqrt(n_times) of a white-noise null (Bartlett).
    """
    s = _series(x)
    n = s.shape[0]
    max_lag = positive_int("max_lag", max_lag, minimum=1)
    if max_lag >= n:
        raise ValueError(f"max_lag must be < the series length {n}, got {max_lag}")
    s = s - s.mean(axis=0)
    nfft = 1 << int(np.ceil(np.log2(2 * n)))
    F = np.fft.rfft(s, nfft, axis=0)
    c = np.fft.irfft(np.abs(F) ** 2, nfft, axis=0)[: max_lag + 1]
    if np.any(c[0] <= 0):
        raise ValueError(f"x has a constant series (column {int(np.argmax(c[0] <= 0))}): its autocorrelation is "
                         f"undefined (zero variance)")
    acf = (c / c[0]).mean(axis=1)
    return np.arange(max_lag + 1), acf, 2.576 / np.sqrt(n)


def peak_frequency(freqs: np.ndarray, power: np.ndarray) -> float:
    """Frequency of the largest power, excluding nu = 0."""
    freqs, power = finite_array("freqs", freqs, ndim=1), finite_array("power", power, ndim=1)
    if freqs.size < 2 or power.shape != freqs.shape:
        raise ValueError(f"freqs and power must be 1-D of the same length >= 2, got {freqs.shape}, {power.shape}")
    return float(freqs[1:][np.argmax(power[1:])])


def rotation_frequency(F) -> float:
    """max |Im lambda(F)| / (2 pi): the circulation frequency of the linear drift -F x."""
    F = np.atleast_2d(finite_array("F", F))
    return float(np.max(np.abs(np.linalg.eigvals(F).imag)) / (2.0 * np.pi))


def ou_spectral_density(F, D, beta: float, freqs) -> np.ndarray:
    """Exact one-sided spectral density matrices (len(freqs), d, d) of the stationary OU process with drift -F x.

    S(nu) = 2 Re[R (2 beta^-1 D) R^H], R = (F + 2 pi i nu I)^-1 (the convention of :func:`power_spectrum`).
    """
    F = np.atleast_2d(finite_array("F", F))
    d = F.shape[0]
    B = 2.0 / positive("beta", beta) * spd_matrices("D", np.atleast_2d(D), d)
    nu = np.asarray(freqs, dtype=float)
    R = np.linalg.inv(F[None] + 2j * np.pi * nu[:, None, None] * np.eye(d)[None])
    return 2.0 * np.einsum("nij,jk,nlk->nil", R, B, R.conj()).real
