"""The stepping driver shared by the HJ, Fokker-Planck and SDE steppers, and the one way to say when.

*When*: every time stepper takes its output times the same way (:func:`output_times`): either an array
``times`` (non-decreasing, >= 0, the first one the time of the initial state for Fokker-Planck), or ``T`` with
``n_saves``, which means the ``n_saves + 1`` times ``T * k / n_saves``, k = 0..n_saves (the start and
``n_saves`` equally spaced saves). Step sizes are ``dt``, step counts ``n_steps``.

*How*: a stepper runs its compiled kernel in chunks inside :func:`drive`, which owns what every run shares:
the Numba thread count (set for the run, restored after), a tqdm progress bar (``progress=None``: shown when
stderr is a terminal), Ctrl-C (SIGINT is held while a kernel runs and raised as KeyboardInterrupt between
chunks, so a run stops cleanly and a kernel is never torn mid-step) and the run statistics stored in
``Result.stats``: ``steps`` (time steps), ``substeps`` (stages or sub-increments, summed), ``wall_time``
(seconds) and ``threads``. The driver never changes what a kernel computes: chunking is by step index.
"""
from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from .validation import memory_limit, positive, positive_int, times_array


def output_times(times: Any = None, T: float | None = None, n_saves: int | None = None, *,
                 bytes_per_save: float = 8.0) -> np.ndarray:
    """The output times from ``times`` or from ``T`` and ``n_saves`` (exactly one of the two forms).

    ``T, n_saves`` gives ``T * arange(n_saves + 1) / n_saves``; ``n_saves`` defaults to 1 (start and end).
    ValueError naming the parameter for both forms or neither, T <= 0, n_saves < 1, or bad ``times``;
    MemoryError naming n_saves when n_saves + 1 saves of ``bytes_per_save`` bytes (a solver's state; default:
    the time alone) would not fit in the memory available, before anything is allocated.
    """
    if times is not None and (T is not None or n_saves is not None):
        raise ValueError("give the output times either as times=[...] or as T=... with n_saves=..., not both "
                         f"(got times={times!r}, T={T!r}, n_saves={n_saves!r})")
    if times is not None:
        return times_array("times", times)
    if T is None:
        raise ValueError("the output times are missing: pass times=[t0, ..., t_end] (>= 0, non-decreasing) or "
                         "T=... (> 0) with n_saves=... (>= 1)")
    T = positive("T", T)
    n = 1 if n_saves is None else positive_int("n_saves", n_saves)
    _check_saves_fit(n, max(8.0, float(bytes_per_save)))
    return T * np.arange(n + 1) / n


def _check_saves_fit(n_saves: int, bytes_per_save: float) -> None:
    """MemoryError naming n_saves and the estimate when n_saves + 1 saves of ``bytes_per_save`` bytes would not
    fit in the memory available (:func:`pde_sgd.validation.memory_limit`)."""
    need = bytes_per_save * (n_saves + 1)
    if need <= 1e9:  # small: no need to ask the system
        return
    if need > memory_limit():
        raise MemoryError(f"n_saves={n_saves}: {n_saves + 1} saves of {bytes_per_save:.3g} bytes would take "
                          f"{need / 1e9:.3g} GB, more than the {memory_limit() / 1e9:.3g} GB available: choose "
                          f"fewer saves")


class Run:
    """Handle of one driven run: :meth:`advance` after each chunk, :meth:`check` for Ctrl-C, :attr:`stats`."""

    def __init__(self, bar, threads: int, interrupted) -> None:
        self._bar, self.threads, self.check = bar, threads, interrupted
        self.steps = self.substeps = 0
        self._start = time.perf_counter()

    def advance(self, steps: int, substeps: int = 0, progress: float | None = None) -> None:
        """Record ``steps`` time steps (and ``substeps`` stages) done; move the bar by ``progress`` (default
        ``steps``, for bars counted in steps) and raise KeyboardInterrupt if Ctrl-C came meanwhile."""
        self.steps += int(steps)
        self.substeps += int(substeps)
        self._bar.update(steps if progress is None else progress)
        self.check()

    @property
    def stats(self) -> dict[str, Any]:
        return {"steps": self.steps, "substeps": self.substeps,
                "wall_time": time.perf_counter() - self._start, "threads": self.threads}


def show_progress(progress: bool | None) -> bool:
    """``progress`` as given, or (None) whether stderr is a terminal."""
    if progress is None:
        return bool(getattr(sys.stderr, "isatty", lambda: False)())
    if not isinstance(progress, (bool, np.bool_)):
        raise ValueError(f"progress must be True, False or None (shown on a terminal), got {progress!r}")
    return bool(progress)


@contextmanager
def drive(total: float, *, progress: bool | None, desc: str, unit: str = "step",
          threads: int | None = None, python_threads: bool = False) -> Iterator[Run]:
    """Run a chunked stepper: yields a :class:`Run`; ``total`` is the bar's length (in ``unit``).

    ``threads``: the Numba thread count during the run (None: the current one); restored afterwards.
    ``python_threads``: the stepper shares its work among ``Run.threads`` Python threads (nogil kernels), which
    NUMBA_NUM_THREADS does not cap (Numba's own count is still capped by it).
    """
    import numba
    from tqdm.auto import tqdm

    before = numba.get_num_threads()
    n_threads = before if threads is None else positive_int("threads", threads)
    show = show_progress(progress)
    numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
    try:
        with _sigint_between_chunks() as interrupted, \
                tqdm(total=total, disable=not show, desc=desc, unit=unit, leave=False) as bar:
            yield Run(bar, n_threads if python_threads else numba.get_num_threads(), interrupted)
    finally:
        numba.set_num_threads(before)


@contextmanager
def _sigint_between_chunks():
    """Hold Ctrl-C (SIGINT) while a kernel runs and yield a check that raises KeyboardInterrupt between chunks.

    A KeyboardInterrupt raised while Numba returns from a kernel surfaces as a SystemError; recording SIGINT
    and raising at a chunk boundary gives a clean KeyboardInterrupt. Only in the main thread and only when
    SIGINT has Python's default handler (a user's own handler is left alone).
    """
    pending = []

    def check() -> None:
        if pending:
            raise KeyboardInterrupt

    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield check
        return
    old = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    try:
        yield check
    finally:
        signal.signal(signal.SIGINT, old)
    check()
