"""Losses f: R^d -> R with value, gradient and Hessian for every solver: numpy (grids), Numba (kernels), torch.

A :class:`Landscape` is made from the user's code in one of two forms, and the built-ins below are ordinary
instances of the same mechanism:

* **Numba** (serves every solver): ``Landscape(value, grad, hessian=None, dim=d, params=p)`` with ``@njit``
  point functions ``value(x[, p]) -> float``, ``grad(x[, p], out)`` and optionally ``hessian(x[, p], out)``
  (x: float64 (d,), out: (d,) / (d, d), p: the float64 array ``params``, passed so that one compiled
  function serves a whole family of losses). Without ``hessian`` the Hessian is the central difference of
  ``grad``. Kernels receive the functions as ``numba.cfunc`` pointers (:mod:`pde_sgd.jitfuncs`): compiled once
  per function, never per run. The numpy methods evaluate the same functions over many points in parallel;
  the torch gradient is ``torch_grad=`` / autograd of ``torch_value=`` when given, else the numpy gradient
  (CPU round trip).
* **numpy** (grid solvers, quadrature and the torch bridge; not the SDE / proximal kernels):
  ``Landscape(value, grad=None, hessian=None, dim=d)`` with vectorised ``value(points (n, d)) -> (n,)``,
  ``grad(points) -> (n, d)``, ``hessian(points) -> (n, d, d)``; missing derivatives are central differences.

Point functions evaluated inside kernels: :func:`jit_value`, :func:`jit_grad`, :func:`jit_hess` take the
landscape's :attr:`Landscape.jit` pack ``(value, grad, hessian, params, has_hessian)``.

Built-ins (constructors below):

========================  ==================================================================================
``quadratic(A, c)``        f = (x-c)^T A (x-c) / 2
``wiggly(seed)``           1-D, f = x^2 + 1.5 sin(2 pi x) + p(x), p a seeded smooth random perturbation
``double_well(dim)``       f = (x_1^2 - 1)^2 / 4 + tilt x_1 + sum_{i>1} x_i^2 / 2
``rastrigin(dim)``         f = sum_i a x_i^2 / 2 + b (1 - cos(2 pi x_i))
``abs_l1(dim)``            f = sum_i |x_i|   (kink at 0; Huber envelope)
``neg_abs_l1(dim)``        f = -sum_i |x_i|  (concave kink)
``gaussian_wells(...)``    f = q |x|^2 / 2 - sum_j a_j exp(-|x - c_j|^2 / (2 w_j^2))  (wide vs narrow valleys)
========================  ==================================================================================
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numba import njit, types

from .jitfuncs import as_cfunc, check_point_function, is_jitted, jit_call, n_arguments, sample_points
from .validation import finite_array, positive, positive_int, require_instance, seed_int, short_repr

_TWO_PI = 2.0 * math.pi
VALUE_SIG = types.float64(types.float64[::1], types.float64[::1])
GRAD_SIG = types.void(types.float64[::1], types.float64[::1], types.float64[::1])
HESS_SIG = types.void(types.float64[::1], types.float64[::1], types.float64[:, ::1])
_FD_STEP = np.finfo(float).eps ** (1.0 / 3.0)  # central differences: error ~ h^2 f''' + eps / h, balanced


# --- kernel-side evaluation of a landscape pack ---------------------------------------------------------
@njit(cache=True, inline="always")
def jit_value(lf, x):
    """f(x) at one point ``x`` (1-D array) for the pack ``lf = landscape.jit``."""
    return lf[0](x, lf[3])


@njit(cache=True, inline="always")
def jit_grad(lf, x, out):
    """Write grad f(x) into ``out`` (same length as ``x``)."""
    lf[1](x, lf[3], out)


@njit(cache=True)
def _fd_hessian(lf, x, out):
    """Central differences of grad f, symmetrised: out_ij = (d_j g_i + d_i g_j) / 2."""
    d = x.shape[0]
    gp, gm = np.empty(d), np.empty(d)
    for j in range(d):
        xj = x[j]
        h = 6.0554544523933395e-06 * max(1.0, abs(xj))
        x[j] = xj + h
        lf[1](x, lf[3], gp)
        x[j] = xj - h
        lf[1](x, lf[3], gm)
        x[j] = xj
        for i in range(d):
            out[i, j] = (gp[i] - gm[i]) / (2.0 * h)
    for i in range(d):
        for j in range(i):
            s = 0.5 * (out[i, j] + out[j, i])
            out[i, j] = s
            out[j, i] = s


@njit(cache=True, inline="always")
def jit_hess(lf, x, out):
    """Write the Hessian of f at ``x`` into ``out`` (shape (d, d)); central differences of grad if not given."""
    if lf[4]:
        lf[2](x, lf[3], out)
    else:
        _fd_hessian(lf, x, out)


# One thread: sampling a landscape on a grid or a point set is cheap next to the solver it feeds, and a parallel
# region would add ~0.4 s of compilation per kernel to a new user's first call (issue 12).
@njit(cache=True)
def _values(lf, pts):
    out = np.empty(pts.shape[0])
    for n in range(pts.shape[0]):
        out[n] = jit_value(lf, pts[n])
    return out


@njit(cache=True)
def _grads(lf, pts):
    out = np.empty_like(pts)
    for n in range(pts.shape[0]):
        jit_grad(lf, pts[n], out[n])
    return out


@njit(cache=True)
def _hessians(lf, pts, fd):
    """:func:`jit_hess` at every row of ``pts``; ``fd`` None where the pack has an exact Hessian (``lf[4]``): the
    finite-difference branch is then pruned at compile time (a quicker first call)."""
    d = pts.shape[1]
    out = np.empty((pts.shape[0], d, d))
    for n in range(pts.shape[0]):
        x = pts[n].copy()  # the finite-difference Hessian perturbs its point in place
        if fd is None:
            lf[2](x, lf[3], out[n])
        else:
            _fd_hessian(lf, x, out[n])
    return out


def _no_hessian(x, p, out):  # placeholder cfunc in the pack of a landscape without a Hessian
    out[:, :] = 0.0


_WRAPPED: dict = {}  # user function without the params argument -> its (x, p) twin


def _with_params(name: str, fn, sig, n_plain: int):
    """cfunc of ``fn`` taking (x, p, ...) of signature ``sig``; ``fn`` may omit p (``n_plain`` arguments)."""
    if not is_jitted(fn):
        raise ValueError(f"{name} must be an @njit function (the value is), got {type(fn).__name__}")
    if n_arguments(fn) != n_plain:
        return as_cfunc(name, fn, sig)
    if fn not in _WRAPPED:
        if n_plain == 1:
            def twin(x, p):
                return fn(x)
        else:
            def twin(x, p, out):
                fn(x, out)
        _WRAPPED[fn] = njit(twin)
    return as_cfunc(name, _WRAPPED[fn], sig)


# --- the class ------------------------------------------------------------------------------------------
def _central_differences(fn: Callable, pts: np.ndarray) -> np.ndarray:
    """(fn(x + h_i e_i) - fn(x - h_i e_i)) / (2 h_i) for each axis i, h_i = _FD_STEP max(1, |x_i|), at the points
    ``pts`` (n, dim) -> (n, *fn's trailing shape, dim) (axis i last)."""
    h = _FD_STEP * np.maximum(1.0, np.abs(pts))
    cols = []
    for i in range(pts.shape[1]):
        step = np.zeros_like(pts)
        step[:, i] = h[:, i]
        diff = fn(pts + step) - fn(pts - step)
        cols.append(diff / (2.0 * h[:, i]).reshape((-1,) + (1,) * (diff.ndim - 1)))
    return np.stack(cols, axis=-1)


class Landscape:
    """A loss f on R^``dim``: value, gradient and Hessian, in numpy (vectorised), Numba and torch forms.

    Parameters
    ----------
    value : @njit ``value(x[, p]) -> float`` (Numba form) or a vectorised ``value(points (n, dim)) -> (n,)``
    grad : @njit ``grad(x[, p], out)`` (required in the Numba form) or vectorised ``(n, dim) -> (n, dim)``
        (optional in the numpy form: central differences of ``value`` otherwise).
    hessian : @njit ``hessian(x[, p], out)`` or vectorised ``(n, dim) -> (n, dim, dim)``; optional (central
        differences of ``grad``).
    dim : dimension (>= 1).
    params : float64 array passed as ``p`` to the Numba functions (default empty).
    torch_grad, torch_value : optional torch forms for :mod:`pde_sgd.sde.torch_bridge`: ``grad(x (batch, dim))
        -> (batch, dim)``, or ``value(x) -> (batch,)`` differentiated by autograd. A ``torch_grad`` may also
        be a factory ``(device, dtype) -> grad`` (``torch_factory=True``).
    name, info : label and JSON-able description (saved with results).
    check_at : points (n, dim) at which the @njit functions are first run in Python mode (bounds checked,
        exceptions raised, every entry of ``out`` written, outputs finite; ValueError naming the function
        otherwise); default two seeded standard normal points; an empty (0, dim) array skips the check.

    Points are arrays of shape (..., dim). For ``dim == 1`` a plain array of shape (...) is also taken as a
    set of scalar points, and results then drop the trailing axis of length 1.
    """

    def __init__(self, value: Callable, grad: Callable | None = None, hessian: Callable | None = None, *,
                 dim: int, params=None, torch_grad: Callable | None = None, torch_value: Callable | None = None,
                 torch_factory: bool = False, name: str = "user", info: dict | None = None,
                 builtin: dict | None = None, check_at=None) -> None:
        self.dim = positive_int("dim", dim)
        self.name = str(name)
        self.info = dict(info or {})
        self.params = np.ascontiguousarray(finite_array("params", np.zeros(0) if params is None else params,
                                                        ndim=1))
        self._builtin = builtin
        self._torch = (torch_grad, torch_value, bool(torch_factory))
        if not callable(value):
            raise ValueError(f"value must be a function (an @njit point function or a vectorised numpy one), "
                             f"got {type(value).__name__}")
        for nm, fn in (("grad", grad), ("hessian", hessian), ("torch_grad", torch_grad),
                       ("torch_value", torch_value)):
            if fn is not None and not callable(fn):
                raise ValueError(f"{nm} must be a function or None, got {type(fn).__name__}")
        self.numba = is_jitted(value)
        self._fns = (value, grad, hessian)
        for nm, fn in (("grad", grad), ("hessian", hessian)):
            if fn is not None and is_jitted(fn) != self.numba:
                raise ValueError(f"{nm} must be {'an @njit point' if self.numba else 'a vectorised numpy'} function "
                                 f"like value (give value, grad and hessian all in Numba or all in numpy form)")
        if self.numba:
            if grad is None:
                raise ValueError("grad is required when value is an @njit function: give an @njit grad(x, out) "
                                 "or grad(x, p, out)")
            self._jit = None  # built on first use (compiles the cfuncs); at once for user code:
            if builtin is None:  # compiled (typing errors first), then run in Python mode
                self._check_numba_form(sample_points("check_at", self.dim, check_at))
        elif params is not None and self.params.size:
            raise ValueError("params are passed to @njit point functions only; a numpy landscape closes over "
                             "its own parameters")

    # --- Numba form ---------------------------------------------------------------------------------------
    def _check_numba_form(self, pts: np.ndarray) -> None:
        """Run the @njit value, grad and hessian in Python mode at the points ``pts``
        (:func:`pde_sgd.jitfuncs.check_point_function`): ValueError naming the function for an exception, an
        index out of bounds, an entry of ``out`` left unwritten, a non-finite output."""
        self.jit  # noqa: B018  (compiles the cfuncs: a typing error is named as such)
        d = self.dim
        for nm, fn, n_plain, shape in (("value", self._fns[0], 1, None), ("grad", self._fns[1], 2, (d,)),
                                       ("hessian", self._fns[2], 2, (d, d))):
            if fn is not None:  # compiled above, so it takes (x[, p]) / (x[, p], out)
                args = (self.params,) if n_arguments(fn) > n_plain else ()
                check_point_function(f"landscape {self.name!r}: {nm}", fn, pts, args, shape)

    @property
    def jit(self) -> tuple:
        """The pack (value cfunc, grad cfunc, hessian cfunc, params, has_hessian) that kernels evaluate."""
        if not self.numba:
            raise ValueError(f"landscape {self.name!r} was given as numpy functions; compiled kernels (SDE, "
                             f"proximal point) need its Numba form: Landscape(value, grad, dim=...) with @njit "
                             f"point functions value(x) and grad(x, out)")
        if self._jit is None:
            value, grad, hessian = self._fns
            has_h = hessian is not None
            self._jit = (_with_params("value", value, VALUE_SIG, 1), _with_params("grad", grad, GRAD_SIG, 2),
                         _with_params("hessian", hessian if has_h else _NO_HESSIAN, HESS_SIG, 2), self.params,
                         has_h)
        return self._jit

    # --- numpy form ---------------------------------------------------------------------------------------
    def _points(self, x) -> tuple[np.ndarray, tuple, bool]:
        arr = finite_array("x", x)
        squeeze = self.dim == 1 and (arr.ndim == 0 or arr.shape[-1] != 1)
        if squeeze:
            arr = arr[..., None]
        if arr.shape[-1] != self.dim:
            raise ValueError(f"x must have last axis of length dim={self.dim}, got shape {np.shape(x)}")
        lead = arr.shape[:-1]
        return np.ascontiguousarray(arr.reshape(-1, self.dim)), lead, squeeze

    def _user(self, what: str, fn: Callable, pts: np.ndarray, trailing: tuple) -> np.ndarray:
        try:
            out = np.asarray(fn(pts), dtype=np.float64)
        except Exception as exc:  # report which function failed, not a bare traceback from user code
            raise ValueError(f"landscape {self.name!r}: {what} could not be evaluated at points of shape "
                             f"{pts.shape}: {exc}") from exc
        if out.shape != (pts.shape[0],) + trailing:
            raise ValueError(f"landscape {self.name!r}: {what}(points of shape {pts.shape}) must return shape "
                             f"{(pts.shape[0],) + trailing}, got {out.shape}")
        return out

    def _checked(self, what: str, out: np.ndarray, pts: np.ndarray) -> np.ndarray:
        if not np.all(np.isfinite(out)):
            bad = np.flatnonzero(~np.isfinite(out.reshape(pts.shape[0], -1)).all(axis=1))[0]
            raise ValueError(f"landscape {self.name!r}: {what} is NaN or inf at x={pts[bad].tolist()}; the loss "
                             f"must be finite wherever it is evaluated")
        return out

    def _value_pts(self, pts: np.ndarray) -> np.ndarray:
        out = jit_call(_values, self.jit, pts) if self.numba else self._user("value", self._fns[0], pts, ())
        return self._checked("value", out, pts)

    def _grad_pts(self, pts: np.ndarray) -> np.ndarray:
        d = self.dim
        if self.numba:
            out = jit_call(_grads, self.jit, pts)
        elif self._fns[1] is not None:
            out = self._user("grad", self._fns[1], pts, (d,))
        else:
            out = _central_differences(self._value_pts, pts)
        return self._checked("grad", out, pts)

    def _hess_pts(self, pts: np.ndarray) -> np.ndarray:
        d = self.dim
        if self.numba:
            out = jit_call(_hessians, self.jit, pts, None if self.jit[4] else True)
        elif self._fns[2] is not None:
            out = self._user("hessian", self._fns[2], pts, (d, d))
        else:
            out = _central_differences(self._grad_pts, pts)
            out = 0.5 * (out + np.swapaxes(out, 1, 2))
        return self._checked("hessian", out, pts)

    def value(self, x) -> np.ndarray:
        """f at the points ``x``; shape ``x.shape[:-1]``."""
        pts, lead, _ = self._points(x)
        return self._value_pts(pts).reshape(lead)

    def grad(self, x) -> np.ndarray:
        """grad f at the points ``x``; shape ``x.shape`` (the 1-D squeezed form keeps the input shape)."""
        pts, lead, squeeze = self._points(x)
        g = self._grad_pts(pts).reshape(lead + (self.dim,))
        return g[..., 0] if squeeze else g

    def hessian(self, x) -> np.ndarray:
        """Hessian of f at the points ``x``; shape ``x.shape[:-1] + (dim, dim)``."""
        pts, lead, squeeze = self._points(x)
        h = self._hess_pts(pts).reshape(lead + (self.dim, self.dim))
        return h[..., 0, 0] if squeeze else h

    __call__ = value

    def on_grid(self, grid) -> np.ndarray:
        """f sampled at the cell centres of ``grid`` (shape ``grid.shape``)."""
        self._check_grid(grid)
        return self._value_pts(np.ascontiguousarray(grid.points())).reshape(grid.shape)

    def grad_on_grid(self, grid) -> np.ndarray:
        """grad f at the cell centres, shape ``grid.shape + (dim,)``."""
        self._check_grid(grid)
        return self._grad_pts(np.ascontiguousarray(grid.points())).reshape(grid.shape + (self.dim,))

    def _check_grid(self, grid) -> None:
        if grid.ndim != self.dim:
            raise ValueError(f"grid has {grid.ndim} dimension(s) but the landscape {self.name!r} has dim={self.dim}")

    # --- torch form ---------------------------------------------------------------------------------------
    def torch_grad(self, device=None, dtype=None) -> Callable:
        """A torch function x (batch, dim) -> grad f(x): the given torch form, autograd of ``torch_value``, or
        (derived) the numpy gradient through a CPU round trip."""
        import torch

        grad, value, factory = self._torch
        if grad is not None:
            return grad(device, dtype) if factory else grad
        if value is not None:
            def autograd(x):
                with torch.enable_grad():
                    y = x.detach().requires_grad_(True)
                    return torch.autograd.grad(value(y).sum(), y)[0]
            return autograd

        def via_numpy(x):
            g = self._grad_pts(np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float64))
            return torch.as_tensor(g, device=x.device, dtype=x.dtype)
        return via_numpy

    # --- description ----------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"name": self.name, "dim": self.dim, "params": self.params.tolist(), "info": self.info,
                "builtin": self._builtin}

    @classmethod
    def from_dict(cls, d: dict) -> "Landscape":
        """Rebuild a built-in landscape from :meth:`to_dict`'s description (user code cannot be rebuilt)."""
        if not isinstance(d, dict) or any(k not in d for k in ("name", "dim", "builtin")):
            raise ValueError(f"Landscape.from_dict needs a dict with keys ('name', 'dim', 'builtin') from "
                             f"Landscape.to_dict, got {short_repr(d)}")
        spec = d.get("builtin")
        if not isinstance(spec, dict) or spec.get("constructor") not in BUILTINS or \
                not isinstance(spec.get("args"), dict):
            raise ValueError(f"landscape {d.get('name')!r} is not a built-in; a user landscape cannot be rebuilt "
                             f"from its description: pass the Landscape object")
        return BUILTINS[spec["constructor"]](**spec["args"])

    def __repr__(self) -> str:
        return f"Landscape({self.name!r}, dim={self.dim}, {'numba' if self.numba else 'numpy'})"


_NO_HESSIAN = njit(cache=True)(_no_hessian)


def _builtin(constructor: str, args: dict, value, grad, hessian, params, dim: int, torch_factory,
             info: dict | None = None, name: str | None = None) -> Landscape:
    return Landscape(value, grad, hessian, dim=dim, params=np.asarray(params, dtype=np.float64),
                     torch_grad=torch_factory, torch_factory=True, name=name or constructor,
                     info=info if info is not None else args, builtin={"constructor": constructor, "args": args})


def _tensor(p, device, dtype):
    import torch
    return torch.as_tensor(p, device=device, dtype=dtype)


# --- quadratic: params [A (d*d, row-major), c (d)] -----------------------------------------------------
@njit(cache=True)
def _quadratic_value(x, p):
    d = x.shape[0]
    v = 0.0
    for i in range(d):
        for j in range(d):
            v += 0.5 * (x[i] - p[d * d + i]) * p[i * d + j] * (x[j] - p[d * d + j])
    return v


@njit(cache=True)
def _quadratic_grad(x, p, out):
    d = x.shape[0]
    for i in range(d):
        g = 0.0
        for j in range(d):
            g += p[i * d + j] * (x[j] - p[d * d + j])
        out[i] = g


@njit(cache=True)
def _quadratic_hess(x, p, out):
    d = x.shape[0]
    for i in range(d):
        for j in range(d):
            out[i, j] = p[i * d + j]


def quadratic(A, center=None) -> Landscape:
    """f(x) = (x - c)^T A (x - c) / 2 with A symmetric (d x d); c defaults to 0."""
    A = np.atleast_2d(finite_array("A", A))
    d = A.shape[0]
    if A.shape != (d, d):
        raise ValueError(f"A must be a square matrix, got shape {A.shape}")
    if not np.allclose(A, A.T, rtol=0, atol=1e-12 * max(1.0, np.abs(A).max())):
        raise ValueError("A must be symmetric")
    c = np.zeros(d) if center is None else finite_array("center", center, shape=(d,))

    def torch_grad(device, dtype):
        At, ct = _tensor(A, device, dtype), _tensor(c, device, dtype)
        return lambda x: (x - ct) @ At.T

    return _builtin("quadratic", {"A": A.tolist(), "center": c.tolist()}, _quadratic_value, _quadratic_grad,
                    _quadratic_hess, np.concatenate([A.ravel(), c]), d, torch_grad)


# --- wiggly: params [K, amp_k, freq_k, phase_k] ------------------------------------------------------------
@njit(cache=True)
def _wiggly_parts(p, x):
    """Value, first and second derivative of the 1-D wiggly loss."""
    k = int(p[0])
    v = x * x + 1.5 * math.sin(_TWO_PI * x)
    d1 = 2.0 * x + 1.5 * _TWO_PI * math.cos(_TWO_PI * x)
    d2 = 2.0 - 1.5 * _TWO_PI * _TWO_PI * math.sin(_TWO_PI * x)
    for j in range(k):
        a, w, ph = p[1 + j], p[1 + k + j], p[1 + 2 * k + j]
        s, c = math.sin(w * x + ph), math.cos(w * x + ph)
        v += a * s
        d1 += a * w * c
        d2 -= a * w * w * s
    return v, d1, d2


@njit(cache=True)
def _wiggly_value(x, p):
    return _wiggly_parts(p, x[0])[0]


@njit(cache=True)
def _wiggly_grad(x, p, out):
    out[0] = _wiggly_parts(p, x[0])[1]


@njit(cache=True)
def _wiggly_hess(x, p, out):
    out[0, 0] = _wiggly_parts(p, x[0])[2]


def wiggly(seed: int = 0, n_modes: int = 12, amplitude: float = 0.4, max_frequency: float = 12.0) -> Landscape:
    """The Deep Relaxation figure-1 loss: f = x^2 + 1.5 sin(2 pi x) + p(x) on R.

    p is a seeded smooth random perturbation: ``n_modes`` sinusoids a_k sin(w_k x + phi_k) with
    w_k ~ U(1, max_frequency), phi_k ~ U(0, 2 pi) and a_k ~ amplitude N(0,1) / sqrt(n_modes) (a random
    function of band-limited smoothness, so value, gradient and Hessian are exact).
    """
    seed = seed_int(seed)
    positive_int("n_modes", n_modes, minimum=0)
    positive("amplitude", amplitude, allow_zero=True)
    positive("max_frequency", max_frequency)
    rng = np.random.default_rng(seed)
    freqs = rng.uniform(1.0, max_frequency, n_modes)
    phases = rng.uniform(0.0, _TWO_PI, n_modes)
    amps = amplitude * rng.standard_normal(n_modes) / np.sqrt(max(n_modes, 1))

    def torch_grad(device, dtype):
        import torch
        a, w, ph = (_tensor(v, device, dtype) for v in (amps, freqs, phases))
        return lambda x: (2.0 * x + 1.5 * _TWO_PI * torch.cos(_TWO_PI * x)
                          + (a * w * torch.cos(w * x + ph)).sum(-1, keepdim=True))

    args = {"seed": seed, "n_modes": n_modes, "amplitude": amplitude, "max_frequency": max_frequency}
    return _builtin("wiggly", args, _wiggly_value, _wiggly_grad, _wiggly_hess,
                    np.concatenate([[n_modes], amps, freqs, phases]), 1, torch_grad)


# --- double well: params [tilt] ----------------------------------------------------------------------------
@njit(cache=True)
def _double_well_value(x, p):
    v = 0.25 * (x[0] * x[0] - 1.0) ** 2 + p[0] * x[0]
    for i in range(1, x.shape[0]):
        v += 0.5 * x[i] * x[i]
    return v


@njit(cache=True)
def _double_well_grad(x, p, out):
    out[0] = x[0] * (x[0] * x[0] - 1.0) + p[0]
    for i in range(1, x.shape[0]):
        out[i] = x[i]


@njit(cache=True)
def _double_well_hess(x, p, out):
    out[:, :] = 0.0
    out[0, 0] = 3.0 * x[0] * x[0] - 1.0
    for i in range(1, x.shape[0]):
        out[i, i] = 1.0


def double_well(dim: int = 2, tilt: float = 0.0) -> Landscape:
    """f = (x_1^2 - 1)^2 / 4 + tilt x_1 + sum_{i>1} x_i^2 / 2: minima near x_1 = +-1, saddle at 0."""
    dim = positive_int("dim", dim)
    tilt = float(finite_array("tilt", tilt))

    def torch_grad(device, dtype):
        def grad(x):
            g = x.clone()
            g[:, 0] = x[:, 0] * (x[:, 0] ** 2 - 1.0) + tilt
            return g
        return grad

    return _builtin("double_well", {"dim": dim, "tilt": tilt}, _double_well_value, _double_well_grad,
                    _double_well_hess, [tilt], dim, torch_grad, info={"tilt": tilt})


# --- rastrigin: params [a, b] -------------------------------------------------------------------------------
@njit(cache=True)
def _rastrigin_value(x, p):
    v = 0.0
    for i in range(x.shape[0]):
        v += 0.5 * p[0] * x[i] * x[i] + p[1] * (1.0 - math.cos(_TWO_PI * x[i]))
    return v


@njit(cache=True)
def _rastrigin_grad(x, p, out):
    for i in range(x.shape[0]):
        out[i] = p[0] * x[i] + p[1] * _TWO_PI * math.sin(_TWO_PI * x[i])


@njit(cache=True)
def _rastrigin_hess(x, p, out):
    out[:, :] = 0.0
    for i in range(x.shape[0]):
        out[i, i] = p[0] + p[1] * _TWO_PI * _TWO_PI * math.cos(_TWO_PI * x[i])


def rastrigin(dim: int = 2, a: float = 1.0, b: float = 0.25) -> Landscape:
    """A multi-well surface f = sum_i a x_i^2 / 2 + b (1 - cos(2 pi x_i)), global minimum 0 at x = 0."""
    dim = positive_int("dim", dim)
    a, b = positive("a", a), positive("b", b, allow_zero=True)

    def torch_grad(device, dtype):
        import torch
        return lambda x: a * x + b * _TWO_PI * torch.sin(_TWO_PI * x)

    return _builtin("rastrigin", {"dim": dim, "a": a, "b": b}, _rastrigin_value, _rastrigin_grad, _rastrigin_hess,
                    [a, b], dim, torch_grad, info={"a": a, "b": b})


# --- sign * sum |x_i|: params [sign] -----------------------------------------------------------------------
@njit(cache=True)
def _abs_value(x, p):
    v = 0.0
    for i in range(x.shape[0]):
        v += abs(x[i])
    return p[0] * v


@njit(cache=True)
def _abs_grad(x, p, out):
    for i in range(x.shape[0]):
        out[i] = p[0] * (1.0 if x[i] > 0 else (-1.0 if x[i] < 0 else 0.0))


@njit(cache=True)
def _abs_hess(x, p, out):  # zero away from the kink
    out[:, :] = 0.0


def _abs_landscape(constructor: str, dim: int, sign: float) -> Landscape:
    dim = positive_int("dim", dim)

    def torch_grad(device, dtype):
        import torch
        return lambda x: sign * torch.sign(x)

    return _builtin(constructor, {"dim": dim}, _abs_value, _abs_grad, _abs_hess, [sign], dim, torch_grad, info={})


def abs_l1(dim: int = 1) -> Landscape:
    """f = sum_i |x_i| (gradient 0 taken at the kink)."""
    return _abs_landscape("abs_l1", dim, 1.0)


def neg_abs_l1(dim: int = 1) -> Landscape:
    """f = -sum_i |x_i| (a concave kink: its Moreau envelope keeps it)."""
    return _abs_landscape("neg_abs_l1", dim, -1.0)


# --- gaussian wells: params [q, n_wells, a_j, w_j, c_j (n_wells * d, row-major)] ---------------------------
@njit(cache=True)
def _well(p, x, j):
    """(a_j, w_j, exp(-|x-c_j|^2/(2 w_j^2)), offset of c_j in p)."""
    d = x.shape[0]
    nw = int(p[1])
    a, w = p[2 + j], p[2 + nw + j]
    off = 2 + 2 * nw + j * d
    r2 = 0.0
    for i in range(d):
        r2 += (x[i] - p[off + i]) ** 2
    return a, w, math.exp(-r2 / (2.0 * w * w)), off


@njit(cache=True)
def _wells_value(x, p):
    v = 0.0
    for i in range(x.shape[0]):
        v += 0.5 * p[0] * x[i] * x[i]
    for j in range(int(p[1])):
        a, w, e, off = _well(p, x, j)
        v -= a * e
    return v


@njit(cache=True)
def _wells_grad(x, p, out):
    d = x.shape[0]
    for i in range(d):
        out[i] = p[0] * x[i]
    for j in range(int(p[1])):
        a, w, e, off = _well(p, x, j)
        for i in range(d):
            out[i] += a * e * (x[i] - p[off + i]) / (w * w)


@njit(cache=True)
def _wells_hess(x, p, out):
    d = x.shape[0]
    out[:, :] = 0.0
    for i in range(d):
        out[i, i] = p[0]
    for j in range(int(p[1])):
        a, w, e, off = _well(p, x, j)
        w2 = w * w
        for i in range(d):
            out[i, i] += a * e / w2
            for k in range(d):
                out[i, k] -= a * e * (x[i] - p[off + i]) * (x[k] - p[off + k]) / (w2 * w2)


def gaussian_wells(centers: Sequence, depths: Sequence[float], widths: Sequence[float],
                   confinement: float = 0.05) -> Landscape:
    """f = q |x|^2 / 2 - sum_j a_j exp(-|x - c_j|^2 / (2 w_j^2)): wells of depth a_j and width w_j.

    ``centers`` has shape (n_wells, dim) (or (n_wells,) in 1-D). A deep narrow well next to a shallower
    wide one is the Entropy-SGD figure-2 landscape (see :func:`wide_narrow`).
    """
    c = finite_array("centers", centers)
    c = c[:, None] if c.ndim == 1 else c
    if c.ndim != 2 or c.shape[0] == 0 or c.shape[1] == 0:
        raise ValueError(f"centers must have shape (n_wells >= 1, dim >= 1) or (n_wells,), got {np.shape(centers)}")
    nw, d = c.shape
    a = finite_array("depths", depths, shape=(nw,))
    w = finite_array("widths", widths, shape=(nw,))
    if np.any(w <= 0):
        raise ValueError(f"widths must be > 0, got {w.tolist()}")
    q = positive("confinement", confinement, allow_zero=True)

    def torch_grad(device, dtype):
        import torch
        at, wt, ct = (_tensor(v, device, dtype) for v in (a, w, c))

        def grad(x):
            diff = x[:, None, :] - ct[None]
            e = torch.exp(-(diff ** 2).sum(-1) / (2.0 * wt ** 2))
            return q * x + ((at * e / wt ** 2)[..., None] * diff).sum(1)
        return grad

    args = {"centers": c.tolist(), "depths": a.tolist(), "widths": w.tolist(), "confinement": q}
    return _builtin("gaussian_wells", args, _wells_value, _wells_grad, _wells_hess,
                    np.concatenate([[q, nw], a, w, c.ravel()]), d, torch_grad)


def wide_narrow() -> Landscape:
    """1-D: a wide valley at x = -1 (depth 1, width 0.5) and a deeper narrow one at x = 1.5 (depth 1.3, width 0.06)."""
    return gaussian_wells([-1.0, 1.5], [1.0, 1.3], [0.5, 0.06], confinement=0.05)


BUILTINS: dict[str, Callable[..., Landscape]] = {
    "quadratic": quadratic, "wiggly": wiggly, "double_well": double_well, "rastrigin": rastrigin,
    "abs_l1": abs_l1, "neg_abs_l1": neg_abs_l1, "gaussian_wells": gaussian_wells}


def as_landscape(f: Any, name: str = "landscape", dim: int | None = None) -> Landscape:
    """``f`` if it is a :class:`Landscape` (TypeError naming ``name`` otherwise) of dimension ``dim`` when given
    (ValueError otherwise)."""
    require_instance(name, f, Landscape, "a pde_sgd Landscape (a built-in, or Landscape(value, grad, dim=...) from "
                     "your own functions)")
    if dim is not None and f.dim != dim:
        raise ValueError(f"{name} must be a {dim}-D landscape (dim={dim}), got dim={f.dim}")
    return f


def values_on_grid(f: Any, grid, name: str = "f_values") -> np.ndarray:
    """A loss on a grid: a :class:`Landscape` sampled at the cell centres, or values of shape ``grid.shape``."""
    if isinstance(f, Landscape):
        return f.on_grid(grid)
    if callable(f):
        raise ValueError(f"{name} must be a Landscape or values of shape {grid.shape}; wrap a loss function as "
                         f"Landscape(value, dim={grid.ndim})")
    return grid.check_field(name, f)
