"""torchsde bridge: the SGD SDE as torch modules (Ito; diagonal or general noise), on CPU or CUDA.

    dX = -M grad f(X) dt + sqrt(2 beta^-1 D(X)) dW      (THEORY.md convention)

torch is imported inside this module only (``import pde_sgd.sde`` does not import it). Build a module with
:func:`make_sde` and integrate it with :func:`run` (``torchsde.sdeint``). Inputs:

drift (``grad``)
    * a shared :class:`pde_sgd.Drift` spec b (gradient, field, function, linear; the bridge integrates -grad = b),
    * a :class:`~pde_sgd.landscapes.Landscape`: its torch gradient (analytic for the built-ins, given or
      derived for user landscapes, see :meth:`~pde_sgd.landscapes.Landscape.torch_grad`),
    * a callable ``grad(x) -> grad f(x)`` on torch tensors (batch, dim) -> (batch, dim), e.g. a network's loss
      gradient on a 2-D slice or in full parameter space,
    * an array ``(*grid.shape, dim)`` of grad f at the cell centres of ``drift_grid`` (multilinear, as the
      Numba kernels: held constant beyond the outer centres on Neumann axes, wrapped on periodic ones).
diffusion (``D``)
    * a shared :class:`pde_sgd.diffusion.Diffusion` spec (constant, field, @njit function, low rank),
    * a scalar or a constant (dim, dim) matrix: factor S with S S^T = D (diagonal D -> ``noise_type="diagonal"``),
    * a field ``(*grid.shape, dim, dim)`` on ``grid`` (e.g. D captured from a network on a 2-D slice):
      interpolated, then Cholesky (with a 1e-12 trace jitter for semi-definite D; in closed form for dim = 2),
    * :class:`LowRank` ``(V)``: D = V V^T with V a constant (dim, r) array or a callable x -> (batch, dim, r)
      (full parameter space: r << dim noise columns, never forming D),
    * a callable ``D(x) -> (batch, dim, dim)``.

``precondition`` M (dim, dim) gives the A-type drift -(D + Q) grad Phi. ``device="auto"`` picks CUDA when present.

No host sync per step: ``f`` and ``g`` only queue device work (no ``.item()``, no Python branch on a tensor),
unless the drift or D is a numpy function (``Drift``/``Diffusion`` without a torch form, evaluated on the host).
A D(x) that is non-finite or not positive semi-definite at a visited x is recorded on the device by ``g`` and
reported once, by :func:`run` after the integration (or by the module's ``check_noise()`` when ``sdeint`` is
called directly), as a ValueError.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..diffusion import Diffusion
from ..drift import Drift
from ..grid import Grid
from ..landscapes import Landscape, as_landscape
from ..results import Result
from ..validation import NumericalInstability, finite_array, positive, positive_int, spd_matrices
from .fields import positive_definite_precondition, psd_factor


def _torch():
    import torch
    return torch


class LowRank:
    """D = V V^T from a factor V: a constant (dim, r) array or a callable x (batch, dim) -> (batch, dim, r)."""

    def __init__(self, V: Any) -> None:
        self.V = V if callable(V) else finite_array("V", V, ndim=2)


def landscape_grad(landscape: Landscape, device=None, dtype=None) -> Callable:
    """A torch function x (batch, dim) -> grad f(x): the landscape's torch form (:meth:`Landscape.torch_grad`)."""
    return as_landscape(landscape).torch_grad(device, dtype)


class GridInterpolator:
    """Multilinear interpolation of a cell-centred field (*grid.shape, k) on a Grid, in torch (batched)."""

    def __init__(self, grid: Grid, values: np.ndarray, device=None, dtype=None) -> None:
        torch = _torch()
        self.ndim = grid.ndim
        self.lower = torch.tensor(grid.lower, device=device, dtype=dtype)
        self.h = torch.tensor(grid.spacing, device=device, dtype=dtype)
        self.shape = grid.shape
        self.periodic = grid.periodic
        self.k = int(np.prod(values.shape[grid.ndim:]))
        self.values = torch.as_tensor(np.ascontiguousarray(values).reshape(grid.size, self.k), device=device,
                                      dtype=dtype)
        self.strides = [int(np.prod(grid.shape[a + 1:])) for a in range(grid.ndim)]

    def __call__(self, x):
        torch = _torch()
        s = (x - self.lower) / self.h - 0.5
        lo, hi, w_lo, w_hi = [], [], [], []   # per axis: the two flat-index contributions and their weights
        for a in range(self.ndim):
            n, sa = self.shape[a], s[:, a]
            if self.periodic[a]:
                fl = torch.floor(sa)
                w = sa - fl
                i0 = fl.long() % n
                i1 = (i0 + 1) % n
            else:
                sa = sa.clamp(0.0, n - 1.0)
                fl = torch.floor(sa).clamp(max=n - 2)
                w = sa - fl
                i0 = fl.long()
                i1 = i0 + 1
            lo.append(i0 * self.strides[a]), hi.append(i1 * self.strides[a])
            w_lo.append(1.0 - w), w_hi.append(w)
        out = None
        for corner in range(1 << self.ndim):
            bits = [(corner >> a) & 1 for a in range(self.ndim)]
            idx, wt = (hi if bits[0] else lo)[0], (w_hi if bits[0] else w_lo)[0]
            for a in range(1, self.ndim):
                idx = idx + (hi if bits[a] else lo)[a]
                wt = wt * (w_hi if bits[a] else w_lo)[a]
            term = torch.index_select(self.values, 0, idx)
            out = term.mul_(wt[:, None]) if out is None else out.addcmul_(wt[:, None], term)
        return out


def make_sde(grad, D, beta: float, *, grid: Grid | None = None, drift_grid: Grid | None = None,
             precondition=None, dim: int | None = None, device: str = "auto", dtype=None):
    """A torchsde-compatible module (``f``, ``g``, ``noise_type``, ``sde_type="ito"``) for the SGD SDE.

    See the module docstring for the accepted ``grad`` and ``D``. ``dim`` is needed only when neither
    ``grad`` nor ``D`` reveals it (a callable drift with a callable D).
    """
    torch = _torch()
    from ..devices import resolve_device  # "auto": CUDA when present

    dev = resolve_device(device)
    dtype = dtype or torch.float64
    beta = positive("beta", beta)
    if isinstance(grad, Drift):
        if dim is not None:
            grad.check_dim("grad", dim)
        if grad.kind != "gradient" and precondition is not None:
            raise ValueError(f"precondition applies to gradient drifts only, got a {grad.kind!r} Drift")
        dim = grad.dim
        grad = grad.landscape if grad.kind == "gradient" else _negative_drift(grad, dev, dtype)
    if isinstance(grad, Landscape):
        dim = grad.dim
        grad_fn = landscape_grad(grad, dev, dtype)
    elif callable(grad):
        grad_fn = grad
    else:
        if drift_grid is None:
            raise ValueError("a gradient field drift needs drift_grid=...")
        dim = drift_grid.ndim
        field = GridInterpolator(drift_grid, finite_array("grad", grad, shape=drift_grid.shape + (dim,)), dev, dtype)
        grad_fn = field
    if dim is None:
        if isinstance(D, Diffusion):
            dim = D.dim
        elif isinstance(D, LowRank) and not callable(D.V):
            dim = D.V.shape[0]
        elif grid is not None:
            dim = grid.ndim
        elif np.ndim(D) == 2:
            dim = np.shape(D)[0]
        else:
            raise ValueError("dim is required when neither grad nor D fixes the dimension")
    M = None if precondition is None else torch.as_tensor(
        positive_definite_precondition(precondition, dim), device=dev, dtype=dtype)
    scale = math.sqrt(2.0 / beta)
    checks = NoiseChecks(dev)
    noise_type, g_fn, m = _diffusion(D, dim, grid, dev, dtype, scale, checks)

    class SGDSDE(torch.nn.Module):
        sde_type = "ito"

        def __init__(self):
            super().__init__()
            self.noise_type = noise_type
            self.dim, self.n_noise, self.beta, self.device = dim, m, beta, dev

        def f(self, t, y):
            g = grad_fn(y)
            return -(g @ M.T) if M is not None else -g

        def g(self, t, y):
            return g_fn(y)

        def reset_checks(self) -> None:
            checks.reset()

        def check_noise(self) -> None:
            checks.raise_if_failed()

    return SGDSDE()


class NoiseChecks:
    """On-device flags (non-finite D, D not positive semi-definite) set by the factorisations of a run without a
    host sync; :meth:`raise_if_failed` reads them once."""

    def __init__(self, device) -> None:
        self.flags = _torch().zeros(2, dtype=_torch().bool, device=device)

    def reset(self) -> None:
        self.flags.zero_()

    def record(self, nonfinite, indefinite) -> None:
        """OR the (0-d bool tensor) failures of one factorisation into the flags (device ops only)."""
        torch = _torch()
        self.flags.logical_or_(torch.stack([nonfinite, indefinite]))

    def raise_if_failed(self) -> None:
        nonfinite, indefinite = (bool(v) for v in self.flags.cpu())
        if nonfinite:
            raise ValueError("D(x) is non-finite (NaN or inf) at some x: D must be a finite symmetric positive "
                             "semi-definite matrix at every x")
        if indefinite:
            raise ValueError("D(x) is not positive semi-definite (or not symmetric) at some x of the paths: "
                             "D must be a finite symmetric positive semi-definite matrix at every x")


def factor(Dx, checks: NoiseChecks, scale: float):
    """scale * L with L L^T = D(x) + 1e-12 tr(D) I for a batch (batch, dim, dim) of D (lower triangle read),
    failures recorded in ``checks``: in closed form for dim = 2,

        L11 = sqrt(a), L21 = b / L11, L22 = sqrt(c - L21^2)      for D = [[a, .], [b, c]] (jittered),

    ``torch.linalg.cholesky_ex`` otherwise. A pivot <= 0 (D not positive semi-definite beyond the jitter) or a
    non-finite entry is recorded; the factor returned is then meaningless (the run raises)."""
    torch = _torch()
    dim = Dx.shape[-1]
    if dim == 2:
        return factor_2x2(Dx[:, 0, 0], Dx[:, 1, 0], Dx[:, 1, 1], checks, scale)
    tr = torch.diagonal(Dx, dim1=-2, dim2=-1).sum(-1).clamp_min(1e-300)
    eye = torch.eye(dim, device=Dx.device, dtype=Dx.dtype)
    L, info = torch.linalg.cholesky_ex(Dx + 1e-12 * tr[:, None, None] * eye)
    checks.record(~torch.isfinite(Dx).all(), (info != 0).any())
    return scale * L


def factor_2x2(a, b, c, checks: NoiseChecks, scale: float):
    """:func:`factor` of D = [[a, b], [b, c]] given its entries (batch,) each."""
    torch = _torch()
    jitter = 1e-12 * (a + c).clamp_min(1e-300)
    nonfinite = ~(torch.isfinite(a) & torch.isfinite(b) & torch.isfinite(c)).all()
    a, c = a + jitter, c + jitter
    l11 = a.clamp_min(1e-300).sqrt()
    l21 = b / l11
    schur = c - l21 * l21
    checks.record(nonfinite, ~((a > 0) & (schur > 0)).all())
    return torch.stack([l11, torch.zeros_like(l11), l21, schur.clamp_min(0.0).sqrt()], -1).mul_(scale).view(-1, 2, 2)


def _negative_drift(drift: Drift, dev, dtype) -> Callable:
    """-b as a torch function x (batch, dim) -> (batch, dim) for a non-gradient shared drift spec (the
    bridge's drift is -grad)."""
    torch = _torch()
    if drift.kind == "linear":
        F = torch.as_tensor(drift.matrix, device=dev, dtype=dtype)
        return lambda y: y @ F.T
    if drift.kind == "field":
        return GridInterpolator(drift.grid, -drift.values, dev, dtype)
    if drift.torch_fn is not None:
        return lambda y: -drift.torch_fn(y)
    return lambda y: -torch.as_tensor(drift.at(y.detach().cpu().numpy()), device=y.device, dtype=y.dtype)


def _diffusion(D, dim, grid, dev, dtype, scale, checks: NoiseChecks):
    """(noise_type, g(y), number of noise columns) for the accepted diffusion specifications."""
    torch = _torch()

    def chol(Dx):
        return factor(Dx, checks, scale)

    if isinstance(D, Diffusion):  # the shared spec, mapped onto the forms below
        if D.dim != dim:
            raise ValueError(f"D has dim={D.dim} but the state has dim={dim}")
        if D.kind == "function":
            if D.torch_fn is not None:
                return "general", lambda y: chol(D.torch_fn(y)), dim
            return "general", lambda y: chol(torch.as_tensor(D.at(y.detach().cpu().numpy()), device=y.device,
                                                             dtype=y.dtype)), dim
        if D.kind == "field":
            grid, D = D.grid, D.values
        else:
            D = LowRank(D.factor) if D.kind == "low_rank" else D.matrix
    if isinstance(D, LowRank):
        if callable(D.V):
            return "general", lambda y: scale * D.V(y), None
        V = torch.as_tensor(D.V, device=dev, dtype=dtype)
        if V.shape[0] != dim:
            raise ValueError(f"LowRank V must have {dim} rows, got shape {tuple(V.shape)}")
        return "general", lambda y: (scale * V).expand(y.shape[0], -1, -1), V.shape[1]
    if callable(D):
        return "general", lambda y: chol(D(y)), dim
    arr = np.asarray(D, dtype=float)
    if grid is not None and arr.ndim > 2:
        if arr.shape != grid.shape + (dim, dim):
            raise ValueError(f"D field must have shape {grid.shape + (dim, dim)}, got {arr.shape}")
        arr = spd_matrices("D", arr, dim)
        if dim == 2:  # interpolate the three entries the closed-form factor reads
            abc = GridInterpolator(grid, np.stack([arr[..., 0, 0], arr[..., 1, 0], arr[..., 1, 1]], -1), dev, dtype)
            return "general", lambda y: factor_2x2(*abc(y).unbind(1), checks, scale), dim
        interp = GridInterpolator(grid, arr, dev, dtype)
        return "general", lambda y: chol(interp(y).reshape(-1, dim, dim)), dim
    mat = positive("D", float(arr), allow_zero=True) * np.eye(dim) if arr.ndim == 0 else spd_matrices("D", arr, dim)
    if mat.shape != (dim, dim):
        raise ValueError(f"D must be a scalar, a ({dim}, {dim}) matrix, a grid field, LowRank or callable")
    if np.allclose(mat, np.diag(np.diag(mat))):
        sd = torch.as_tensor(scale * np.sqrt(np.diag(mat)), device=dev, dtype=dtype)
        return "diagonal", lambda y: sd.expand(y.shape[0], -1), dim
    S = torch.as_tensor(scale * psd_factor(mat), device=dev, dtype=dtype)
    return "general", lambda y: S.expand(y.shape[0], -1, -1), S.shape[1]


def run(sde, x0, *, T: float, dt: float, n_paths: int, seed: int, method: str = "euler",
        n_saves: int = 1) -> Result:
    """Integrate ``sde`` with ``torchsde.sdeint`` (fixed step ``dt``) from x0 (dim,) or (n_paths, dim).

    Returns a Result ``"sde.torchsde"`` with ``times`` (n_saves + 1,) and ``x`` (n_saves + 1, n_paths, dim) as
    numpy arrays. ``method``: any fixed-step torchsde method valid for the noise type (``"euler"``;
    ``"milstein"`` for diagonal noise).
    """
    torch = _torch()
    import torchsde

    if not all(hasattr(sde, a) for a in ("dim", "device", "n_noise", "f", "g", "check_noise")):
        raise TypeError(f"sde must be the module returned by make_sde, got {type(sde).__name__}")
    T, dt = positive("T", T), positive("dt", dt)
    n_paths, seed = positive_int("n_paths", n_paths), positive_int("seed", seed, minimum=0)
    x = np.asarray(finite_array("x0", x0), dtype=float)
    x = np.broadcast_to(x, (n_paths, sde.dim)) if x.ndim == 1 else x
    if x.shape != (n_paths, sde.dim):
        raise ValueError(f"x0 must have shape ({sde.dim},) or ({n_paths}, {sde.dim}), got {np.shape(x0)}")
    dtype = torch.float64
    y0 = torch.as_tensor(np.ascontiguousarray(x), device=sde.device, dtype=dtype)
    ts = torch.linspace(0.0, T, positive_int("n_saves", n_saves) + 1, device=sde.device, dtype=dtype)
    m = sde.n_noise if sde.n_noise is not None else sde.g(0.0, y0[:1]).shape[-1]
    size = (n_paths, m)
    # dt=dt: tell the Brownian tree the step, or round-off slivers between steps and save times shrink its
    # average queried interval and the tree grows without bound
    bm = torchsde.BrownianInterval(t0=0.0, t1=T, size=size, dtype=dtype, device=sde.device, entropy=seed, dt=dt)
    sde.reset_checks()
    with torch.no_grad():
        ys = torchsde.sdeint(sde, y0, ts, bm=bm, dt=dt, method=method)
    sde.check_noise()
    if not torch.all(torch.isfinite(ys)):
        raise NumericalInstability("torchsde paths became non-finite: reduce dt")
    return Result("sde.torchsde", {"times": ts.cpu().numpy(), "x": ys.cpu().numpy()},
                  {"T": T, "dt": dt, "n_paths": n_paths, "seed": seed, "method": method,
                   "noise_type": sde.noise_type, "beta": sde.beta, "device": str(sde.device)})
