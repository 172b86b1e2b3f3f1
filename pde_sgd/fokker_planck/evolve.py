"""Time stepping of d rho/dt = L rho (the finite-volume Fokker-Planck generator) with snapshots.

Methods
-------
``"explicit"``  forward Euler in a matrix-free Numba kernel (:mod:`pde_sgd.fokker_planck.stencil`: precomputed
                face weights, blocks of rows in parallel on grids of at least ``PARALLEL_MIN_CELLS`` cells when
                the run has several threads, one thread otherwise; two preallocated buffers). With
                ``substeps=True`` (default) each snapshot interval is split into the fewest equal substeps of at most
                min(dt, safety * :func:`explicit_dt_limit`); with
                ``substeps=False`` exactly the requested ``dt`` is used (ValueError if it exceeds the limit)
                and the last step of a snapshot interval that is not a multiple of dt is shortened, so every
                snapshot time is hit exactly. ``params`` report ``dt`` (the largest step actually taken),
                ``dt_min`` (the smallest) and ``n_steps`` (the number of steps actually taken).
                First order in time; since the stable step is O(h^2), the time error is O(h^2) too.
                Positivity-preserving when the operator is monotone.
``"implicit"``  theta scheme (I - theta dt L) rho+ = (I + (1 - theta) dt L) rho, sparse LU (SuperLU)
                factorised once per distinct step: theta = 1 backward Euler (L-stable, positivity-preserving for
                a monotone operator), theta = 0.5 Crank-Nicolson (second order). For stiff problems.
``"expm"``      rho(t) = exp(t L) rho0 by :func:`scipy.sparse.linalg.expm_multiply`: exact in time, so the
                error is the spatial discretisation error alone.

Every run returns a :class:`pde_sgd.Result` (kind ``"fokker_planck.evolve"``) with arrays ``times``, ``rho``
(n_times, *grid.shape), ``mass`` and ``min`` (per snapshot).
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from numba import njit, prange

from .._threads import thread_count
from ..driver import drive
from ..schemes import Scheme
from ..validation import choice, memory_limit, positive, warn_long_run
from .operator import FPOperator
from .steady import check_direct_solve_fits
from .stencil import FaceStencil

METHODS = ("explicit", "implicit", "expm")
METHOD_TABLE = {  # order in time (the spatial error is the operator's)
    "explicit": Scheme("explicit", 1.0, "dt <= dt_limit (substeps=True keeps to 0.9 dt_limit)"),
    "implicit": Scheme("implicit", 1.0, "theta = 1 (backward Euler); theta = 0.5 (Crank-Nicolson) is second order"),
    "expm": Scheme("expm", None, "exact in time (Krylov expm_multiply)"),
}
SAFETY = 0.9
# Below this many cells a step is too short to amortise the thread barrier of a parallel region (measured on
# 2 busy cores at 256 x 256: 50 M cell-steps/s on one thread, 5 M on two), so the kernel runs on one thread.
PARALLEL_MIN_CELLS = 2**18
# Runs above this many elementary updates (cell-steps, or sparse entries touched) are refused before they start:
# ~23 days at 2 ns per update (the explicit kernel's rate), months for the sparse methods.
MAX_WORK = 1e15


def check_snapshots_fit(n_times: int, n_cells: int, name: str, limit: float | None = None) -> None:
    """MemoryError naming ``name`` (``"n_saves"`` or ``"times"``) when ``n_times`` float64 snapshots of
    ``n_cells`` cells (plus two working copies) exceed ``limit`` (default :func:`pde_sgd.validation.memory_limit`)."""
    need, limit = 8.0 * (n_times + 2) * n_cells, memory_limit() if limit is None else limit
    if need > limit:
        most = max(int(limit // (8.0 * n_cells)) - 3, 0)
        raise MemoryError(f"{name}: {n_times} snapshots of {n_cells} cells need {need / 1e9:.3g} GB, more than the "
                          f"{limit / 1e9:.3g} GB available; at most n_saves = {most} ({most + 1} output times) fit "
                          f"on this grid: save fewer snapshots or coarsen the grid")


def _check_work(method: str, work: float, span: float, name: str, detail: str) -> None:
    """ValueError naming ``name`` (the time span's parameter) when ``work`` exceeds MAX_WORK, with the longest
    span allowed (work grows linearly in the span)."""
    if work > MAX_WORK:
        raise ValueError(f"{name}: evolving over a span of {span:.6g} with method={method!r} takes about {work:.3g} "
                         f"elementary updates ({detail}), more than the {MAX_WORK:.0e} allowed (weeks of CPU); "
                         f"at most a span of {span * MAX_WORK / work:.3g} on this grid: shorten it, coarsen the grid"
                         f"{' or use a larger dt' if method == 'implicit' else ''}"
                         f"{', or use method=' + repr('implicit') if method == 'explicit' else ''}")
    if method != "explicit":  # the announcement's 50 ns per update fits the sparse methods, not the kernel
        warn_long_run(f"evolve(method={method!r})", work, detail)


@njit(cache=True, parallel=True)
def _euler_step(indptr, indices, data, src, dst, dt):
    """dst = src + dt L src for L in CSR (rows in parallel): the assembled-matrix form of the explicit step,
    kept as the independent reference the stencil kernel is tested and benchmarked against."""
    for i in prange(src.shape[0]):
        s = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            s += data[k] * src[indices[k]]
        dst[i] = src[i] + dt * s


@njit(cache=True)
def _euler_steps(indptr, indices, data, rho, buf, dt, n_steps):
    """n_steps of rho <- rho + dt L rho, in place in ``rho``; ``buf`` is scratch of the same size."""
    for _ in range(n_steps // 2):
        _euler_step(indptr, indices, data, rho, buf, dt)
        _euler_step(indptr, indices, data, buf, rho, dt)
    if n_steps % 2 == 1:
        _euler_step(indptr, indices, data, rho, buf, dt)
        rho[:] = buf


def _intervals(times: np.ndarray) -> np.ndarray:
    return np.diff(times)


def _explicit_plan(interval: float, dt: float, exact: bool) -> list[tuple[float, int]]:
    """(step, count) pairs covering ``interval``: equal steps <= dt, or (``exact``) full steps of dt then one
    shorter step for the remainder (a remainder below 1e-9 dt is absorbed into the last full step)."""
    if interval <= 0:
        return []
    if not exact:
        n = max(1, math.ceil(interval / dt - 1e-9))
        return [(interval / n, n)]
    n = int(interval // dt)
    rem = interval - n * dt
    if n == 0:
        return [(interval, 1)]
    if rem <= 1e-9 * dt:
        return [(dt, n - 1), (dt + rem, 1)] if rem > 0 else [(dt, n)]
    return [(dt, n), (rem, 1)]


def run_explicit(stencil: FaceStencil, dt_limit: float, out: np.ndarray, times: np.ndarray, dt: float | None,
                 substeps: bool, progress: bool | None, threads: int | None) -> tuple[dict, dict]:
    """Forward Euler between snapshot times from ``out[0]`` (rho0), the snapshots written into ``out``; see the
    module docstring for the step rule."""
    stable = SAFETY * dt_limit
    if dt is not None and dt > dt_limit and not substeps:
        raise ValueError(f"dt = {dt:.6g} exceeds the explicit stability limit {dt_limit:.6g}; pass dt <= "
                         f"{dt_limit:.6g}, substeps=True, or method='implicit'")
    exact = not substeps and dt is not None
    step = dt if exact else (stable if dt is None else min(dt, stable))
    plans = [[(h, n) for h, n in _explicit_plan(float(iv), step, exact) if n > 0] for iv in _intervals(times)]
    used = [h for plan in plans for h, _ in plan]
    n_total = sum(n for plan in plans for _, n in plan)
    cur = out[0].copy()
    buf = np.empty_like(cur)
    chunk = 2000
    n_threads = thread_count(threads)       # validated on every grid: threads=0 is refused on small ones too
    with drive(n_total, progress=progress, desc="Fokker-Planck (explicit)",
               threads=1 if cur.size < PARALLEL_MIN_CELLS else n_threads) as run:
        for i, plan in enumerate(plans):
            for h, n in plan:
                done = 0
                while done < n:
                    k = min(chunk, n - done)
                    stencil.euler_steps(cur, buf, h, k, parallel=run.threads > 1)
                    done += k
                    run.advance(k, k)
            out[i + 1] = cur
    return {"dt": max(used, default=step), "dt_min": min(used, default=step), "n_steps": int(n_total)}, \
        run.stats


def run_implicit(L: sp.csr_matrix, out: np.ndarray, times: np.ndarray, dt: float, theta: float,
                 progress: bool | None, threads: int | None) -> tuple[dict, dict]:
    """Theta scheme between snapshot times, equal steps <= dt per interval, LU cached per step size.

    ``dt`` and ``dt_min`` in the returned params are the largest and smallest steps actually taken."""
    from scipy.sparse.linalg import splu  # here, like expm_multiply below: the explicit path does not import it

    eye = sp.identity(L.shape[0], format="csc")
    Lc = L.tocsc()
    cache: dict[float, tuple] = {}
    counts = [max(1, math.ceil(iv / dt - 1e-9)) if iv > 0 else 0 for iv in _intervals(times)]
    cur = out[0].copy()
    with drive(sum(counts), progress=progress, desc="Fokker-Planck (implicit)", threads=threads) as run:
        for i, (iv, n) in enumerate(zip(_intervals(times), counts)):
            if n:
                h = float(iv / n)
                if h not in cache:
                    cache[h] = (splu((eye - theta * h * Lc).tocsc()), (eye + (1.0 - theta) * h * Lc).tocsr())
                lu, rhs = cache[h]
                for _ in range(n):
                    cur = lu.solve(rhs @ cur if theta < 1.0 else cur)
                run.advance(n, n)
            out[i + 1] = cur
    steps = [float(iv / n) for iv, n in zip(_intervals(times), counts) if n]
    return {"dt": max(steps, default=dt), "dt_min": min(steps, default=dt), "theta": theta,
                 "n_steps": int(sum(counts))}, run.stats


def run_expm(L: sp.csr_matrix, out: np.ndarray, times: np.ndarray, progress: bool | None,
             threads: int | None, name: str = "times") -> tuple[dict, dict]:
    """exp(dt L) between snapshot times (exact in time)."""
    from scipy.sparse.linalg import expm_multiply

    cur = out[0].copy()
    norm = float(abs(L).sum(axis=0).max())  # expm_multiply takes ~ ||L||_1 t products with L
    span = float(times[-1] - times[0])
    _check_work("expm", (norm * span + len(times)) * L.nnz, span, name,
                f"~{norm * span + len(times):.2g} sparse products of {L.nnz} entries; method='implicit' costs a "
                f"fixed number of solves")
    with drive(len(times) - 1, progress=progress, desc="Fokker-Planck (expm)", unit="save",
               threads=threads) as run:
        for i, iv in enumerate(_intervals(times)):
            if iv > 0:
                cur = expm_multiply(L * iv, cur)
            out[i + 1] = cur
            run.advance(0, progress=1)
    return {}, run.stats


def evolve(op: FPOperator, dt_limit: float, rho0: np.ndarray, times: np.ndarray, *, method: str = "explicit",
           dt: float | None = None, substeps: bool = True, theta: float = 1.0,
           progress: bool | None = None, threads: int | None = None,
           span_name: str = "times") -> tuple[np.ndarray, dict, dict]:
    """Snapshots rho(times) (shape (n_times, N)) from rho(times[0]) = rho0 under d rho/dt = op.L rho, the step
    info and the driver's stats (steps; substeps = Euler steps or linear solves); dispatches on ``method``.

    Refused before any work (``span_name``, ``"T"`` or ``"times"``, names the parameter): snapshots beyond the
    memory (MemoryError), runs beyond MAX_WORK updates (ValueError), implicit LU factors beyond the memory."""
    choice("method", method, METHODS)
    if dt is not None:
        dt = positive("dt", dt)
    if not 0.5 <= float(theta) <= 1.0:
        raise ValueError(f"theta must be in [0.5, 1] (0.5 Crank-Nicolson, 1 backward Euler), got {theta!r}")
    n, span = rho0.size, float(times[-1] - times[0])
    check_snapshots_fit(len(times), n, "n_saves" if span_name == "T" else span_name)
    if method == "explicit":
        step = dt if dt is not None and not substeps else min(dt or np.inf, SAFETY * dt_limit)
        steps = float(np.sum(np.ceil(_intervals(times) / step)))
        _check_work(method, steps * n, span, span_name, f"~{steps:.3g} steps of dt <= {step:.3g} on {n} cells")
    elif method == "implicit":
        step = dt if dt is not None else max(span / 100.0, SAFETY * dt_limit) if span > 0 else 1.0
        solves = float(np.sum(np.ceil(_intervals(times) / step)))
        _check_work(method, solves * n, span, span_name, f"~{solves:.3g} solves of {n} unknowns")
        check_direct_solve_fits(op.grid.shape, what="evolve(method='implicit')")
    snaps = np.empty((len(times), n))
    snaps[0] = rho0.ravel()
    if method == "explicit":
        info, stats = run_explicit(op.stencil, dt_limit, snaps, times, dt, substeps, progress, threads)
    elif method == "implicit":
        info, stats = run_implicit(op.L, snaps, times, step, float(theta), progress, threads)
    else:
        info, stats = run_expm(op.L, snaps, times, progress, threads, span_name)
    return snaps, info, stats
