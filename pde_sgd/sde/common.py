"""Argument checks shared by the SDE entry points."""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..units import beta_from_sgd
from ..validation import finite_array, memory_limit, positive, positive_int


def resolve_beta(beta: float | None, eta: float | None, batch_size: float | None) -> float:
    """beta given directly, or from SGD's (eta, batch_size) through :func:`pde_sgd.units.beta_from_sgd`."""
    if beta is not None:
        if eta is not None or batch_size is not None:
            raise ValueError("give either beta or (eta, batch_size), not both")
        return positive("beta", beta)
    if eta is None or batch_size is None:
        raise ValueError("beta is required (or eta and batch_size, giving beta = 2 batch_size / eta)")
    return beta_from_sgd(eta, batch_size)


def initial_states(x0, n_paths: int, dim: int | None = None) -> np.ndarray:
    """x0 of shape (dim,) broadcast to (n_paths, dim), or (n_paths, dim) as is; finite, C-contiguous."""
    n_paths = positive_int("n_paths", n_paths)
    arr = finite_array("x0", x0)
    if arr.ndim == 0:
        arr = arr[None]
    if arr.ndim == 1:
        arr = np.broadcast_to(arr, (n_paths, arr.shape[0]))
    if arr.ndim != 2 or arr.shape[0] != n_paths:
        raise ValueError(f"x0 must have shape (dim,) or (n_paths={n_paths}, dim), got {np.shape(x0)}")
    if dim is not None and arr.shape[1] != dim:
        raise ValueError(f"x0 must have dim={dim} columns, got shape {arr.shape}")
    return np.array(arr, dtype=np.float64, order="C")  # a writable copy: one kernel signature


def distinct_starts(x: np.ndarray) -> np.ndarray:
    """The distinct rows of the initial states ``x`` (n_paths, dim): ``x[:1]`` when every path starts at the
    same point (the common case, without sorting the ensemble), else ``np.unique`` of the rows."""
    return x[:1] if bool(np.all(x == x[0])) else np.unique(x, axis=0)


def sde_schedule(dt: float, n_steps: int | None, n_saves: int | None, times=None,
                 T: float | None = None, *, bytes_per_save: float = 8.0) -> tuple[float, int, int]:
    """(dt, n_steps, steps between saves) from the step ``dt`` and either ``n_steps`` (with ``n_saves``, default
    1) or the output times (``times``, or ``T`` with ``n_saves``; :func:`pde_sgd.driver.output_times`), which
    must start at 0 and be equally spaced on the step grid k dt (ValueError naming the parameter otherwise;
    MemoryError naming n_saves when its saves of ``bytes_per_save`` bytes would not fit in memory)."""
    from ..driver import output_times

    if times is None and T is None:
        if n_steps is None:
            raise ValueError("say how long to run: n_steps=... (with n_saves=...), or the output times as "
                             "times=[0, ...] or T=... with n_saves=...")
        return step_counts(dt, n_steps, 1 if n_saves is None else n_saves)
    if n_steps is not None:
        raise ValueError(f"give n_steps or the output times (times / T), not both (got n_steps={n_steps!r})")
    dt = positive("dt", dt)
    t = output_times(times, T, n_saves, bytes_per_save=bytes_per_save)
    k = np.rint(t / dt)
    if not np.allclose(t / dt, k, rtol=1e-9, atol=1e-9):
        raise ValueError(f"times must lie on the step grid k * dt (dt = {dt:g}); got {t}")
    gaps = np.diff(k)
    if t.size < 2 or k[0] != 0 or gaps[0] < 1 or np.any(gaps != gaps[0]):
        raise ValueError(f"times must start at 0 and be equally spaced by a whole number (>= 1) of steps dt = {dt:g} "
                         f"(the SDE saves every few steps); got {t}")
    return dt, int(k[-1]), int(gaps[0])


def equal_saves(times, T: float | None, n_saves: int | None, default_saves: int = 100) -> tuple[float, int]:
    """(T, n_saves) from the output times ``times`` (starting at 0, equally spaced) or ``T`` with ``n_saves``
    (default ``default_saves``), for the solvers that round dt so that equally spaced saves fall on the step
    grid (:func:`pde_sgd.driver.output_times`; ValueError naming the parameter otherwise)."""
    from ..driver import output_times

    if times is None and T is not None and n_saves is None:
        n_saves = default_saves
    t = output_times(times, T, n_saves)
    if times is not None:
        gaps = np.diff(t)
        if t.size < 2 or t[0] != 0 or not gaps[0] > 0 or not np.allclose(gaps, gaps[0], rtol=1e-9, atol=0):
            raise ValueError(f"times must start at 0 and be equally spaced (the saves fall on the step grid); "
                             f"got {t}")
    return float(t[-1]), t.size - 1


def round_to_saves(T: float, n_saves: int, dt: float) -> tuple[float, int]:
    """(dt rounded down to T / (n_saves k), k): k = ceil(T / (n_saves dt)) >= 1 steps between saves, so that the
    n_saves equally spaced saves of [0, T] fall on the step grid."""
    per_save = max(1, math.ceil(T / (n_saves * dt)))
    return T / (n_saves * per_save), per_save


def step_counts(dt: float, n_steps: int, n_saves: int) -> tuple[float, int, int]:
    """Validated (dt > 0, n_steps >= 1, n_saves >= 1 dividing n_steps) as (dt, n_steps, steps between saves)."""
    dt = positive("dt", dt)
    n_steps = positive_int("n_steps", n_steps)
    n_saves = positive_int("n_saves", n_saves)
    if n_steps % n_saves:
        raise ValueError(f"n_saves={n_saves} must divide n_steps={n_steps} (equally spaced saves on the step grid)")
    return dt, n_steps, n_steps // n_saves


def check_explicit_stability(landscape, M: np.ndarray, x: np.ndarray, dt: float, rate_shift: float = 0.0,
                             time_scale: float = 1.0) -> None:
    """Raise if dt * rho(M Hess f(x) + rate_shift I) / time_scale >= 2 at any of the points x (explicit limit)."""
    H = landscape.hessian(x if landscape.dim > 1 else x[:, :1])
    H = H.reshape(-1, landscape.dim, landscape.dim)
    rho = float(np.max(np.abs(np.linalg.eigvals(M @ H + rate_shift * np.eye(landscape.dim)))))
    limit = 2.0 * time_scale / max(rho, 1e-300)
    if dt >= limit:
        raise ValueError(f"dt={dt:g} exceeds the explicit stability limit {limit:.3g} "
                         f"(2 / largest local rate at x0); choose dt < {limit:.3g}")


def check_output_fits(rows: int, n_paths: int, dim: int, limit: float | None = None) -> None:
    """MemoryError naming n_paths and n_saves, with the estimate, when ``rows`` arrays of (n_paths, dim) float64
    (the saves and the state of a run) exceed ``limit`` bytes (default: the memory available,
    :func:`pde_sgd.validation.memory_limit`): refused before anything is allocated."""
    need = 8.0 * rows * n_paths * dim
    if need <= 1e9 and limit is None:  # small: no need to ask the system
        return
    if limit is None:
        limit = memory_limit()
    if need > limit:
        raise MemoryError(f"this run would hold {rows} arrays of n_paths={n_paths} x dim={dim} float64 (its "
                          f"n_saves + 1 saves and its state): an estimated {need / 1e9:.3g} GB, more than the "
                          f"{limit / 1e9:.3g} GB available; lower n_paths or n_saves")


PATH_STEP_SECONDS = 2e-8  # one SGD path-step on one core (benchmarks/sde_scale.py: 18-20 ns, D field, Euler)
LONG_RUN_SECONDS = 3600.0  # runs estimated to take longer are announced (a warning with the estimate)
MAX_RUN_SECONDS = 30 * 86400.0  # runs estimated to take longer than 30 days are refused


def check_work(n_paths: int, n_steps: int, *, cost: float = 1.0, threads: int | None = None) -> float:
    """The estimated seconds of ``n_paths`` x ``n_steps`` path-steps of ``cost`` SGD path-steps each on ``threads``
    threads (None: Numba's count): ValueError naming n_steps and n_paths with the estimate beyond
    MAX_RUN_SECONDS (30 days), a RuntimeWarning with it beyond LONG_RUN_SECONDS (the run goes ahead: Ctrl-C stops it)."""
    import numba

    threads = numba.get_num_threads() if threads is None else max(1, int(threads))
    seconds = float(n_paths) * float(n_steps) * cost * PATH_STEP_SECONDS / threads
    what = (f"n_steps={n_steps} x n_paths={n_paths} ({float(n_paths) * n_steps:.3g} path-steps) would take an "
            f"estimated {_duration(seconds)} on {threads} thread(s)")
    if seconds > MAX_RUN_SECONDS:
        raise ValueError(f"{what}, more than {_duration(MAX_RUN_SECONDS)}: lower n_steps or n_paths (or split the "
                         f"ensemble into parts run apart with paths=(start, stop))")
    if seconds > LONG_RUN_SECONDS:
        warnings.warn(f"{what}; Ctrl-C stops it between chunks", RuntimeWarning, stacklevel=3)
    return seconds


def _duration(seconds: float) -> str:
    for unit, size in (("days", 86400.0), ("hours", 3600.0), ("minutes", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"
