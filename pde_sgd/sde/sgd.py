"""SGD as an SDE, dX = -M grad f(X) dt + sqrt(2 beta^-1 D(X)) dW (Ito; THEORY.md section 3), and its discrete twin.

:func:`simulate_sgd` integrates the SDE for an ensemble of paths with the Numba kernels of :mod:`.kernels`;
time is SGD's continuous time t = eta * iterations, and beta = 2 b / eta (:func:`pde_sgd.units.beta_from_sgd`).
:func:`minibatch_sgd` runs the algorithm the SDE models on a synthetic finite-sum loss (:mod:`.finite_sum`).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..drift import Drift
from ..grid import Grid
from ..landscapes import Landscape
from ..results import Result
from ..validation import choice, finite_array, positive, positive_int, require_instance
from .common import (check_explicit_stability, check_output_fits, check_work, distinct_starts, initial_states,
                     resolve_beta, sde_schedule, step_counts)
from .fields import KernelDiffusion, KernelDrift, as_diffusion, as_drift
from .finite_sum import QuadraticFiniteSum, batch_mean
from .chunks import drive_blocks
from .kernels import LANES, SCHEMES, integrate, raise_on_failure
from .rng import path_keys


def run_paths(drift: KernelDrift, diffusion: KernelDiffusion, beta: float, x0: np.ndarray, dt: float, n_steps: int,
              seed: int, scheme: str, save_every: int, noise_substeps: int = 1,
              t0: float = 0.0, path_offset: int = 0, progress: bool | None = None,
              threads: int | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Low-level ensemble run on validated specs; returns (times (n_saves,), x (n_saves, n_paths, dim), stats).

    Row p of ``x0`` is path ``path_offset + p`` of the seed's ensemble (its noise stream), so contiguous
    chunks of paths run anywhere reproduce the paths of one run. The kernel runs in chunks of steps and blocks
    of paths (:func:`.chunks.drive_blocks`: about CHUNK_WORK path-steps per call, so a KeyboardInterrupt
    (Ctrl-C) is raised between calls instead of after the whole run); step k's time and noise depend on k only,
    so the paths are the same bit for bit whatever the chunking. The chunks run in
    :func:`pde_sgd.driver.drive` (progress bar, thread count, Ctrl-C, ``stats``: steps, substeps = steps *
    noise_substeps, wall time, threads).
    """
    choice("scheme", scheme, SCHEMES)
    substeps = positive_int("noise_substeps", noise_substeps)
    n, d = x0.shape
    keys = path_keys(seed, path_offset + n)[path_offset:]
    x = x0.copy()  # the state, advanced in place
    out = (np.empty((n_steps // save_every + 1, n, d)), np.zeros(n, dtype=np.int64), np.full(n, -1, dtype=np.int64),
           np.full((n, d), np.nan))
    out[0][0] = x0
    traj, status, fail, fail_x = out
    args = (SCHEMES[scheme], substeps, math.sqrt(2.0 / beta), drift.kernel_args(), diffusion.kernel_args(), out)

    def chunk(b0, b1, k0, length, threads):
        integrate(b0, b1, threads, x, keys, float(t0), k0, dt, length, save_every, *args)
        a, b = b0 * LANES, min(b1 * LANES, n)
        raise_on_failure(status[a:b], fail[a:b], dt, fail_x[a:b], first_path=a)

    stats = drive_blocks(chunk, n, n_steps, lanes=LANES, substeps=substeps, desc=f"SDE {scheme}",
                         progress=progress, threads=threads)
    times = t0 + dt * save_every * np.arange(n_steps // save_every + 1)
    return times, traj, stats


def simulate_sgd(landscape, D, beta: float | None, x0, *, dt: float, n_steps: int | None = None,
                 n_saves: int | None = None, times=None, T: float | None = None, n_paths: int, seed: int,
                 eta: float | None = None, batch_size: float | None = None, grid: Grid | None = None,
                 drift_grid: Grid | None = None, precondition=None, scheme: str = "euler",
                 noise_substeps: int = 1, paths: tuple[int, int] | None = None,
                 progress: bool | None = None, threads: int | None = None) -> Result:
    """Ensemble of the SGD SDE dX = -M grad f dt + sqrt(2 beta^-1 D(X)) dW.

    Parameters
    ----------
    landscape : Landscape, Drift, gradient field or jitted callable
        A :class:`~pde_sgd.landscapes.Landscape` (drift -M grad f), a shared :class:`pde_sgd.Drift` spec (gradient,
        field, function or linear; see :mod:`pde_sgd.drift`), an array ``(*drift_grid.shape, dim)`` of grad f at
        the cell centres of ``drift_grid`` (drift -M g, interpolated), or a jitted drift ``b(x, t, out)``.
    D : :class:`pde_sgd.Diffusion`, scalar, (dim, dim) matrix, field ``(*grid.shape, dim, dim)`` with ``grid``,
        or jitted ``D(x, t, out)``. The diffusion matrix (the shared spec also serves Fokker-Planck and the
        torchsde bridge; see :mod:`pde_sgd.diffusion`, :mod:`pde_sgd.sde.fields`). Validated symmetric PSD.
    beta : float or None
        Inverse temperature; or None with ``eta`` and ``batch_size`` (beta = 2 b / eta).
    x0 : (dim,) or (n_paths, dim)
    dt : time step (> 0, below the explicit limit 2 / rho(M Hess f(x0)) for landscapes).
    n_steps, n_saves : step count and number of saves after the start, equally spaced (n_saves must divide
        n_steps; default 1: start and end). Or instead of n_steps, the output times as ``times`` (starting at 0,
        equally spaced by whole steps) or ``T`` (a multiple of dt) with ``n_saves``, as in the grid solvers.
    n_paths, seed : ensemble size and seed (same seed -> same paths, whatever the number of threads).
    precondition : (dim, dim) matrix M (default I), e.g. D + Q for the A-type form.
    scheme : ``"euler"`` (Euler-Maruyama) or ``"milstein"`` (derivative-free Milstein).
    noise_substeps : each Brownian increment is the sum of this many finer ones (shared paths across dt).
    paths : ``(start, stop)`` with 0 <= start < stop <= n_paths: run only paths start..stop-1 of the ensemble
        (exactly those paths of the full run; chunks of one ensemble can run in different processes).
    progress, threads : progress bar (None: on a terminal) and Numba thread count (None: current), see
        :mod:`pde_sgd.driver`; neither changes the paths.

    Returns
    -------
    Result of kind ``"sde.sgd"`` with arrays ``times`` (n_saves + 1,) and ``x`` (n_saves + 1, n_paths, dim),
    and ``stats`` (steps, substeps, wall_time, threads).
    Raises ValueError for bad input, a non-PSD D(x) met on the way, or paths that become non-finite; before
    anything is allocated, MemoryError naming n_paths and n_saves with the estimate when the saves would not fit
    in memory, and ValueError naming n_steps and n_paths when the run would take more than 30 days (estimated
    from ~20 ns per path-step and thread; a RuntimeWarning with the estimate above an hour).
    """
    beta = resolve_beta(beta, eta, batch_size)
    n_paths = positive_int("n_paths", n_paths)
    start, stop = (0, n_paths) if paths is None else _path_range(paths, n_paths)
    dim = landscape.dim if isinstance(landscape, (Landscape, Drift)) else np.shape(x0)[-1] if np.ndim(x0) else 1
    dt, n_steps, save_every = sde_schedule(dt, n_steps, n_saves, times, T, bytes_per_save=8.0 * (stop - start) * dim)
    # the saves, the initial states, the state: refused before they are allocated; then the time it would take
    check_output_fits(n_steps // save_every + 3, stop - start, dim)
    check_work(stop - start, n_steps, cost=(2 if scheme == "milstein" else 1) * noise_substeps, threads=threads)
    known = dim if isinstance(landscape, (Landscape, Drift)) else None
    if np.ndim(x0) == 2:  # one row per path of the ensemble: those of the range
        x = np.ascontiguousarray(initial_states(x0, n_paths, known)[start:stop])
    else:  # a common start: only the range's paths are allocated
        x = initial_states(x0, stop - start, known)
    dim = x.shape[1]
    drift = as_drift(landscape, dim, precondition, drift_grid)
    diffusion = as_diffusion(D, dim, grid)
    if drift.landscape is not None:
        check_explicit_stability(drift.landscape, drift.M, distinct_starts(x), dt)
    times, traj, stats = run_paths(drift, diffusion, beta, x, dt, n_steps, seed, scheme, save_every,
                                   noise_substeps, path_offset=start, progress=progress, threads=threads)
    params = {"beta": beta, "dt": dt, "n_steps": n_steps, "n_paths": n_paths, "seed": seed, "scheme": scheme,
              "noise_substeps": noise_substeps, "drift": drift.describe(), "D": diffusion.describe()}
    if eta is not None:
        params.update(eta=eta, batch_size=batch_size)
    if paths is not None:
        params["paths"] = [start, stop]
    return Result("sde.sgd", {"times": times, "x": traj}, params, stats)


def _path_range(paths, n_paths: int) -> tuple[int, int]:
    """``paths = (start, stop)`` checked: integers with 0 <= start < stop <= n_paths."""
    ok = isinstance(paths, (tuple, list)) and len(paths) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in paths)
    if not ok or not 0 <= paths[0] < paths[1] <= n_paths:
        raise ValueError(f"paths must be (start, stop) with 0 <= start < stop <= n_paths={n_paths}, got {paths!r}")
    return int(paths[0]), int(paths[1])


@njit(cache=True, parallel=True)
def _sgd_chains(x0, keys, A, anchors, eta, b, replace, n_steps, save_every):
    n, d = x0.shape
    traj = np.empty((n_steps // save_every + 1, n, d))
    for p in prange(n):
        x = x0[p].copy()
        m = np.empty(d)
        perm = np.arange(anchors.shape[0])
        ctr = 0
        traj[0, p] = x
        for k in range(n_steps):
            ctr = batch_mean(keys[p], ctr, anchors, perm, b, replace, m)
            for i in range(d):
                m[i] = x[i] - m[i]
            for i in range(d):
                g = 0.0
                for j in range(d):
                    g += A[i, j] * m[j]
                x[i] -= eta * g
            if (k + 1) % save_every == 0:
                traj[(k + 1) // save_every, p] = x
    return traj


@njit(cache=True, parallel=True)
def _batch_gradients(x, keys, A, anchors, b, replace):
    n, d = keys.shape[0], x.shape[0]
    out = np.empty((n, d))
    for p in prange(n):
        m = np.empty(d)
        perm = np.arange(anchors.shape[0])
        batch_mean(keys[p], 0, anchors, perm, b, replace, m)
        for i in range(d):
            g = 0.0
            for j in range(d):
                g += A[i, j] * (x[j] - m[j])
            out[p, i] = g
    return out


def batch_gradients(problem: QuadraticFiniteSum, x, batch_size: int, n_draws: int, seed: int,
                    replace: bool = True) -> np.ndarray:
    """``n_draws`` independent mini-batch gradients (1/b) sum_{k in B} grad f_k(x), shape (n_draws, dim)."""
    x = finite_array("x", x, shape=(problem.dim,))
    b = problem._batch(batch_size, replace)
    return _batch_gradients(x, path_keys(seed, n_draws), problem.A, problem.anchors, b, bool(replace))


def minibatch_sgd(problem: QuadraticFiniteSum, eta: float, batch_size: int, x0, *, n_steps: int, n_chains: int,
                  seed: int, replace: bool = True, n_saves: int = 1) -> Result:
    """Discrete mini-batch SGD x_{k+1} = x_k - eta (1/b) sum_{i in B_k} grad f_i(x_k), independent chains.

    Batches are drawn with or without replacement. Its SDE model (time t = eta k) is
    :func:`simulate_sgd` with D = problem.diffusion() and beta = 2 b / eta. Returns a Result of kind
    ``"sde.minibatch_sgd"`` with ``iterations`` (n_saves,), ``times`` = eta * iterations and ``x``.
    """
    require_instance("problem", problem, QuadraticFiniteSum, "a pde_sgd.sde.QuadraticFiniteSum")
    n_chains = positive_int("n_chains", n_chains)
    eta = positive("eta", eta)
    b = problem._batch(batch_size, replace)
    x = initial_states(x0, n_chains, problem.dim)
    _, n_steps, save_every = step_counts(1.0, n_steps, n_saves)
    if eta * np.linalg.eigvalsh(problem.A).max() >= 2:
        raise ValueError(f"eta={eta} exceeds the stability limit 2 / lambda_max(A)")
    traj = _sgd_chains(x, path_keys(seed, n_chains), problem.A, problem.anchors, eta, b, bool(replace), n_steps,
                       save_every)
    it = save_every * np.arange(traj.shape[0])
    return Result("sde.minibatch_sgd", {"iterations": it, "times": eta * it, "x": traj},
                  {"eta": eta, "batch_size": b, "replace": bool(replace), "n_samples": problem.n_samples,
                   "n_steps": n_steps, "n_chains": n_chains, "seed": seed})
