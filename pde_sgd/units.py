"""Conversions between the SGD hyper-parameters and the temperature of the continuous-time models.

Convention (THEORY.md): the SGD SDE is dX = -grad f dt + sqrt(2 beta^-1 D) dW, whose stationary density is
proportional to exp(-beta f) for D = I; with learning rate eta and batch size b, beta^-1 = eta / (2 b).
"""
from __future__ import annotations

from .validation import positive


def beta_from_sgd(eta: float, batch_size: float) -> float:
    """Inverse temperature of SGD with learning rate ``eta`` and batch size ``batch_size``: beta = 2 b / eta."""
    return 2.0 * positive("batch_size", batch_size) / positive("eta", eta)


def temperature_from_sgd(eta: float, batch_size: float) -> float:
    """Temperature beta^-1 = eta / (2 b)."""
    return 1.0 / beta_from_sgd(eta, batch_size)


def noise_scale(eta: float, n_samples: int, batch_size: int, momentum: float = 0.0) -> float:
    """Smith & Le noise scale g = eta (N/B - 1) / (1 - m), the exact form of eta N / (B (1 - m))."""
    eta = positive("eta", eta)
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    if not 1 <= batch_size <= n_samples:
        raise ValueError(f"batch_size must be in [1, n_samples={n_samples}], got {batch_size!r}")
    return eta * (n_samples / batch_size - 1.0) / (1.0 - momentum)
