"""Worked non-equilibrium examples used by the figures and tests (numpy callables of points (n, d)).

* :func:`rotational_current` - THEORY.md section 6, F4 (SGD-VI fig. 4): Phi = (x1^2 - 1)^2/4 + x2^2/2, a
  divergence-free steady current J_ss = exp(-(x1^2 + x2^2)^2 / 4) (-x2, x1), j = lambda exp(Phi) J_ss and the
  drift grad f = grad Phi - j. With D = I and beta = 1 the steady state is exp(-Phi) for every lambda, while
  the critical points of f move and, for large lambda, the flow x' = -grad f circles around the saddle.
* :func:`rotating_diffusion` - an anisotropic, space-dependent D(x) = R(theta(x)) diag(1, eps) R(theta(x))^T
  whose principal axis turns with position: the steady state then differs from exp(-beta f).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import root

from ..validation import finite_array, positive


def rotational_current(lam: float) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """The F4 example for current strength ``lam``: callables ``phi``, ``grad_phi``, ``j``, ``grad_f``."""
    lam = float(finite_array("lam", lam))

    def phi(x):
        return (x[:, 0] ** 2 - 1.0) ** 2 / 4.0 + x[:, 1] ** 2 / 2.0

    def grad_phi(x):
        return np.stack([x[:, 0] * (x[:, 0] ** 2 - 1.0), x[:, 1]], axis=1)

    def j(x):
        r2 = x[:, 0] ** 2 + x[:, 1] ** 2
        amp = lam * np.exp(phi(x) - r2**2 / 4.0)
        return amp[:, None] * np.stack([-x[:, 1], x[:, 0]], axis=1)

    def grad_f(x):
        return grad_phi(x) - j(x)

    return {"phi": phi, "grad_phi": grad_phi, "j": j, "grad_f": grad_f}


def critical_points(grad: Callable[[np.ndarray], np.ndarray], lower, upper, n_seeds: int = 15,
                    tol: float = 1e-6) -> np.ndarray:
    """Zeros of a 2-D vector field ``grad`` in the box [lower, upper], found by root finding from a seed grid."""
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    axes = [np.linspace(lo, hi, n_seeds) for lo, hi in zip(lower, upper)]
    seeds = np.stack([a.ravel() for a in np.meshgrid(*axes, indexing="ij")], axis=1)
    found: list[np.ndarray] = []
    for s in seeds:
        sol = root(lambda p: grad(p[None, :])[0], s, tol=1e-12)
        p = sol.x
        if sol.success and np.all(p >= lower) and np.all(p <= upper) and \
                np.linalg.norm(grad(p[None, :])[0]) < tol and all(np.linalg.norm(p - q) > 1e-4 for q in found):
            found.append(p)
    return np.array(found).reshape(-1, lower.size)


def rotating_diffusion(eps: float = 0.1, turn: float = 0.8) -> Callable[[np.ndarray], np.ndarray]:
    """D(x) = R(theta) diag(1, eps) R(theta)^T with theta = pi/4 + turn * x1 (2-D, symmetric PD for eps > 0)."""
    eps = positive("eps", eps)
    turn = float(finite_array("turn", turn))

    def D(x):
        th = np.pi / 4 + turn * x[:, 0]
        c, s = np.cos(th), np.sin(th)
        out = np.empty((x.shape[0], 2, 2))
        out[:, 0, 0] = c * c + eps * s * s
        out[:, 1, 1] = s * s + eps * c * c
        out[:, 0, 1] = out[:, 1, 0] = (1.0 - eps) * c * s
        return out

    return D


def local_extrema(values: np.ndarray, kind: str = "max") -> np.ndarray:
    """Indices (n, ndim) of strict local maxima (``kind='max'``) or minima of a 2-D field (interior cells)."""
    v = values if kind == "max" else -values
    core = v[1:-1, 1:-1]
    is_ext = np.ones_like(core, bool)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di or dj:
                is_ext &= core > v[1 + di:v.shape[0] - 1 + di, 1 + dj:v.shape[1] - 1 + dj]
    return np.argwhere(is_ext) + 1
