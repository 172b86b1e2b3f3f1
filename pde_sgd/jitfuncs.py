"""User code handed to compiled kernels: ``@njit`` functions wrapped once into ``numba.cfunc`` pointers.

Kernels take first-class function arguments of a fixed signature, so they are compiled (and cached on disk)
once, whatever function is passed: wrapping an ``@njit`` function into a cfunc is memoised per function and
signature, so a user function is compiled once per process, never once per run.

Compiled user code fails silently: an exception inside a cfunc is printed ("Exception ignored") and 0 used, an
entry of ``out`` left unwritten holds garbage, an index out of bounds corrupts memory. So a user function is
first run in Python mode (its ``py_func``: numpy checks bounds, exceptions propagate) at a few sample points
(:func:`check_point_function`), and any of these becomes a ValueError naming the function before a kernel runs.
"""
from __future__ import annotations

import inspect
import warnings

import numpy as np
from numba import cfunc, njit, prange, types
from numba.core.errors import NumbaExperimentalFeatureWarning
from numba.core.registry import CPUDispatcher

from .validation import finite_array, short_repr


_CFUNCS: dict = {}  # (function, signature) -> its cfunc
_SOURCES: dict = {}  # cfunc made by as_cfunc -> the @njit function it wraps


def is_cfunc(fn) -> bool:
    return hasattr(fn, "address") and hasattr(fn, "_sig")


def is_jitted(fn) -> bool:
    """True for an ``@njit`` function or a ``numba.cfunc``."""
    return isinstance(fn, CPUDispatcher) or is_cfunc(fn)


def python_form(fn):
    """The Python function behind an ``@njit`` dispatcher (``py_func``) or a cfunc (``_pyfunc``); ``fn`` itself
    otherwise."""
    return getattr(fn, "py_func", None) or getattr(fn, "_pyfunc", None) or fn


def n_arguments(fn) -> int:
    """Number of positional parameters of a jitted or plain Python function."""
    return len(inspect.signature(python_form(fn)).parameters)


# --- validation of user code in Python mode ---------------------------------------------------------------
CHECK_POINTS = 2  # seeded standard normal points at which user functions are validated by default
_SENTINEL = -1.2345678e300  # second prefill of ``out``: an entry still NaN after the first call and equal to this
                            # after the second was never written


def sample_points(name: str, dim: int, check_at=None) -> np.ndarray:
    """Points (n, dim) at which user point functions are validated: ``check_at`` (finite, (n, dim) or (dim,);
    n = 0 skips the check) or, by default, :data:`CHECK_POINTS` seeded standard normal points (near the origin,
    where losses and fields are normally defined, but off the axes where kinks and singularities sit)."""
    if check_at is None:
        return np.random.default_rng(0).standard_normal((CHECK_POINTS, dim))
    pts = finite_array(name, check_at)
    pts = pts[None] if pts.ndim == 1 else pts
    if pts.ndim != 2 or pts.shape[1] != dim:
        raise ValueError(f"{name} must be points of shape (n, {dim}) or ({dim},), got shape {np.shape(check_at)}")
    return pts


def _call_python(name: str, py, x: np.ndarray, args: tuple, out_shape: tuple | None):
    """``py(x, *args)`` with the user's exception turned into a ValueError naming ``name`` and the point."""
    try:
        return py(x.copy(), *args)
    except Exception as exc:
        hint = ""
        if isinstance(exc, IndexError):
            where = f"x ({x.shape[0]},)" + ("" if out_shape is None else f" or out {out_shape}")
            hint = f" (an index out of bounds of {where}: in compiled code it would corrupt memory)"
        raise ValueError(f"{name} raised {type(exc).__name__}: {exc}{hint} at x={x.tolist()} (run in Python mode "
                         f"before any kernel; compiled, the error would be ignored and give wrong numbers)") from exc


def check_point_function(name: str, fn, points: np.ndarray, args: tuple = (), out_shape: tuple | None = None
                         ) -> np.ndarray:
    """Run the Python form of a user point function at every row x of ``points`` and return its values,
    (n,) for ``value = fn(x, *args)`` (``out_shape`` None: a finite real number) or (n, *out_shape) for
    ``fn(x, *args, out)`` writing every entry of ``out`` (float64 of shape ``out_shape``), finite.

    ``out`` is prefilled with NaN and then with a finite sentinel: an entry that keeps both was never written.
    ValueError naming ``name`` for an exception (an index out of bounds included), an unwritten entry, a
    non-finite or wrongly shaped output.
    """
    py = python_form(fn)
    vals = []
    for x in points:
        if out_shape is None:
            v = np.asarray(_call_python(name, py, x, args, None))
            if v.shape != () or v.dtype.kind not in "iuf":
                raise ValueError(f"{name}(x) must return one real number, got {short_repr(v.tolist())} at "
                                 f"x={x.tolist()}")
            if not np.isfinite(v):
                raise ValueError(f"{name}(x) is {float(v)} at x={x.tolist()}; it must be finite")
            vals.append(float(v))
            continue
        outs, ret = [], None
        for fill in (np.nan, _SENTINEL):
            out = np.full(out_shape, fill)
            ret = _call_python(name, py, x, args + (out,), out_shape)
            outs.append(out)
        unwritten = np.isnan(outs[0]) & (outs[1] == _SENTINEL)
        if unwritten.any():
            hint = "; it returned a value instead: write into out" if ret is not None else ""
            first = tuple(int(i) for i in np.argwhere(unwritten)[0])
            raise ValueError(f"{name} left out{list(first)} unwritten at x={x.tolist()}: it must write every entry "
                             f"of out (shape {out_shape}){hint}")
        if not np.all(np.isfinite(outs[0])):
            raise ValueError(f"{name} wrote NaN or inf at x={x.tolist()}: out = {outs[0].tolist()}; it must be finite")
        vals.append(outs[0])
    return np.array(vals).reshape((len(vals),) + (out_shape or ()))


def as_cfunc(name: str, fn, sig):
    """``fn`` itself if it is a cfunc of signature ``sig``; an @njit function is wrapped into one (memoised, and
    cached on disk when its source file allows)."""
    if is_cfunc(fn):
        if fn._sig != sig:
            raise ValueError(f"{name} cfunc must have signature {sig}, got {fn._sig}")
        return fn
    if isinstance(fn, CPUDispatcher):
        key = (fn, str(sig))
        if key not in _CFUNCS:
            try:
                _CFUNCS[key] = jit_call(cfunc(sig, cache=True), fn.py_func)
            except RuntimeError:  # no file to cache next to (interactive / exec'd code): compile without cache
                _CFUNCS[key] = jit_call(cfunc(sig), fn.py_func)
            except Exception as exc:  # a typing error in user code: name the argument
                raise ValueError(f"{name} could not be compiled with signature {sig}: {exc}") from exc
            _SOURCES[_CFUNCS[key]] = fn
        return _CFUNCS[key]
    raise ValueError(f"{name} must be a numba cfunc or @njit function with signature {sig}, got {type(fn).__name__}")


_LANES: dict = {}  # point cfunc -> its lanes cfunc


def lanes_signature(sig):
    """The signature of :func:`lanes_cfunc` for a point signature ``sig`` = void(x (d,), a, out (...)):
    void(X (d, nb), a, Y (..., nb))."""
    x, a, out = sig.args
    return types.void(types.float64[:, ::1], a, types.Array(types.float64, out.ndim + 1, "C"))


def lanes_cfunc(point):
    """cfunc ``lanes(X, a, Y)`` (:func:`lanes_signature`): Y[..., q] = fn(X[:, q], a) for every lane q of X
    (dim, nb), for the point cfunc ``point`` = fn(x, a, out) (a landscape's gradient with a = its params, or a
    drift or diffusion with a = t).

    A kernel then makes one indirect call per block of paths instead of one per path, and the @njit source of
    ``point`` (known when :func:`as_cfunc` made it) is inlined into the lane loop: the same arithmetic, without
    a call per path. Memoised; compiled once per process (a closure over a function has no stable disk-cache
    key). A cfunc made elsewhere is called lane by lane.
    """
    if point not in _LANES:
        src = _SOURCES.get(point)
        if src is None:  # a cfunc takes contiguous arrays: copy each lane in and out
            fn = point

            def lanes(X, a, Y):
                d = X.shape[0]
                x = np.empty(d)
                y = np.empty(Y.shape[:-1])
                yf = y.reshape(y.size)
                Yf = Y.reshape(y.size, X.shape[1])
                for q in range(X.shape[1]):
                    for i in range(d):
                        x[i] = X[i, q]
                    fn(x, a, y)
                    for i in range(yf.size):
                        Yf[i, q] = yf[i]
        else:
            fn = njit(inline="always")(src.py_func)

            def lanes(X, a, Y):
                for q in range(X.shape[1]):
                    fn(X[:, q], a, Y[..., q])
        _LANES[point] = jit_call(cfunc(lanes_signature(point._sig)), lanes)
    return _LANES[point]


_TIMELESS: dict = {}  # fn(x, out) -> its fn(x, t, out) twin


def timed_cfunc(name: str, fn, sig):
    """cfunc of signature ``sig`` = (x, t, out) for an @njit ``fn(x, out)`` or ``fn(x, t, out)`` (or a cfunc);
    ValueError naming ``name`` for anything else."""
    if not is_jitted(fn):
        raise ValueError(f"{name} must be an @njit function {name}(x, out) or {name}(x, t, out), got "
                         f"{type(fn).__name__}")
    if is_cfunc(fn) or n_arguments(fn) == 3:
        return as_cfunc(name, fn, sig)
    if fn not in _TIMELESS:
        def twin(x, t, out):
            fn(x, out)
        _TIMELESS[fn] = njit(twin)
    return as_cfunc(name, _TIMELESS[fn], sig)


def check_timed_function(name: str, fn, points: np.ndarray, out_shape: tuple) -> np.ndarray:
    """:func:`check_point_function` for a user ``fn(x, out)`` or ``fn(x, t, out)`` at t = 0 (a cfunc: the
    latter); returns its values (n, *out_shape)."""
    return check_point_function(name, fn, points, (0.0,) if is_cfunc(fn) or n_arguments(fn) == 3 else (),
                                out_shape)


def point_cfunc(name: str, fn, sig, *, torch_fn, torch_out: str):
    """:func:`timed_cfunc` of ``fn``, after checking that an optional ``torch_fn`` (the same map in torch,
    x (batch, dim) -> ``torch_out``) is callable."""
    if torch_fn is not None and not callable(torch_fn):
        raise ValueError(f"torch_fn must be a function x (batch, dim) -> {torch_out}, got "
                         f"{type(torch_fn).__name__}")
    return timed_cfunc(name, fn, sig)


@njit(cache=True, parallel=True)
def _fill_points(fn, pts, t, out):
    for k in prange(pts.shape[0]):
        fn(pts[k], t, out[k])


def at_points(fn, pts: np.ndarray, t: float, value_shape: tuple) -> np.ndarray:
    """The cfunc ``fn(x, t, out)`` at every row x of ``pts`` (n, dim) -> (n, *value_shape)."""
    out = np.empty((pts.shape[0],) + tuple(value_shape))
    jit_call(_fill_points, fn, pts, float(t), out)
    return out


def jit_call(kernel, *args):
    """``kernel(*args)`` with Numba's "first-class function type is experimental" warning silenced: the kernels
    take cfunc arguments deliberately, and the warning (raised while compiling) must not become an error where
    a caller turns warnings into errors."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=NumbaExperimentalFeatureWarning)
        return kernel(*args)
