"""Drift and diffusion specifications for the SDE kernels, and the Numba point functions that evaluate them.

Diffusion D (THEORY.md convention dX = b dt + sqrt(2 beta^-1 D(X)) dW) may be given as a shared
:class:`pde_sgd.diffusion.Diffusion` spec (mapped onto the forms below; a low-rank V is the constant factor), or

* a scalar ``c`` (D = c I) or a constant symmetric PSD matrix (dim, dim): a constant factor S with S S^T = D
  (symmetric square root, zero modes dropped) is used;
* a field on a :class:`~pde_sgd.grid.Grid`: values of shape ``(*grid.shape, dim, dim)`` at the cell centres,
  interpolated multilinearly (a convex combination, so PSD is kept); outside the centres the value is held
  constant (Neumann axes) or wrapped (periodic axes);
* a jitted callable ``D(x, t, out)`` writing the (dim, dim) matrix at ``x`` into ``out`` (a
  ``numba.cfunc`` of signature :data:`DIFFUSION_SIG`, or an ``@njit`` function which is wrapped into one).

For fields and callables the factor is the PSD Cholesky factor of D(x), computed at every evaluation.
The drift is ``-M grad f(x)`` for a landscape f and a constant matrix M (default I; M = D + Q gives the
A-type form of THEORY.md section 3), ``-M g(x)`` for a gradient field g on a grid, a jitted callable
``b(x, t, out)`` (:data:`DRIFT_SIG`), or a shared :class:`pde_sgd.drift.Drift` spec mapped onto these modes
(a field b is the gradient field -b, a linear b = -F x is the landscape |x|^2 / 2 with M = F).
Kernels receive a landscape's gradient and the callables as lanes cfuncs (:func:`pde_sgd.jitfuncs.lanes_cfunc`):
one call per block of paths, the user's @njit code inlined.
"""
from __future__ import annotations

import math

import numpy as np
from numba import cfunc, njit

from ..grid import Grid
from ..diffusion import DIFFUSION_SIG, Diffusion
from ..drift import DRIFT_SIG, Drift
from ..gridfields import GridData
from ..jitfuncs import as_cfunc, lanes_cfunc, lanes_signature
from ..landscapes import GRAD_SIG, Landscape, quadratic
from ..validation import finite_array, positive, spd_matrices

DRIFT_LANDSCAPE, DRIFT_FIELD, DRIFT_CALLABLE = 0, 1, 2
DIFF_CONST, DIFF_FIELD, DIFF_CALLABLE = 0, 1, 2
# status codes of chol_psd / eval_factor (shared with the kernels' per-path status; 1 is "paths non-finite")
D_OK, D_NOT_PSD, D_NOT_SYMMETRIC, D_NON_FINITE = 0, 2, 3, 4


# The kernel variant of a mode never calls the placeholder of another mode's slot: an empty body compiles quickest.
@cfunc(lanes_signature(DRIFT_SIG), cache=True)
def _no_drift(X, t, out):  # placeholder passed when the drift is not a callable
    return


@cfunc(lanes_signature(GRAD_SIG), cache=True)
def _no_gradient(X, p, out):  # placeholder passed when the drift is not a landscape
    return


@cfunc(lanes_signature(DIFFUSION_SIG), cache=True)
def _no_diffusion(X, t, out):  # placeholder passed when D is not a callable
    return


class KernelDiffusion:
    """A validated diffusion in the kernels' form; see the module docstring. Build with :func:`as_diffusion`."""

    def __init__(self, mode: int, dim: int, factor: np.ndarray | None = None, field: GridData | None = None,
                 fn=None, matrix: np.ndarray | None = None) -> None:
        self.mode, self.dim = mode, dim
        self.factor = np.zeros((dim, dim)) if factor is None else factor
        self.field = field
        self.fn = fn
        self.matrix = matrix

    def kernel_args(self) -> tuple:
        """(mode, constant factor, field arrays, callable D over lanes (:func:`pde_sgd.jitfuncs.lanes_cfunc`)):
        placeholders where the mode does not use them (one signature). A 2-D field's values are packed as the
        columns D_00, D_01, D_11 (D fields are exactly symmetric: :func:`pde_sgd.validation.spd_matrices`)."""
        fld = self.field.arrays() if self.field is not None else GridData.empty(self.dim, self.dim * self.dim)
        if self.field is not None and self.dim == 2:
            fld = fld[:4] + (np.ascontiguousarray(fld[4][:, [0, 1, 3]]),)
        return (self.mode, np.ascontiguousarray(self.factor)) + fld + (
            _no_diffusion if self.fn is None else lanes_cfunc(self.fn),)

    def describe(self) -> dict:
        names = {DIFF_CONST: "constant", DIFF_FIELD: "grid field", DIFF_CALLABLE: "callable"}
        out = {"mode": names[self.mode]}
        if self.matrix is not None:
            out["D"] = self.matrix.tolist()
        if self.field is not None:
            out["grid"] = self.field.grid.to_dict()
        return out


def psd_factor(D: np.ndarray, rtol: float = 1e-12) -> np.ndarray:
    """A factor S (dim, m) with S S^T = D for symmetric PSD D, from its eigen-decomposition (zero modes dropped)."""
    lam, V = np.linalg.eigh(D)
    keep = lam > rtol * max(float(np.abs(lam).max()), 1e-300)
    if not np.any(keep):
        return np.zeros((D.shape[0], 1))
    return np.ascontiguousarray(V[:, keep] * np.sqrt(lam[keep]))


def as_diffusion(D, dim: int, grid: Grid | None = None) -> KernelDiffusion:
    """Validate ``D`` (a :class:`pde_sgd.diffusion.Diffusion`, scalar, (dim, dim) matrix, grid field with ``grid``,
    or jitted callable) into the kernels' form."""
    if isinstance(D, (KernelDiffusion, Diffusion)) and D.dim != dim:
        raise ValueError(f"D has dim={D.dim} but the state has dim={dim}")
    if isinstance(D, KernelDiffusion):
        return D
    if isinstance(D, Diffusion):
        return _from_spec(D)
    if callable(D) and not isinstance(D, np.ndarray):
        return KernelDiffusion(DIFF_CALLABLE, dim, fn=as_cfunc("D", D, DIFFUSION_SIG))  # checked along the run
    arr = np.asarray(D, dtype=np.float64) if not np.isscalar(D) else None
    if arr is None or arr.ndim == 0:
        c = positive("D", D, allow_zero=True)
        mat = c * np.eye(dim)
        return KernelDiffusion(DIFF_CONST, dim, factor=psd_factor(mat), matrix=mat)
    if grid is None:
        mat = spd_matrices("D", arr, dim)
        if mat.shape != (dim, dim):
            raise ValueError(f"D must be a scalar, a ({dim}, {dim}) matrix, or a field with grid=..., got shape {arr.shape}")
        return KernelDiffusion(DIFF_CONST, dim, factor=psd_factor(mat), matrix=mat)
    if grid.ndim != dim:
        raise ValueError(f"grid has {grid.ndim} dimension(s) but the state has dim={dim}")
    if arr.shape != grid.shape + (dim, dim):
        raise ValueError(f"D field must have shape {grid.shape + (dim, dim)} on this grid, got {arr.shape}")
    vals = spd_matrices("D", arr, dim)
    return KernelDiffusion(DIFF_FIELD, dim, field=GridData(grid, vals, (dim, dim)))


def _from_spec(D: Diffusion) -> KernelDiffusion:
    """The kernels' form of a shared diffusion spec (low rank: its factor V is the constant noise factor)."""
    if D.kind == "constant":
        return KernelDiffusion(DIFF_CONST, D.dim, factor=psd_factor(D.matrix), matrix=D.matrix)
    if D.kind == "low_rank":
        return KernelDiffusion(DIFF_CONST, D.dim, factor=D.factor, matrix=D.matrix)
    if D.kind == "field":
        return KernelDiffusion(DIFF_FIELD, D.dim, field=GridData(D.grid, D.values, (D.dim, D.dim)))
    return KernelDiffusion(DIFF_CALLABLE, D.dim, fn=D.fn)


class KernelDrift:
    """A validated drift in the kernels' form: -M grad f (landscape), -M g (gradient field on a grid) or a jitted
    callable. Build with :func:`as_drift`."""

    def __init__(self, mode: int, dim: int, *, landscape: Landscape | None = None, M: np.ndarray | None = None,
                 field: GridData | None = None, fn=None, spec: Drift | None = None) -> None:
        self.mode, self.dim, self.landscape, self.field, self.spec = mode, dim, landscape, field, spec
        self.M = np.ascontiguousarray(np.eye(dim) if M is None else M)
        self.fn = fn

    def kernel_args(self) -> tuple:
        """(mode, landscape params, its gradient over lanes (:func:`pde_sgd.jitfuncs.lanes_cfunc`), M, gradient
        field arrays, callable drift over lanes): placeholders where the mode does not use them (one signature)."""
        if self.landscape is not None:
            lf = self.landscape.jit
            params, lanes = lf[3], lanes_cfunc(lf[1])
        else:
            params, lanes = np.zeros(0), _no_gradient
        fld = self.field.arrays() if self.field is not None else GridData.empty(self.dim, self.dim)
        return (self.mode, params, lanes, self.M) + fld + (_no_drift if self.fn is None else lanes_cfunc(self.fn),)

    def describe(self) -> dict:
        if self.spec is not None:
            return self.spec.describe()
        out = {"mode": ["landscape", "grid field", "callable"][self.mode], "precondition": self.M.tolist()}
        if self.landscape is not None:
            out["landscape"] = self.landscape.to_dict()
        return out


def as_drift(drift, dim: int, precondition=None, grid: Grid | None = None) -> KernelDrift:
    """Validate ``drift`` (a :class:`pde_sgd.drift.Drift`, a Landscape, an array of grad f on ``grid``, or a
    jitted b(x, t, out)) with an optional ``precondition`` M (gradient drifts only) into the kernels' form."""
    M = None if precondition is None else positive_definite_precondition(precondition, dim)
    if isinstance(drift, Drift):
        drift.check_dim("landscape", dim)
        if drift.kind == "gradient":
            drift = drift.landscape
        elif M is not None:
            raise ValueError(f"precondition applies to gradient drifts only, got a {drift.kind!r} Drift")
        else:
            return _drift_from_spec(drift)
    if isinstance(drift, Landscape):
        if drift.dim != dim:
            raise ValueError(f"landscape has dim={drift.dim} but x0 has dim={dim}")
        return KernelDrift(DRIFT_LANDSCAPE, dim, landscape=drift, M=M)
    if callable(drift) and not isinstance(drift, np.ndarray):
        return KernelDrift(DRIFT_CALLABLE, dim, fn=Drift.function(drift, dim).fn, M=M)   # checked first
    if drift is None or not hasattr(drift, "__len__"):
        raise TypeError(f"landscape must be a pde_sgd Landscape, an array of grad f on drift_grid, an @njit drift "
                        f"b(x, t, out) or a pde_sgd.Drift, got {type(drift).__name__}")
    if grid is None:
        raise ValueError("a gradient field drift needs grid=...")
    g = finite_array("drift", drift, shape=grid.shape + (dim,))
    return KernelDrift(DRIFT_FIELD, dim, field=GridData(grid, g, (dim,)), M=M)


def positive_definite_precondition(M, dim: int) -> np.ndarray:
    """``M`` as a finite (dim, dim) array whose symmetric part (M + M^T) / 2 is positive definite (smallest
    eigenvalue > 1e-12 times the largest |eigenvalue|): then -M grad f descends f, whatever the antisymmetric
    part (M = D + Q of the A-type form). ValueError naming ``precondition`` and the eigenvalue otherwise."""
    M = finite_array("precondition", M, shape=(dim, dim))
    lam = np.linalg.eigvalsh(0.5 * (M + M.T))
    if not lam[0] > 1e-12 * max(abs(lam[0]), abs(lam[-1])):
        raise ValueError(f"precondition must be positive definite (its symmetric part (M + M^T)/2 positive "
                         f"definite), but that part has the eigenvalue {lam[0]:.3g}: -M grad f would not descend f")
    return M


def _drift_from_spec(spec: Drift) -> KernelDrift:
    """The kernels' form of a non-gradient shared drift spec (field b -> gradient field -b; -F x -> M = F on
    the landscape |x|^2 / 2; a function -> its cfunc)."""
    d = spec.dim
    if spec.kind == "field":
        return KernelDrift(DRIFT_FIELD, d, field=GridData(spec.grid, -spec.values, (d,)), spec=spec)
    if spec.kind == "linear":
        return KernelDrift(DRIFT_LANDSCAPE, d, landscape=quadratic(np.eye(d)), M=spec.matrix, spec=spec)
    return KernelDrift(DRIFT_CALLABLE, d, fn=spec.fn, spec=spec)


# --- Numba point functions ------------------------------------------------------------------------------


@njit(cache=True)
def chol_psd(A, L):
    """Lower Cholesky factor of a symmetric PSD matrix into ``L``; returns a status code (``D_OK`` on success).

    ``D_NON_FINITE`` for a NaN/inf entry, ``D_NOT_SYMMETRIC`` if |A_ij - A_ji| > 1e-10 max|A|, ``D_NOT_PSD`` if
    a pivot is < -1e-8 trace(A), or if a pivot <= tol = 1e-14 trace(A) is skipped (zero column: semi-definite D)
    while a residual |A_ij - sum_k L_ik L_jk| below it exceeds sqrt(tol A_ii) + tol: for PSD A the Schur
    complement is PSD, so |residual|^2 <= pivot * A_ii (Cauchy-Schwarz), and a larger one means L L^T != A.
    """
    d = A.shape[0]
    if d == 2:  # fast path, same operations as the loop below: both pivots clear of tol, finite, symmetric
        a00, a01, a10, a11 = A[0, 0], A[0, 1], A[1, 0], A[1, 1]
        amax = max(max(abs(a00), abs(a01)), max(abs(a10), abs(a11)))  # NaN -> comparisons fail -> general path
        tol = (abs(a00) + abs(a11)) * 1e-14
        if amax < np.inf and abs(a10 - a01) <= 1e-10 * amax and a00 > tol:
            l00 = np.sqrt(a00)
            l10 = a10 / l00
            s = a11 - l10 * l10
            if s > tol:
                L[0, 0], L[0, 1], L[1, 0], L[1, 1] = l00, 0.0, l10, np.sqrt(s)
                return D_OK
    amax = 0.0
    tol = 0.0
    for i in range(d):
        tol += abs(A[i, i])
        for j in range(d):
            a = A[i, j]
            if not math.isfinite(a):
                return D_NON_FINITE
            amax = max(amax, abs(a))
    for i in range(d):
        for j in range(i):
            if abs(A[i, j] - A[j, i]) > 1e-10 * amax:
                return D_NOT_SYMMETRIC
    tol *= 1e-14
    L[:, :] = 0.0
    for j in range(d):
        s = A[j, j]
        for k in range(j):
            s -= L[j, k] * L[j, k]
        if s <= tol:
            if s < -1e6 * tol:
                return D_NOT_PSD
            for i in range(j + 1, d):
                r = A[i, j]
                for k in range(j):
                    r -= L[i, k] * L[j, k]
                if abs(r) > math.sqrt(tol * abs(A[i, i])) + tol:
                    return D_NOT_PSD
            continue
        ljj = np.sqrt(s)
        L[j, j] = ljj
        for i in range(j + 1, d):
            s = A[i, j]
            for k in range(j):
                s -= L[i, k] * L[j, k]
            L[i, j] = s / ljj
    return D_OK
