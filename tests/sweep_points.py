"""Point functions for the sweep tests; the tests load this file by path (as simulations/*.py are loaded)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from pde_sgd import Result

CALL_LOG = "PDE_SGD_TEST_SWEEP_LOG"  # folder: each call of a point function leaves a file there


def _log(tag: str) -> None:
    folder = os.environ.get(CALL_LOG)
    if folder:
        Path(folder, f"{tag}.{os.getpid()}.{time.monotonic_ns()}").touch()


def powers(x: float, n: int = 3, label: str = "a") -> Result:
    """Arrays x^0..x^(n-1) and a seeded normal vector; params echo the point and add x^2."""
    _log(f"powers-{x}-{n}-{label}")
    z = np.random.default_rng(n).standard_normal(4) * x
    return Result("test.powers", {"pow": x ** np.arange(n), "z": z}, {"x2": x * x, "label": label})


def slow_powers(x: float, delay: float) -> Result:
    time.sleep(delay)
    return powers(x)


def fails_at_two(x: int) -> Result:
    if x == 2:
        raise RuntimeError(f"deliberate failure at x={x}")
    return powers(float(x))


def returns_number(x: int) -> float:
    return 2.0 * x


def never_called(**point) -> Result:
    raise AssertionError(f"point {point} was computed again although it is stored")


def ou_chunk(n_paths: int, path_start: int, path_stop: int, seed: int, beta: float) -> Result:
    """Paths path_start..path_stop-1 of an anisotropic 2-D OU ensemble (simulate_sgd with a constant D)."""
    from pde_sgd.sde import simulate_sgd

    _log(f"ou-{path_start}")
    return simulate_sgd(**ou_setup(beta), n_paths=n_paths, seed=seed, n_saves=4, paths=(path_start, path_stop))


def ou_setup(beta: float) -> dict:
    """The arguments landscape, D, beta, x0, dt, n_steps of the OU ensemble of :func:`ou_chunk`."""
    from pde_sgd import landscapes

    L = landscapes.quadratic([[2.0, 0.5], [0.5, 1.0]])
    return dict(landscape=L, D=[[1.0, 0.3], [0.3, 0.5]], beta=beta, x0=[1.0, -1.0], dt=0.01, n_steps=100)


def unstorable_at_two(x: int, how: str = "nan_param") -> Result:
    """A storable Result except at x == 2, where it holds what ``how`` names: a NaN parameter, an object array,
    a NaN array entry, or an object in params that JSON cannot describe."""
    r = powers(float(x))
    if x == 2:
        if how == "nan_param":
            r.params["loss"] = float("nan")
        elif how == "object_array":
            r.arrays["o"] = np.array([{"a": 1}], dtype=object)
        elif how == "nan_array":
            r.arrays["pow"] = np.array([1.0, np.nan, np.inf])
        elif how == "object_param":
            r.params["fn"] = object()
        elif how == "complex_nan":
            r.arrays["c"] = np.array([1 + 1j, complex(0, np.nan)])
        elif how == "not_arrays":
            r.arrays = None
    return r


def kills_worker_at_two(x: int, delay: float = 0.0) -> Result:
    """Kills its own process at x == 2 (a segfault-like crash of a Dask worker); the other points sleep first."""
    import signal

    if x == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(delay)
    return powers(float(x))


def sleeps_at_two(x: int, delay: float) -> Result:
    """Sleeps ``delay`` seconds at x == 2 (a hung point), returns at once otherwise."""
    if x == 2:
        _log("hung")
        time.sleep(delay)
    return powers(float(x))


def powers_of_x(x: int, **_) -> Result:
    """What :func:`kills_worker_at_two` returns for an innocent point."""
    return powers(float(x))


def fails_slowly_at_one(x: int) -> Result:
    """Fails at x == 1 after 1 s and at x == 3 at once: on two workers the failures complete out of order."""
    if x == 1:
        time.sleep(1.0)
        raise RuntimeError("slow failure at x=1")
    if x == 3:
        raise RuntimeError("fast failure at x=3")
    return powers(float(x))
