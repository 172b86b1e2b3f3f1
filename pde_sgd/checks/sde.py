"""SDE theorems of THEORY.md sections 1, 3, 4 as measured checks with statistical tolerances.

Each function runs seeded ensembles with :mod:`pde_sgd.sde` and returns a list of :class:`Check`; the
tolerances are a number ``k`` of standard errors (plus known discretisation biases where stated), so a check
that fails means a real disagreement at that confidence, not a flaky threshold.
"""
from __future__ import annotations

import numpy as np

from ..fokker_planck.exact import ou_moments
from ..landscapes import Landscape, quadratic
from ..sde.control import feynman_kac_value, hjb_value, simulate_controlled
from ..sde.elastic_sgd import elastic_sgd
from ..sde.homogenized import homogenized
from ..sde.sgd import simulate_sgd
from . import Check


def ou_moments_check(K, D, beta: float, x0, T: float, dt: float, n_paths: int = 20000, seed: int = 0,
                     k: float = 4.0) -> list[Check]:
    """Euler-Maruyama ensemble of dX = -K X dt + sqrt(2/beta D) dW (K symmetric) vs the exact Gaussian moments.

    Measured: the largest |error| / SE over mean and covariance entries; tolerance ``k`` plus the scheme's
    exact O(dt) bias (from the Euler recursion) in SE units.
    """
    K, D, x0 = np.atleast_2d(K), np.atleast_2d(D), np.atleast_1d(np.asarray(x0, float))
    n = int(round(T / dt))
    x = simulate_sgd(quadratic(K), D, beta, x0, dt=dt, n_steps=n, n_paths=n_paths, seed=seed)["x"][-1]
    m, S = ou_moments(K, D, beta, x0, np.zeros_like(K), n * dt)
    P, me, Se = np.eye(len(x0)) - dt * K, x0.copy(), np.zeros_like(K)
    for _ in range(n):
        me, Se = P @ me, P @ Se @ P.T + dt * 2.0 / beta * D
    se_m = np.sqrt(np.diag(S) / n_paths)
    se_S = np.sqrt((np.outer(np.diag(S), np.diag(S)) + S ** 2) / n_paths)
    zm = np.max((np.abs(x.mean(0) - m) - np.abs(me - m)) / se_m)
    zS = np.max((np.abs(np.cov(x.T).reshape(S.shape) - S) - np.abs(Se - S)) / se_S)
    return [Check("OU mean (|err| - EM bias) / SE", float(zm), k, f"n={n_paths}, dt={dt}"),
            Check("OU covariance (|err| - EM bias) / SE", float(zS), k, f"n={n_paths}, dt={dt}")]


def homogenization_check(landscape: Landscape, x0, gamma: float, beta: float, eps_list, T: float = 1.5,
                         n_replicas: int = 1, n_paths: int = 32, seed: int = 0, order: float = 0.5,
                         allowance: float = 0.15, k: float = 4.0) -> list[Check]:
    """E sup_s |x_eps - X| for Entropy-/Elastic-SGD falls with eps at a log-log slope near ``order`` (1/2).

    Returns (1) the distance of the fitted slope from ``order`` in units of its standard error, after removing a
    one-sided pre-asymptotic ``allowance`` above it (the O(eps) bias beside the O(eps^1/2) fluctuations only
    steepens the slope), tolerance ``k``; (2) the largest increase of the error between successive eps in units
    of the combined SE (must stay below -3: a significant decrease). The slope SE comes from the errors' SEs
    (delta method: var(log e_i) = (se_i / e_i)^2, slope = sum w_i log e_i with least-squares weights w_i).
    """
    eps = np.asarray(sorted(eps_list, reverse=True), float)
    H = homogenized(landscape, beta, x0, gamma=gamma, T=T, n_saves=30)
    err, se = [], []
    for j, e in enumerate(eps):
        r = elastic_sgd(landscape, beta, x0, gamma=gamma, eps=e, T=T, dt=0.01 * e, n_paths=n_paths, seed=seed + j,
                        n_replicas=n_replicas,
                        n_saves=30)
        s = np.abs(r["x"] - H["x"]).max(axis=(0, 2))
        err.append(s.mean()), se.append(s.std(ddof=1) / np.sqrt(s.size))
    err, se = np.array(err), np.array(se)
    lx = np.log(eps) - np.log(eps).mean()
    w = lx / np.sum(lx ** 2)
    slope = float(np.sum(w * np.log(err)))
    slope_se = float(np.sqrt(np.sum(w ** 2 * (se / err) ** 2)))
    dev = slope - order
    z_slope = max(-dev, dev - allowance, 0.0) / slope_se
    z = float(np.max(np.diff(err) / np.hypot(se[1:], se[:-1])))
    return [Check("homogenization |slope - order| (less allowance) / SE", z_slope, k,
                  f"slope {slope:.3f} +- {slope_se:.3f}, errors {err}"),
            Check("error change between eps levels / SE", z, -3.0, f"{n_replicas} replica(s)")]


def control_check(landscape: Landscape, V: Landscape, beta: float, T: float, x0: float, grid, n_paths: int = 20000,
                  n_steps: int = 2000, seed: int = 0, k: float = 4.0, bias: float = 0.01) -> list[Check]:
    """THEORY.md section 1 in 1-D: Feynman-Kac = HJB value, J(alpha*) = u(x0, 0), and the comparison
    inequality E V(x_sgd(T)) - J(alpha*) > 0 (paired); measured in SE units (``bias`` covers Euler's O(dt))."""
    hjb = hjb_value(landscape, V, beta, T=T, grid=grid, n_steps=grid.shape[0])
    run = simulate_controlled(landscape, hjb, V, x0, n_steps=n_steps, n_paths=n_paths, seed=seed)
    u0 = run.params["u0"]
    fk, fk_se = feynman_kac_value(run["V_sgd"], beta)
    J = run["J"]
    se_J = J.std(ddof=1) / np.sqrt(J.size)
    gap = run["V_sgd"] - J
    return [Check("|Feynman-Kac - u(x0,0)| / SE", float(max(abs(fk - u0) - bias, 0.0) / fk_se), k),
            Check("|J(alpha*) - u(x0,0)| / SE", float(max(abs(J.mean() - u0) - bias, 0.0) / se_J), k),
            Check("-(E V_sgd - J(alpha*)) / SE (inequality)", float(-gap.mean() / (gap.std(ddof=1) / np.sqrt(gap.size))),
                  -k)]
