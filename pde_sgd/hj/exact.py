"""Closed-form and reference solutions of the viscous and inviscid Hamilton-Jacobi equations.

    viscous    u_t = -1/2 |grad u|^2 + (1 / (2 beta)) Laplace u,   u(x, 0) = f(x)
    inviscid   u_t = -1/2 |grad u|^2                               (the limit beta -> infinity)

Every function takes ``beta=None`` for the inviscid solution where both exist. Points ``x`` have shape
(..., d) for d-dimensional formulas and (...) for the 1-D ones. These references are what the tests check the
grid solvers against; users can check their own runs with them.
"""
from __future__ import annotations

import numpy as np

from ..validation import finite_array, positive, positive_int


def _beta_or_none(beta):
    return None if beta is None else positive("beta", beta)


def quadratic(x, A, t: float, beta: float | None = None) -> np.ndarray:
    """f = x^T A x / 2 (A symmetric, I + tA positive definite):
    u = x^T A (I + tA)^-1 x / 2 + log det(I + tA) / (2 beta)  (the log term is absent for beta=None)."""
    A = np.atleast_2d(finite_array("A", A))
    d = A.shape[0]
    if A.shape != (d, d) or not np.allclose(A, A.T, atol=1e-12 * max(1.0, float(np.abs(A).max()))):
        raise ValueError(f"A must be a symmetric square matrix, got shape {A.shape}")
    t = positive("t", t)
    beta = _beta_or_none(beta)
    x = finite_array("x", x)
    if x.shape[-1:] != (d,):
        raise ValueError(f"x must have last axis of length {d}, got shape {x.shape}")
    I_tA = np.eye(d) + t * A
    sign, logdet = np.linalg.slogdet(I_tA)
    if sign <= 0 or np.linalg.eigvalsh(I_tA).min() <= 0:
        raise ValueError("I + t A must be positive definite (t below 1 / |most negative eigenvalue of A|)")
    M = A @ np.linalg.inv(I_tA)
    u = 0.5 * np.einsum("...i,ij,...j->...", x, 0.5 * (M + M.T), x)
    return u if beta is None else u + logdet / (2.0 * beta)


def abs_value(x, t: float, beta: float | None = None, a: float = 1.0) -> np.ndarray:
    """1-D f = a |x| (a > 0: convex kink; a < 0: concave kink).

    Viscous (s = sqrt(t / beta), N the normal CDF, evaluated through log N so that it stays finite for any
    beta |x|):  u = -a^2 t / 2 - beta^-1 log[ e^(-a beta x) N((x - a t)/s) + e^(a beta x) N((-x - a t)/s) ].
    Inviscid: the Huber function (x^2 / (2t) for |x| < a t, a|x| - a^2 t / 2 otherwise) for a > 0, and
    a|x| - a^2 t / 2 (the kink persists) for a < 0.
    """
    x = finite_array("x", x)
    t = positive("t", t)
    beta = _beta_or_none(beta)
    a = float(finite_array("a", a))
    if beta is None:
        outer = a * np.abs(x) - 0.5 * a * a * t
        return np.where(np.abs(x) < a * t, x * x / (2.0 * t), outer) if a > 0 else outer
    from scipy.special import log_ndtr  # here, not at import: scipy.special costs a solver's first call ~0.15 s

    s = np.sqrt(t / beta)
    log_w = np.logaddexp(-a * beta * x + log_ndtr((x - a * t) / s), a * beta * x + log_ndtr((-x - a * t) / s))
    return -0.5 * a * a * t - log_w / beta


def neg_cosine(x, t: float) -> np.ndarray:
    """Inviscid solution for f = -cos(pi x) (period 2): min_y -cos(pi y) + (x - y)^2 / (2t).

    Smooth for t < 1 / pi^2, a kink at x = +-1 (mod 2) afterwards. Brute force over a fine sampling of
    |y - x| <= pi t (the minimiser satisfies y - x = -pi t sin(pi y)), then Newton steps on the optimality
    condition to machine precision.
    """
    x = finite_array("x", x)
    t = positive("t", t)
    xf = x.reshape(-1, 1)
    offsets = np.linspace(-np.pi * t - 0.01, np.pi * t + 0.01, 2001)
    y = xf + offsets
    y = np.take_along_axis(y, np.argmin(-np.cos(np.pi * y) + offsets ** 2 / (2 * t), axis=1)[:, None], axis=1)
    for _ in range(50):
        g = np.pi * np.sin(np.pi * y) + (y - xf) / t
        y = y - g / (np.pi ** 2 * np.cos(np.pi * y) + 1.0 / t)
    return (-np.cos(np.pi * y) + (xf - y) ** 2 / (2 * t)).reshape(x.shape)


def osher_shu(x, t: float) -> np.ndarray:
    """The Osher-Shu test u_t + (u_x + 1)^2 / 2 = 0, u(x, 0) = -cos(pi x), periodic on [-1, 1].

    Substituting u(x, t) = w(x - t, t) - t / 2 gives w_t + w_x^2 / 2 = 0, w(., 0) = -cos(pi x): our inviscid
    equation in a moving frame, so u = neg_cosine(x - t, t) - t / 2 (smooth before t = 1/pi^2, a kink after).
    """
    t = positive("t", t)
    return neg_cosine(np.asarray(x, dtype=float) - t, t) - 0.5 * t


def hopf_lax_brute(f_values, y, x, t: float, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force Hopf-Lax: min over the sample points ``y`` (m, d) of f(y) + |x - y|^2 / (2t) at ``x`` (n, d).

    O(n m): the reference that the O(N) lower-envelope algorithm is benchmarked against. 1-D inputs of shape
    (m,) and (n,) are accepted. Returns (u (n,), argmin points (n, d) or (n,)).
    """
    fv = finite_array("f_values", f_values).ravel()
    y_arr, x_arr = finite_array("y", y), finite_array("x", x)
    one_d = y_arr.ndim == 1
    y2 = y_arr.reshape(len(fv), -1) if one_d else y_arr
    x2 = x_arr.reshape(-1, y2.shape[1])
    if y2.shape[0] != fv.size:
        raise ValueError(f"y must hold one point per value of f_values ({fv.size}), got shape {y_arr.shape}")
    t = positive("t", t)
    chunk = positive_int("chunk", chunk)
    u = np.empty(x2.shape[0])
    arg = np.empty(x2.shape[0], dtype=np.int64)
    for start in range(0, x2.shape[0], chunk):
        xs = x2[start:start + chunk]
        cost = fv[None, :] + np.sum((xs[:, None, :] - y2[None, :, :]) ** 2, axis=-1) / (2.0 * t)
        arg[start:start + chunk] = np.argmin(cost, axis=1)
        u[start:start + chunk] = cost[np.arange(xs.shape[0]), arg[start:start + chunk]]
    prox = y2[arg]
    return u, (prox[:, 0] if one_d else prox)


def cole_hopf_spectral(f_values, grid, t: float, beta: float) -> np.ndarray:
    """Viscous solution for a smooth periodic f on a fully periodic grid, by FFT.

    u = min f - beta^-1 log( F^-1[ exp(-|k|^2 t / (2 beta)) F[exp(-beta (f - min f))] ] ). Spectrally accurate
    for smooth f, but the FFT works in linear space: its absolute round-off (~1e-16 max w) must stay small
    next to min w, so a ValueError is raised when beta (max f - min f) is so large that it does not (then use
    :func:`pde_sgd.hj.local_entropy`, which is log-space).
    """
    if not all(grid.periodic):
        raise ValueError(f"cole_hopf_spectral needs a periodic grid on every axis, got bc={grid.bc}")
    f = grid.check_field("f_values", f_values)
    t, beta = positive("t", t), positive("beta", beta)
    fmin = float(f.min())
    w0 = np.exp(-beta * (f - fmin))
    ks = np.meshgrid(*[2 * np.pi * np.fft.fftfreq(n, d=h) for n, h in zip(grid.shape, grid.spacing)],
                     indexing="ij")
    k2 = sum(k * k for k in ks)
    w = np.real(np.fft.ifftn(np.fft.fftn(w0) * np.exp(-0.5 * k2 * t / beta)))
    if w.min() <= 1e6 * np.finfo(float).eps * w.max():  # then round-off in u would exceed ~1e-6 / beta
        raise ValueError(f"beta * (max f - min f) = {beta * np.ptp(f):.3g} is too large for the linear-space "
                         "spectral Cole-Hopf solution; use pde_sgd.hj.local_entropy")
    return fmin - np.log(w) / beta
