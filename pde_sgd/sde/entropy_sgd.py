"""Entropy-SGD as a fast/slow SDE system (THEORY.md section 4): Elastic-SGD with a single replica.

    dx = -gamma^-1 (x - y) ds,   dy = -eps^-1 [grad f(y) + gamma^-1 (y - x)] ds + sqrt(2 beta^-1 / eps) dW.
"""
from __future__ import annotations

from ..landscapes import Landscape
from ..results import Result
from .elastic_sgd import elastic_sgd


def entropy_sgd(landscape: Landscape, beta: float, x0, *, gamma: float, eps: float, dt: float, n_paths: int,
                seed: int, T: float | None = None, n_saves: int | None = None, times=None,
                progress: bool | None = None, threads: int | None = None) -> Result:
    """Ensemble of the Entropy-SGD system; Result of kind ``"sde.entropy_sgd"`` (``times``, ``x``, ``y_mean``).

    See :func:`pde_sgd.sde.elastic_sgd.elastic_sgd` for the parameters, output times (``T`` with ``n_saves``, or
    ``times``), progress bar and threads included (here n_replicas = 1).
    """
    return elastic_sgd(landscape, beta, x0, gamma=gamma, eps=eps, dt=dt, n_paths=n_paths, seed=seed, T=T,
                       n_saves=n_saves, times=times, n_replicas=1, progress=progress, threads=threads)
