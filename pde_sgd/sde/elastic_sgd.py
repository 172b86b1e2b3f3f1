"""Elastic-SGD and Entropy-SGD as fast/slow SDE systems with time-scale separation eps (THEORY.md section 4).

    dx    = -gamma^-1 (x - (1/n) sum_k y^k) ds
    dy^k  = -eps^-1 [grad f(y^k) + gamma^-1 (y^k - x)] ds + sqrt(2 beta^-1 / eps) dW^k,   k = 1..n

(Entropy-SGD is n = 1.) The fast variables see the invariant measure rho_inf(y; x) ∝ exp(-beta f(y) -
beta |x-y|^2 / (2 gamma)); as eps -> 0 the reference x follows the homogenized ODE of :mod:`.homogenized`.
Euler-Maruyama with step ``dt`` (in slow time s); the explicit limit dt (rho(Hess f(x0)) + 1/gamma) / eps < 2 is
checked at x0 and paths that become non-finite raise.
"""
from __future__ import annotations

import numpy as np

from ..driver import drive
from ..jitfuncs import jit_call
from ..landscapes import Landscape, as_landscape
from ..results import Result
from ..validation import finite_array, positive, positive_int
from .common import check_explicit_stability, distinct_starts, equal_saves, initial_states, round_to_saves
from .kernels import elastic_kernel, raise_on_failure
from .rng import path_keys


def elastic_sgd(landscape: Landscape, beta: float, x0, *, gamma: float, eps: float, dt: float, n_paths: int,
                seed: int, T: float | None = None, n_saves: int | None = None, times=None,
                n_replicas: int = 8) -> Result:
    """Ensemble of Elastic-SGD with ``n_replicas`` replicas coupled to the reference x (all started at x0).

    Output times: ``T`` with ``n_saves`` (default 100) equally spaced saves, or ``times`` (starting at 0,
    equally spaced; :func:`pde_sgd.sde.common.equal_saves`). ``dt`` is rounded down so that n_saves divides the
    step count T / dt. Returns a Result of kind
    ``"sde.elastic_sgd"`` with ``times`` (n_saves + 1,), ``x`` and ``y_mean`` (n_saves + 1, n_paths, dim).
    """
    landscape = as_landscape(landscape)
    gamma, beta, eps = positive("gamma", gamma), positive("beta", beta), positive("eps", eps)
    T, n_saves = equal_saves(times, T, n_saves)
    n_replicas = positive_int("n_replicas", n_replicas)
    dt = positive("dt", dt)
    x = initial_states(x0, n_paths, landscape.dim)
    dt, per_save = round_to_saves(T, n_saves, dt)
    check_explicit_stability(landscape, np.eye(landscape.dim), distinct_starts(x), dt, 1.0 / gamma, eps)
    n_steps = n_saves * per_save
    with drive(n_steps, progress=False, desc="Elastic-SGD") as run:  # one kernel call: the driver's stats
        xs, ys, status, fail = jit_call(elastic_kernel, x, path_keys(seed, n_paths), landscape.jit, beta,
                                        gamma, eps, dt, n_steps, per_save, n_replicas)
        raise_on_failure(status, fail, dt)
        run.advance(n_steps, n_steps * n_replicas)
    kind = "sde.entropy_sgd" if n_replicas == 1 else "sde.elastic_sgd"
    return Result(kind, {"times": np.linspace(0.0, T, n_saves + 1), "x": xs, "y_mean": ys},
                  {"landscape": landscape, "gamma": gamma, "beta": beta, "eps": eps, "T": T, "dt": dt,
                   "n_paths": n_paths, "seed": seed, "n_replicas": n_replicas}, run.stats)
