"""Low-dimensional losses f: R^d -> R with value, gradient and Hessian, in numpy and Numba.

Each landscape is a :class:`Landscape`: a ``kind`` code and a flat float64 ``params`` vector. The point-wise
Numba functions :func:`jit_value`, :func:`jit_grad` and :func:`jit_hess` take ``(kind, params, x[, out])``, so
that compiled kernels elsewhere (SDE integrators, Fokker-Planck drifts) can evaluate any built-in landscape
without Python callbacks. The numpy methods of :class:`Landscape` are vectorised over points by the same code.

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
from collections.abc import Sequence

import numpy as np
from numba import njit, prange

from .validation import choice, finite_array, positive, positive_int, seed_int, short_repr

QUADRATIC, WIGGLY, DOUBLE_WELL, RASTRIGIN, ABS_L1, GAUSSIAN_WELLS = range(6)
_TWO_PI = 2.0 * math.pi


# --- point-wise Numba kernels ---------------------------------------------------------------------------
@njit(cache=True)
def _wiggly_parts(params, x):
    """Value, first and second derivative of the 1-D wiggly loss (params: [K, amp_k, freq_k, phase_k])."""
    k = int(params[0])
    v = x * x + 1.5 * math.sin(_TWO_PI * x)
    d1 = 2.0 * x + 1.5 * _TWO_PI * math.cos(_TWO_PI * x)
    d2 = 2.0 - 1.5 * _TWO_PI * _TWO_PI * math.sin(_TWO_PI * x)
    for j in range(k):
        a, w, p = params[1 + j], params[1 + k + j], params[1 + 2 * k + j]
        s, c = math.sin(w * x + p), math.cos(w * x + p)
        v += a * s
        d1 += a * w * c
        d2 -= a * w * w * s
    return v, d1, d2


@njit(cache=True)
def _well_terms(params, x, j):
    """(a_j, w_j, exp(-|x-c_j|^2/(2 w_j^2)), offset of c_j in params) for gaussian_wells."""
    d = x.shape[0]
    nw = int(params[1])
    a, w = params[2 + j], params[2 + nw + j]
    off = 2 + 2 * nw + j * d
    r2 = 0.0
    for i in range(d):
        r2 += (x[i] - params[off + i]) ** 2
    return a, w, math.exp(-r2 / (2.0 * w * w)), off


@njit(cache=True)
def jit_value(kind, params, x):
    """f(x) for a built-in landscape ``kind`` with parameters ``params`` at one point ``x`` (1-D array)."""
    d = x.shape[0]
    if kind == QUADRATIC:
        v = 0.0
        for i in range(d):
            for j in range(d):
                v += 0.5 * (x[i] - params[d * d + i]) * params[i * d + j] * (x[j] - params[d * d + j])
        return v
    if kind == WIGGLY:
        return _wiggly_parts(params, x[0])[0]
    if kind == DOUBLE_WELL:
        v = 0.25 * (x[0] * x[0] - 1.0) ** 2 + params[0] * x[0]
        for i in range(1, d):
            v += 0.5 * x[i] * x[i]
        return v
    if kind == RASTRIGIN:
        v = 0.0
        for i in range(d):
            v += 0.5 * params[0] * x[i] * x[i] + params[1] * (1.0 - math.cos(_TWO_PI * x[i]))
        return v
    if kind == ABS_L1:
        v = 0.0
        for i in range(d):
            v += abs(x[i])
        return params[0] * v
    # GAUSSIAN_WELLS
    v = 0.0
    for i in range(d):
        v += 0.5 * params[0] * x[i] * x[i]
    for j in range(int(params[1])):
        a, w, e, off = _well_terms(params, x, j)
        v -= a * e
    return v


@njit(cache=True)
def jit_grad(kind, params, x, out):
    """Write grad f(x) into ``out`` (same length as ``x``)."""
    d = x.shape[0]
    if kind == QUADRATIC:
        for i in range(d):
            g = 0.0
            for j in range(d):
                g += params[i * d + j] * (x[j] - params[d * d + j])
            out[i] = g
    elif kind == WIGGLY:
        out[0] = _wiggly_parts(params, x[0])[1]
    elif kind == DOUBLE_WELL:
        out[0] = x[0] * (x[0] * x[0] - 1.0) + params[0]
        for i in range(1, d):
            out[i] = x[i]
    elif kind == RASTRIGIN:
        for i in range(d):
            out[i] = params[0] * x[i] + params[1] * _TWO_PI * math.sin(_TWO_PI * x[i])
    elif kind == ABS_L1:
        for i in range(d):
            out[i] = params[0] * (1.0 if x[i] > 0 else (-1.0 if x[i] < 0 else 0.0))
    else:
        for i in range(d):
            out[i] = params[0] * x[i]
        for j in range(int(params[1])):
            a, w, e, off = _well_terms(params, x, j)
            for i in range(d):
                out[i] += a * e * (x[i] - params[off + i]) / (w * w)


@njit(cache=True)
def jit_hess(kind, params, x, out):
    """Write the Hessian of f at ``x`` into ``out`` (shape (d, d))."""
    d = x.shape[0]
    out[:, :] = 0.0
    if kind == QUADRATIC:
        for i in range(d):
            for j in range(d):
                out[i, j] = params[i * d + j]
    elif kind == WIGGLY:
        out[0, 0] = _wiggly_parts(params, x[0])[2]
    elif kind == DOUBLE_WELL:
        out[0, 0] = 3.0 * x[0] * x[0] - 1.0
        for i in range(1, d):
            out[i, i] = 1.0
    elif kind == RASTRIGIN:
        for i in range(d):
            out[i, i] = params[0] + params[1] * _TWO_PI * _TWO_PI * math.cos(_TWO_PI * x[i])
    elif kind == GAUSSIAN_WELLS:
        for i in range(d):
            out[i, i] = params[0]
        for j in range(int(params[1])):
            a, w, e, off = _well_terms(params, x, j)
            w2 = w * w
            for i in range(d):
                out[i, i] += a * e / w2
                for k in range(d):
                    out[i, k] -= a * e * (x[i] - params[off + i]) * (x[k] - params[off + k]) / (w2 * w2)
    # ABS_L1: zero away from the kink


@njit(cache=True, parallel=True)
def _values(kind, params, pts):
    out = np.empty(pts.shape[0])
    for n in prange(pts.shape[0]):
        out[n] = jit_value(kind, params, pts[n])
    return out


@njit(cache=True, parallel=True)
def _grads(kind, params, pts):
    out = np.empty_like(pts)
    for n in prange(pts.shape[0]):
        jit_grad(kind, params, pts[n], out[n])
    return out


@njit(cache=True, parallel=True)
def _hessians(kind, params, pts):
    d = pts.shape[1]
    out = np.empty((pts.shape[0], d, d))
    for n in prange(pts.shape[0]):
        jit_hess(kind, params, pts[n], out[n])
    return out


# --- numpy-facing class ---------------------------------------------------------------------------------
class Landscape:
    """A loss f on R^``dim``: value, gradient and Hessian, vectorised over points.

    Points are arrays of shape (..., dim). For ``dim == 1`` a plain array of shape (...) is also taken as a
    set of scalar points, and results then drop the trailing axis of length 1.
    """

    def __init__(self, kind: int, params: np.ndarray, dim: int, name: str, info: dict | None = None) -> None:
        self.kind = int(choice("kind", kind, range(len(_KIND_NAMES))))
        self.params = np.ascontiguousarray(finite_array(f"{_KIND_NAMES[self.kind]} parameters", params, ndim=1))
        self.dim = positive_int("dim", dim)
        _check_param_count(self.kind, self.params, self.dim)
        self.name = name
        self.info = dict(info or {})

    def _points(self, x) -> tuple[np.ndarray, tuple, bool]:
        arr = finite_array("x", x)
        squeeze = self.dim == 1 and (arr.ndim == 0 or arr.shape[-1] != 1)
        if squeeze:
            arr = arr[..., None]
        if arr.shape[-1] != self.dim:
            raise ValueError(f"x must have last axis of length dim={self.dim}, got shape {np.shape(x)}")
        lead = arr.shape[:-1]
        return np.ascontiguousarray(arr.reshape(-1, self.dim)), lead, squeeze

    def value(self, x) -> np.ndarray:
        """f at the points ``x``; shape ``x.shape[:-1]``."""
        pts, lead, _ = self._points(x)
        return _values(self.kind, self.params, pts).reshape(lead)

    def grad(self, x) -> np.ndarray:
        """grad f at the points ``x``; shape ``x.shape`` (the 1-D squeezed form keeps the input shape)."""
        pts, lead, squeeze = self._points(x)
        g = _grads(self.kind, self.params, pts).reshape(lead + (self.dim,))
        return g[..., 0] if squeeze else g

    def hessian(self, x) -> np.ndarray:
        """Hessian of f at the points ``x``; shape ``x.shape[:-1] + (dim, dim)``."""
        pts, lead, squeeze = self._points(x)
        h = _hessians(self.kind, self.params, pts).reshape(lead + (self.dim, self.dim))
        return h[..., 0, 0] if squeeze else h

    __call__ = value

    def on_grid(self, grid) -> np.ndarray:
        """f sampled at the cell centres of ``grid`` (shape ``grid.shape``)."""
        self._check_grid(grid)
        return grid.sample(self.value)

    def grad_on_grid(self, grid) -> np.ndarray:
        """grad f at the cell centres, shape ``grid.shape + (dim,)``."""
        self._check_grid(grid)
        pts = grid.points()
        return _grads(self.kind, self.params, np.ascontiguousarray(pts)).reshape(grid.shape + (self.dim,))

    def _check_grid(self, grid) -> None:
        if grid.ndim != self.dim:
            raise ValueError(f"grid has {grid.ndim} dimension(s) but the landscape {self.name!r} has dim={self.dim}")

    def to_dict(self) -> dict:
        return {"kind": self.kind, "params": self.params.tolist(), "dim": self.dim, "name": self.name,
                "info": self.info}

    @classmethod
    def from_dict(cls, d: dict) -> "Landscape":
        """The landscape of :meth:`to_dict`'s output; ValueError for missing keys or inconsistent parameters."""
        keys = ("kind", "params", "dim", "name")
        if not isinstance(d, dict) or any(k not in d for k in keys):
            raise ValueError(f"Landscape.from_dict needs a dict with keys {keys}, got {short_repr(d)}")
        return cls(d["kind"], d["params"], d["dim"], d["name"], d.get("info"))

    def __repr__(self) -> str:
        return f"Landscape({self.name!r}, dim={self.dim})"


_KIND_NAMES = ("quadratic", "wiggly", "double_well", "rastrigin", "abs_l1", "gaussian_wells")


def _check_param_count(kind: int, params: np.ndarray, dim: int) -> None:
    """ValueError unless ``params`` has exactly the length the Numba kernels read for ``kind`` and ``dim``."""
    n = params.size
    if kind == QUADRATIC:
        need = dim * dim + dim
    elif kind == WIGGLY:
        modes = params[0] if n else -1
        if dim != 1 or modes < 0 or modes != int(modes):
            raise ValueError(f"wiggly parameters must start with a whole number of modes >= 0 and dim must be 1, "
                             f"got dim={dim}, params[0]={modes}")
        need = 1 + 3 * int(modes)
    elif kind in (DOUBLE_WELL, ABS_L1):
        need = 1
    elif kind == RASTRIGIN:
        need = 2
    else:
        wells = params[1] if n > 1 else 0
        if wells < 1 or wells != int(wells):
            raise ValueError(f"gaussian_wells parameters need a whole number of wells >= 1, got {wells}")
        need = 2 + int(wells) * (2 + dim)
    if n != need:
        raise ValueError(f"{_KIND_NAMES[kind]} in dim {dim} needs {need} parameters, got {n}")


# --- constructors ---------------------------------------------------------------------------------------
def quadratic(A, center=None) -> Landscape:
    """f(x) = (x - c)^T A (x - c) / 2 with A symmetric (d x d); c defaults to 0."""
    A = np.atleast_2d(finite_array("A", A))
    d = A.shape[0]
    if A.shape != (d, d):
        raise ValueError(f"A must be a square matrix, got shape {A.shape}")
    if not np.allclose(A, A.T, rtol=0, atol=1e-12 * max(1.0, np.abs(A).max())):
        raise ValueError("A must be symmetric")
    c = np.zeros(d) if center is None else finite_array("center", center, shape=(d,))
    return Landscape(QUADRATIC, np.concatenate([A.ravel(), c]), d, "quadratic",
                     {"A": A.tolist(), "center": c.tolist()})


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
    params = np.concatenate([[n_modes], amps, freqs, phases])
    return Landscape(WIGGLY, params, 1, "wiggly", {"seed": seed, "n_modes": n_modes, "amplitude": amplitude})


def double_well(dim: int = 2, tilt: float = 0.0) -> Landscape:
    """f = (x_1^2 - 1)^2 / 4 + tilt x_1 + sum_{i>1} x_i^2 / 2: minima near x_1 = +-1, saddle at 0."""
    dim = positive_int("dim", dim)
    return Landscape(DOUBLE_WELL, np.array([float(tilt)]), dim, "double_well", {"tilt": float(tilt)})


def rastrigin(dim: int = 2, a: float = 1.0, b: float = 0.25) -> Landscape:
    """A multi-well surface f = sum_i a x_i^2 / 2 + b (1 - cos(2 pi x_i)), global minimum 0 at x = 0."""
    dim = positive_int("dim", dim)
    return Landscape(RASTRIGIN, np.array([positive("a", a), positive("b", b, allow_zero=True)]), dim,
                     "rastrigin", {"a": a, "b": b})


def abs_l1(dim: int = 1) -> Landscape:
    """f = sum_i |x_i| (gradient 0 taken at the kink)."""
    return Landscape(ABS_L1, np.array([1.0]), positive_int("dim", dim), "abs_l1")


def neg_abs_l1(dim: int = 1) -> Landscape:
    """f = -sum_i |x_i| (a concave kink: its Moreau envelope keeps it)."""
    return Landscape(ABS_L1, np.array([-1.0]), positive_int("dim", dim), "neg_abs_l1")


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
    params = np.concatenate([[q, nw], a, w, c.ravel()])
    return Landscape(GAUSSIAN_WELLS, params, d, "gaussian_wells",
                     {"centers": c.tolist(), "depths": a.tolist(), "widths": w.tolist(), "confinement": q})


def wide_narrow() -> Landscape:
    """1-D: a wide valley at x = -1 (depth 1, width 0.5) and a deeper narrow one at x = 1.5 (depth 1.3, width 0.06)."""
    return gaussian_wells([-1.0, 1.5], [1.0, 1.3], [0.5, 0.06], confinement=0.05)
