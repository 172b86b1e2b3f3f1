"""A toy named sweep: the stationary variance of the SGD SDE on a quadratic against the Gibbs value 1/(beta a).

dX = -a X dt + sqrt(2/beta) dW from X0 = 0 has Var X_T = (1 - exp(-2 a T)) / (beta a) exactly; each point
returns the ensemble variance, that value, and the standard error of the variance estimate. Run it with
``pde-sgd sweep sweep_demo`` (add ``--backend dask`` or ``--scheduler ADDRESS`` for Dask).
"""
from __future__ import annotations

import numpy as np

from pde_sgd import Result, landscapes
from pde_sgd.sde import simulate_sgd
from pde_sgd.sweeps import Sweep, grid


def ou_variance(beta: float, a: float, seed: int, n_paths: int = 400, t_end: float = 4.0) -> Result:
    """Ensemble variance of X_T for dX = -a X dt + sqrt(2/beta) dW, X0 = 0 (Euler, dt = 0.01)."""
    dt = 0.01
    res = simulate_sgd(landscapes.quadratic([[a]]), 1.0, beta, [0.0], dt=dt, n_steps=round(t_end / dt),
                       n_paths=n_paths, seed=seed)
    x = res["x"][-1, :, 0]
    var = float(np.var(x, ddof=1))
    # Euler's exact stationary variance for the discrete AR(1) recursion (the scheme's own target)
    rho = 1.0 - a * dt
    n = round(t_end / dt)
    exact = (2.0 * dt / beta) * (1.0 - rho ** (2 * n)) / (1.0 - rho ** 2)
    return Result("sweep_demo.ou_variance", {"x_end": x},
                  {"beta": beta, "a": a, "seed": seed, "variance": var, "exact": exact,
                   "se": exact * np.sqrt(2.0 / (n_paths - 1))})


def demo(full: bool) -> Sweep:
    betas = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0] if full else [1.0, 4.0]
    return Sweep("sweep_demo", ou_variance, grid(beta=betas, a=[1.0, 3.0], seed=list(range(4 if full else 2))),
                 "toy: OU ensemble variance vs the exact Euler value across beta, curvature and seed")


SWEEPS = {"sweep_demo": demo}
