"""Input checks shared by every solver: each raises ValueError naming the parameter and what is allowed."""
from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np


def finite_array(name: str, value: Any, *, ndim: int | None = None, shape: tuple | None = None,
                 dtype=np.float64) -> np.ndarray:
    """Return ``value`` as a float array, raising ValueError if it has NaN/inf, the wrong shape, complex, boolean
    or non-numeric entries (never silently dropping an imaginary part, never reading True as 1)."""
    try:
        raw = np.asarray(value)
        if raw.dtype == np.bool_ and np.dtype(dtype) != np.bool_:
            raise ValueError(f"{name} must be a real number or array, got a boolean {short_repr(value)} (True and "
                             f"False are not numbers here)")
        if np.iscomplexobj(raw) and np.dtype(dtype).kind != "c":
            raise ValueError(f"{name} must be real, got a complex array (dtype {raw.dtype})")
        arr = raw.astype(dtype, copy=False) if raw.dtype != object else np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        if str(exc).startswith(name):
            raise
        raise ValueError(f"{name} must be a finite real number or array, got {short_repr(value)}") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if shape is not None and arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf; all values must be finite")
    return arr


def short_repr(value: Any) -> str:
    """repr(value), cut to 60 characters (for error messages)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float, raising ValueError unless it is a finite real number (not a bool) > 0
    (>= 0 if allowed)."""
    if isinstance(value, (bool, np.bool_)):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a real number {bound}, got {value!r} (a bool is not a number here)")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    ok = np.isfinite(v) and (v >= 0 if allow_zero else v > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}")
    return v


def positive_int(name: str, value: Any, *, minimum: int = 1) -> int:
    """Return ``value`` as an int, raising ValueError unless it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def memory_bytes(*, available: bool = True) -> int | None:
    """This machine's available memory (``MemAvailable`` of /proc/meminfo) or, ``available=False`` or where that
    cannot be read, its physical memory; None where neither is known."""
    if available:
        try:
            with open("/proc/meminfo") as f:
                for line in f:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        return None


def memory_limit() -> float:
    """Bytes a direct solve may claim: the smallest of half the physical memory, the memory now available and
    the process's address-space limit (RLIMIT_AS), where the platform reports them (8 GB otherwise)."""
    limits = []
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        limits += [0.5 * page * os.sysconf("SC_PHYS_PAGES"), page * os.sysconf("SC_AVPHYS_PAGES")]
    except (ValueError, OSError, AttributeError):  # not available on this platform
        pass
    try:
        import resource
        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            limits.append(float(soft))
    except (ImportError, ValueError, OSError):
        pass
    return min(limits) if limits else 8e9


def require_memory(what: str, n_bytes: float, *, available: bool = True) -> None:
    """MemoryError naming ``what`` and the estimate when ``n_bytes`` exceeds :func:`memory_bytes` (raised before
    the allocation, instead of a bare MemoryError from numpy or the operating system killing the process)."""
    limit = memory_bytes(available=available)
    if limit is not None and n_bytes > limit:
        kind = "available" if available else "physical"
        raise MemoryError(f"{what} needs about {n_bytes / 2 ** 30:.3g} GiB, more than the {limit / 2 ** 30:.3g} GiB "
                          f"of {kind} memory: reduce the size")


def require_instance(name: str, value: Any, cls: type | tuple, what: str) -> Any:
    """Return ``value`` if it is an instance of ``cls``, else raise TypeError naming the parameter and ``what``."""
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be {what}, got {type(value).__name__}")
    return value


def choice(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``, else raise ValueError listing the options."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; allowed: {', '.join(map(repr, allowed))}")
    return value


def times_array(name: str, times: Any) -> np.ndarray:
    """Return a 1-D array of finite, non-negative, non-decreasing times."""
    t = np.atleast_1d(finite_array(name, times))
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"{name} must be a non-empty scalar or 1-D sequence of times, got shape {t.shape}")
    if np.any(t < 0) or np.any(np.diff(t) < 0):
        raise ValueError(f"{name} must be >= 0 and non-decreasing, got {t}")
    return t


def spd_matrices(name: str, D: Any, dim: int, *, rtol: float = 1e-10) -> np.ndarray:
    """Validate a diffusion matrix or a field of them: shape (..., dim, dim), symmetric, positive semi-definite.

    Symmetry is checked to ``rtol`` relative to the largest entry; PSD means the smallest eigenvalue is
    >= -rtol * (largest |eigenvalue|). Returns the exactly symmetrised float array.
    """
    arr = finite_array(name, D)
    if arr.ndim < 2 or arr.shape[-2:] != (dim, dim):
        raise ValueError(f"{name} must have shape (..., {dim}, {dim}), got {arr.shape}")
    scale = max(float(np.max(np.abs(arr))), 1e-300)
    asym = float(np.max(np.abs(arr - np.swapaxes(arr, -1, -2))))
    if asym > rtol * scale:
        raise ValueError(f"{name} must be symmetric: max |D - D^T| = {asym:.3g} (allowed {rtol * scale:.3g})")
    sym = 0.5 * (arr + np.swapaxes(arr, -1, -2))
    eig = np.linalg.eigvalsh(sym)
    lam_min = float(eig.min())
    if lam_min < -rtol * max(float(np.abs(eig).max()), 1e-300):
        raise ValueError(f"{name} must be positive semi-definite: smallest eigenvalue {lam_min:.3g} < 0")
    return sym


MAX_SEED = 2 ** 63 - 1  # seeds travel as int64 (Numba kernels, torch.manual_seed): larger ones would wrap


def seed_int(seed: Any, name: str = "seed") -> int:
    """Return ``seed`` as an int in [0, 2^63 - 1], else ValueError (None is refused: runs must be seeded;
    negative seeds would alias 2^64 - |seed| and larger ones overflow int64)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"{name} must be an integer in [0, 2**63 - 1], got {seed!r}")
    return int(seed)


LONG_RUN_WORK = 1e10  # elementary updates (~10 minutes at ~50 ns each) above which a run is announced


def warn_long_run(what: str, work: float, detail: str) -> None:
    """RuntimeWarning with the estimated work when ``work`` (elementary updates) exceeds LONG_RUN_WORK, so a run
    that cannot finish soon says so before it starts."""
    if work > LONG_RUN_WORK:
        warnings.warn(f"{what}: about {work:.2g} elementary updates ({detail}), i.e. roughly "
                      f"{work * 5e-8 / 60:.3g} min at 50 ns each on one core; reduce the grid or the time span",
                      RuntimeWarning, stacklevel=3)


def as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A numpy Generator from an int seed in [0, 2^63 - 1] or an existing Generator (None is refused)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed_int(seed))


class NumericalInstability(ValueError):
    """A run became non-finite (NaN/inf): the step is too large for the problem, or the scheme unstable for it.

    One type for every stepper (HJ, Fokker-Planck, SDE kernels, torchsde bridge); a ValueError, so code that
    catches bad input catches it too. The message names the knob to turn (dt, cfl, method).
    """


def writable_folder(out: Path, flag: str = "--out") -> Path:
    """Create ``out`` and write a probe file there, or raise ValueError naming the folder (before any work)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise ValueError(f"{flag} {out} is not a writable folder: {exc.strerror or exc}") from None
    return out
