"""User Hamiltonians H(x, p) for u_t + H(x, grad u) = nu Laplace u (:func:`solve_inviscid`, :func:`solve_viscous`).

A :class:`Hamiltonian` wraps the user's ``@njit`` point function ``H(x, p) -> float`` (x the cell centre, p the
gradient, both float64 (d,)) with what a monotone scheme needs:

* ``bound``: an upper bound on |dH/dp_a| (the Lax-Friedrichs dissipation and the CFL speed): a number, one per
  axis, or an ``@njit bound(x, p_lo, p_hi, out)`` writing, per axis a, a bound of |dH/dp_a| over the box
  p_lo <= p <= p_hi (local Lax-Friedrichs). Required: there is no safe default.
* ``argmin`` (optional): for H convex and separable, H = sum_a h_a(x, p_a), an ``@njit argmin(x, out)``
  writing the minimiser p* of p -> H(x, p). It enables the Godunov flux (the exact Riemann solution for convex
  h_a: min over [p-, p+] of h_a when p- <= p+, max over {p-, p+} otherwise).

The numerical Hamiltonians (summed over axes for the Lax-Friedrichs dissipation):

    Lax-Friedrichs   H(x, (p- + p+) / 2) - sum_a alpha_a (p+_a - p-_a) / 2,   alpha_a = bound
    Godunov          H(x, q),  q_a = clamp(p*_a, p-_a, p+_a) if p-_a <= p+_a else argmax_{p-_a, p+_a} h_a

The solvers check ``bound`` against the |dH/dp_a| they meet (:meth:`Hamiltonian.check_bound`, before the run and
during it): a bound below it would take steps beyond the CFL limit and under-damp Lax-Friedrichs, silently.

``H=None`` in the solvers is the built-in H = |p|^2 / 2 of the HJ equations of SGD, evaluated by specialised
code (compiled without the user path).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numba import njit, types

from ..jitfuncs import as_cfunc, is_jitted
from ..validation import finite_array

H_SIG = types.float64(types.float64[::1], types.float64[::1])
BOUND_SIG = types.void(types.float64[::1], types.float64[::1], types.float64[::1], types.float64[::1])
ARGMIN_SIG = types.void(types.float64[::1], types.float64[::1])


# a bound may sit this much (relative) below the |dH/dp| measured by central differences of H at the central
# gradient before check_bound rejects it: the solver's one-sided p-, p+ differ from the central gradient by O(h)
BOUND_SLACK = 0.05


@njit(cache=True)
def _worst_speed(H, bound_fn, has_fn, bound, X, P, worst):
    """Over the points X (m, d) with gradients P (m, d): the largest ratio of |dH/dp_a| (central difference of H,
    step 1e-6 max(1, |p_a|)) to the declared bound on it; worst = (ratio, |dH/dp_a|, bound, a, point index)."""
    m, d = P.shape
    x, p, lo, hi, al = np.empty(d), np.empty(d), np.empty(d), np.empty(d), np.empty(d)
    worst[:] = 0.0
    for i in range(m):
        for a in range(d):
            x[a], p[a], lo[a], hi[a], al[a] = X[i, a], P[i, a], P[i, a], P[i, a], bound[a]
        if has_fn:
            bound_fn(x, lo, hi, al)
        for a in range(d):
            p0 = p[a]
            delta = 1e-6 * max(1.0, abs(p0))
            p[a] = p0 + delta
            h_plus = H(x, p)
            p[a] = p0 - delta
            h_minus = H(x, p)
            p[a] = p0
            speed = abs(h_plus - h_minus) / (2.0 * delta)
            ratio = speed / al[a] if al[a] > 0.0 else (np.inf if speed > 0.0 else 0.0)
            if not ratio <= worst[0]:  # also catches a NaN from H
                worst[0], worst[1], worst[2], worst[3], worst[4] = ratio, speed, al[a], a, i


def central_gradient(u: np.ndarray, grid) -> np.ndarray:
    """grad u by central differences (periodic wrap, or the mirror ghost cells of a Neumann axis): (*shape, d)."""
    parts = []
    for a, (h, periodic) in enumerate(zip(grid.spacing, grid.periodic)):
        pad = [(0, 0)] * u.ndim
        pad[a] = (1, 1)
        w = np.pad(u, pad, mode="wrap" if periodic else "symmetric")
        n = u.shape[a]
        parts.append((np.take(w, np.arange(2, n + 2), axis=a) - np.take(w, np.arange(n), axis=a)) / (2.0 * h))
    return np.stack(parts, axis=-1)


@njit(cache=True)
def _zero_bound(x, lo, hi, out):  # placeholders for the parts a Hamiltonian does not have (never called)
    out[:] = 0.0


@njit(cache=True)
def _zero_argmin(x, out):
    out[:] = 0.0


class Hamiltonian:
    """H(x, p) with its bound on |dH/dp| (and, for convex separable H, its minimiser in p); see the module doc.

    Examples
    --------
    u_t + (u_x + 1)^2 / 2 = 0 on [-1, 1]: |dH/dp| = |p + 1| <= 1 + max|u_x| <= 1 + pi for u0 = -cos(pi x)

    >>> @njit
    ... def H(x, p):
    ...     return 0.5 * (p[0] + 1.0) ** 2
    >>> @njit
    ... def argmin(x, out):
    ...     out[0] = -1.0
    >>> ham = Hamiltonian(H, bound=1.0 + np.pi, argmin=argmin)
    """

    def __init__(self, H: Callable, *, bound, argmin: Callable | None = None, name: str = "user") -> None:
        if not is_jitted(H):
            raise ValueError(f"H must be an @njit function H(x, p) -> float, got {type(H).__name__}")
        if bound is None:
            raise ValueError("bound is required: an upper bound on |dH/dp_a| (a number > 0, one per axis, or an "
                             "@njit bound(x, p_lo, p_hi, out)); Lax-Friedrichs and the CFL step need it")
        if argmin is not None and not is_jitted(argmin):
            raise ValueError(f"argmin must be an @njit function argmin(x, out) or None, got {type(argmin).__name__}")
        self.name = str(name)
        self.H = as_cfunc("H", H, H_SIG)
        if callable(bound):
            if not is_jitted(bound):
                raise ValueError("bound must be a number, one number per axis, or an @njit bound(x, p_lo, p_hi, out)")
            self.bound_fn, self.bound = as_cfunc("bound", bound, BOUND_SIG), None
        else:
            b = np.atleast_1d(finite_array("bound", bound))
            if b.ndim != 1 or not 1 <= b.size <= 3 or np.any(b <= 0):
                raise ValueError(f"bound must be > 0 (a number or one per axis, up to 3), got {bound!r}")
            self.bound_fn, self.bound = None, b
        self.argmin = None if argmin is None else as_cfunc("argmin", argmin, ARGMIN_SIG)

    @property
    def convex_separable(self) -> bool:
        return self.argmin is not None

    def pack(self, ndim: int) -> tuple:
        """(H, bound function, argmin, bound per axis (3,), has bound function) for the kernels."""
        if self.bound is not None and self.bound.size not in (1, ndim):
            raise ValueError(f"bound must have 1 or {ndim} entries for a {ndim}-D grid, got {self.bound.size}")
        const = np.zeros(3)
        if self.bound is not None:
            const[3 - ndim:] = np.broadcast_to(self.bound, (ndim,))
        return (self.H, self.bound_fn or _placeholders()[0], self.argmin or _placeholders()[1], const,
                self.bound_fn is not None)

    def check_bound(self, u: np.ndarray, grid, t: float) -> None:
        """ValueError naming ``bound`` if it lies more than :data:`BOUND_SLACK` below |dH/dp_a| at some cell of the
        field ``u`` (grid shape) at time ``t``, with p = the central-difference gradient of u there."""
        from ..jitfuncs import jit_call

        d = grid.ndim
        H, bound_fn, _, const, has_fn = self.pack(d)
        P = central_gradient(np.asarray(u, dtype=float), grid).reshape(-1, d)
        worst, X = np.zeros(5), grid.points()
        jit_call(_worst_speed, H, bound_fn, has_fn, np.ascontiguousarray(const[3 - d:]), X, P, worst)
        if not worst[0] <= 1.0 + BOUND_SLACK:
            a, i = int(worst[3]), int(worst[4])
            if not np.isfinite(worst[1]):
                raise ValueError(f"H: the Hamiltonian {self.name!r} is not finite near p = grad u "
                                 f"{np.round(P[i], 6).tolist()} at x = {np.round(X[i], 6).tolist()} (t = {t:g})")
            raise ValueError(
                f"bound: the Hamiltonian {self.name!r} declares |dH/dp_{a}| <= {worst[2]:.4g}, but |dH/dp_{a}| = "
                f"{worst[1]:.4g} at x = {np.round(X[i], 6).tolist()} with p = grad u "
                f"{np.round(P[i], 6).tolist()} (t = {t:g}); bound must be an upper bound on |dH/dp_a| over the "
                f"gradients the solution takes (the CFL step and the Lax-Friedrichs dissipation use it)")

    def describe(self) -> dict:
        return {"name": self.name, "bound": "function" if self.bound is None else self.bound.tolist(),
                "convex_separable": self.convex_separable}


_PLACEHOLDERS: list = []


def _placeholders() -> tuple:
    if not _PLACEHOLDERS:
        _PLACEHOLDERS.extend([as_cfunc("bound", _zero_bound, BOUND_SIG),
                              as_cfunc("argmin", _zero_argmin, ARGMIN_SIG)])
    return tuple(_PLACEHOLDERS)


def as_hamiltonian(H) -> Hamiltonian | None:
    """``H`` if it is None (|p|^2 / 2) or a :class:`Hamiltonian`; ValueError naming H otherwise."""
    if H is not None and not isinstance(H, Hamiltonian):
        raise ValueError(f"H must be a pde_sgd.hj.Hamiltonian (H(x, p) with its bound on |dH/dp|) or None for "
                         f"|p|^2/2, got {type(H).__name__}")
    return H
