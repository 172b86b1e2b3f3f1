"""Helpers shared by the tests/test_sde_*.py files (statistics only; no solver code)."""
from __future__ import annotations

import numpy as np


def loglog_slope(h, err, err_se=None) -> tuple[float, float]:
    """Least-squares slope of log(err) against log(h), and its standard error from the errors' SEs.

    With y_i = log err_i, var(y_i) ~ (se_i / err_i)^2 (delta method); the slope is sum w_i y_i with
    w_i = (x_i - xbar) / sum (x_j - xbar)^2, so var(slope) = sum w_i^2 var(y_i).
    """
    x, y = np.log(np.asarray(h, float)), np.log(np.asarray(err, float))
    xc = x - x.mean()
    w = xc / np.sum(xc ** 2)
    slope = float(np.sum(w * y))
    if err_se is None:
        return slope, 0.0
    vy = (np.asarray(err_se, float) / np.asarray(err, float)) ** 2
    return slope, float(np.sqrt(np.sum(w ** 2 * vy)))
