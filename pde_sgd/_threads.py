"""Thread-pool settings applied on ``import pde_sgd``, before Numba or torch start their OpenMP workers.

OpenMP workers (Numba's ``omp`` threading layer and torch both use GNU libgomp) busy-wait at every barrier for
about 300,000 spins by default. On a machine whose cores are shared with other processes, a spinning worker
holds a core that the thread it waits for needs, and a 2-thread run can be many times slower than a 1-thread run
(measured: benchmarks/threads.py). ``OMP_WAIT_POLICY=PASSIVE`` makes the workers sleep at once (libgomp's spin
count 0; Intel's runtime reads the same variable), which keeps 2 threads at least as fast as 1 on a loaded
machine at a small cost per parallel region on an idle one.

The default is set only where the user has set none of the variables that control the wait
(``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT``, ``KMP_BLOCKTIME``): an explicit choice always wins. OpenMP reads
these variables once, when its library loads, so the setting has no effect on a runtime already loaded by an
earlier ``import torch`` or Numba parallel call; :func:`applied` reports what this module set.
"""
from __future__ import annotations

import os
from collections.abc import MutableMapping

WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE"}

_applied: dict[str, str] = {}


def apply_defaults(environ: MutableMapping[str, str] = os.environ) -> dict[str, str]:
    """Set :data:`DEFAULTS` in ``environ`` unless the user set any of :data:`WAIT_VARIABLES`; return what was set."""
    if any(name in environ for name in WAIT_VARIABLES):
        return {}
    for name, value in DEFAULTS.items():
        environ[name] = value
    return dict(DEFAULTS)


def thread_count(threads) -> int:
    """The Numba thread count a solver's ``threads=`` asks for: an integer >= 1 (ValueError naming ``threads``
    otherwise, a bool included), or Numba's current count for None. Solvers validate it before deciding to run
    on one thread (a small grid), so ``threads=0`` is refused whatever the problem size."""
    from .validation import positive_int  # not at the top: this module must load before numpy and Numba

    if threads is None:
        import numba
        return numba.get_num_threads()
    return positive_int("threads", threads)


def applied() -> dict[str, str]:
    """The variables that ``import pde_sgd`` set (empty when the user had chosen a wait policy)."""
    return dict(_applied)


_applied.update(apply_defaults())
