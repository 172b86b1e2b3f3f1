"""The user-facing Fokker-Planck solver (THEORY.md section 3).

    rho_t = div( grad f rho + beta^-1 div(D rho) ),   div(D rho)_i = sum_j d_j (D_ij rho),

the density of the Ito SDE dX = -grad f(X) dt + sqrt(2 beta^-1 D(X)) dW on a :class:`pde_sgd.Grid` in 1-3 D
with no-flux (``"neumann"``) or periodic axes. Units: x in the units of the grid, t in SDE time (one SGD step
of learning rate eta is dt = eta), beta^-1 = eta / (2 b) for SGD (:func:`pde_sgd.beta_from_sgd`).
Discretisation: :mod:`pde_sgd.fokker_planck.operator`; time stepping: :mod:`pde_sgd.fokker_planck.evolve`.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..diffusion import Diffusion
from ..drift import Drift
from ..driver import output_times
from ..grid import Grid, require_grid
from ..landscapes import Landscape
from ..results import Result
from ..validation import NumericalInstability, finite_array, memory_limit, positive, positive_int
from . import evolve as _evolve
from .coefficients import sample_coefficients
from .fields import kl_divergence, leftover_field, normalised, potential
from .operator import FPOperator
from .steady import check_direct_solve_fits, steady_state


def _diffusion_label(D_cells: np.ndarray, D: Any) -> dict:
    """params entry for D: ``"constant"`` (with the matrix) when every cell holds the same matrix, whatever form
    D was given in, else ``"callable"`` or ``"field"``."""
    d = D_cells.shape[-1]
    flat = D_cells.reshape(-1, d, d)
    if flat.strides[0] == 0 or np.all(flat == flat[0]):  # a broadcast view holds one matrix
        return {"D": "constant", "D_matrix": flat[0].tolist()}
    return {"D": D.kind if isinstance(D, Diffusion) else ("callable" if callable(D) else "field")}


def build_bytes_estimate(grid: Grid) -> float:
    """Upper estimate of the bytes the solver holds per grid: float64 fields of D (d^2), grad f, the face
    increments and the cell centres (3 d), f and a temporary (2), the face weights with cross terms
    (2 d (2 d - 1)) and four working fields."""
    d = grid.ndim
    return 8.0 * grid.size * (d * d + 3 * d + 2 + 2 * d * (2 * d - 1) + 4)


def check_build_fits(grid: Grid, limit: float | None = None) -> None:
    """MemoryError naming the grid, the estimate and the largest grid that fits, before anything is built."""
    need, limit = build_bytes_estimate(grid), memory_limit() if limit is None else limit
    if need > limit:
        most = int(grid.size * limit / need)
        raise MemoryError(f"grid: a Fokker-Planck solver on the {'x'.join(map(str, grid.shape))} grid "
                          f"({grid.size} cells) needs up to {need / 1e9:.3g} GB, more than the {limit / 1e9:.3g} GB "
                          f"available; at most ~{most:.3g} cells fit: use a coarser grid")


UNDERSHOOT_WARN = 1e-3  # relative undershoot -min(rho)/max(rho) above which a non-monotone result is flagged


def _warn_undershoot(what: str, rho: np.ndarray) -> None:
    """RuntimeWarning when ``rho`` dips below -UNDERSHOOT_WARN * max(rho) (cross diffusion: not monotone)."""
    ratio = -float(rho.min()) / max(float(rho.max()), 1e-300)
    if ratio > UNDERSHOOT_WARN:
        warnings.warn(f"{what}: the density undershoots to {-ratio:.2g} x its maximum: with strongly correlated or "
                      f"nearly singular D the scheme is not monotone (the undershoot is of the size of the "
                      f"discretisation error); refine the grid or reduce the correlation of D", RuntimeWarning,
                      stacklevel=3)


class FokkerPlanck:
    """Finite-volume Fokker-Planck solver with anisotropic, space-dependent diffusion.

    Parameters (the problem first, as in every entry point: loss, grid, D, beta)
    ----------
    f : Landscape, Drift or ndarray, optional
        The loss: a landscape of dimension ``grid.ndim`` (a built-in or your own,
        :class:`~pde_sgd.landscapes.Landscape`) or its values on the grid (shape ``grid.shape``, e.g. a
        Hamilton-Jacobi solution u(., t)); or a shared :class:`pde_sgd.Drift` spec b (the same object serves the
        SDE solvers; see :mod:`pde_sgd.drift`). Exactly one of ``f`` and ``grad_f``.
    grid : Grid
        Cell-centred grid, 1-3 D, Neumann (no-flux) or periodic per axis.
    D : Diffusion, scalar, ndarray or callable
        Diffusion matrix: a shared :class:`pde_sgd.Diffusion` spec (the same object serves the SDE solvers),
        c (D = c I), a (d, d) matrix, a scalar field ``grid.shape``, a matrix field
        ``grid.shape + (d, d)`` (e.g. captured from a network on a 2-D slice), or ``points (n, d) -> (n, d, d)``.
        Symmetric positive semi-definite (ValueError otherwise). Default 1 (identity).
    beta : float
        Inverse temperature, > 0.
    grad_f : callable or ndarray, optional
        The drift is -grad_f: a callable ``points (n, d) -> (n, d)`` or a field ``grid.shape + (d,)``; for
        non-gradient drifts, e.g. -(I + c J) grad f, or grad f = grad Phi - j.

    Examples
    --------
    >>> from pde_sgd import Grid, landscapes
    >>> fp = FokkerPlanck(landscapes.double_well(2), Grid([-3, -3], [3, 3], [64, 64]), D=[[1.0, 0.5], [0.5, 0.6]],
    ...                   beta=2.0)
    >>> rho = fp.steady_state()
    """

    def __init__(self, f: Landscape | Drift | np.ndarray | None = None, grid: Grid | None = None, D: Any = 1.0,
                 beta: float = 1.0, *,
                 grad_f: Any = None) -> None:
        self.grid = require_grid(grid)
        self.beta = positive("beta", beta)
        check_build_fits(self.grid)
        self.coeffs = sample_coefficients(grid, f, grad_f, D)
        self.operator = FPOperator(grid, self.coeffs, self.beta)
        self.dt_limit = self.operator.dt_limit
        self._steady: np.ndarray | None = None
        self._params = {"grid": grid, "beta": self.beta,
                        "f": f.describe() if isinstance(f, Drift) else (f if isinstance(f, Landscape)
                                                                   else ("field" if f is not None else None)),
                        "grad_f": None if grad_f is None else ("callable" if callable(grad_f) else "field"),
                        **_diffusion_label(self.coeffs.D, D)}

    @property
    def D(self) -> np.ndarray:
        """Diffusion matrix at the cell centres, ``grid.shape + (d, d)``."""
        return self.coeffs.D

    @property
    def generator(self):
        """The sparse generator L (CSR) with d rho/dt = L rho on the C-ordered flattened density (assembled on
        first use: the explicit method works on face weights and never builds it)."""
        return self.operator.L

    # --- time evolution -------------------------------------------------------------------------------
    def evolve(self, rho0: np.ndarray, *, times=None, T: float | None = None, n_saves: int | None = None,
               method: str = "explicit", dt: float | None = None, substeps: bool = True, theta: float = 1.0,
               progress: bool | None = None, threads: int | None = None) -> Result:
        """Evolve ``rho0`` (shape grid.shape, >= 0, positive mass) and return snapshots at the output times.

        Output times: ``times``, starting at the time of rho0 (times[0]) and non-decreasing, or ``T`` with
        ``n_saves`` (rho0 at t = 0, then n_saves equally spaced saves to T; :func:`pde_sgd.driver.output_times`).
        ``progress``, ``threads``: see :mod:`pde_sgd.driver`. ``method``: ``"explicit"``
        (Numba forward Euler; ``substeps=True``: the fewest equal steps <= min(dt, 0.9 :attr:`dt_limit`) per
        snapshot interval; ``substeps=False``: exactly ``dt``, the last step of an interval shortened to land on
        the snapshot, ValueError if ``dt`` exceeds :attr:`dt_limit`), ``"implicit"`` (theta scheme, equal steps
        <= ``dt`` per interval, default dt = span/100; ``theta`` = 1 backward Euler, 0.5 Crank-Nicolson) or
        ``"expm"`` (exact in time). Returns Result ``"fokker_planck.evolve"`` with ``times``, ``rho``
        (n_times, *grid.shape), ``mass`` and ``min``; params record the steps actually taken (``dt`` the
        largest, ``dt_min`` the smallest, ``n_steps``), and ``stats`` the driver's run statistics.
        """
        rho0 = self.grid.check_field("rho0", rho0)
        if np.any(rho0 < 0) or not rho0.sum() > 0:
            raise ValueError("rho0 must be >= 0 everywhere with positive total mass")
        if not isinstance(substeps, (bool, np.bool_)):
            raise ValueError(f"substeps must be True or False, got {substeps!r}")
        if times is None and n_saves is not None:  # before output_times allocates n_saves + 1 times
            _evolve.check_snapshots_fit(positive_int("n_saves", n_saves) + 1, self.grid.size, "n_saves")
        t = output_times(times, T, n_saves)
        snaps, info, stats = _evolve.evolve(self.operator, self.dt_limit, rho0, t, method=method, dt=dt,
                                            substeps=substeps, theta=theta, progress=progress, threads=threads,
                                            span_name="times" if times is not None else "T")
        if not np.all(np.isfinite(snaps)):
            raise NumericalInstability("the evolution produced NaN/inf; reduce dt or use method='implicit'")
        _warn_undershoot("evolve", snaps)
        rho = snaps.reshape((len(t),) + self.grid.shape)
        vol = self.grid.cell_volume
        return Result("fokker_planck.evolve",
                      {"times": t, "rho": rho, "mass": snaps.sum(axis=1) * vol, "min": snaps.min(axis=1)},
                      dict(self._params, method=method, dt_limit=self.dt_limit, **info), stats)

    # --- steady state and derived fields --------------------------------------------------------------
    def steady_state(self) -> np.ndarray:
        """The discrete steady state (unit mass, shape grid.shape) by one sparse solve (cached)."""
        if self._steady is None:
            f = self.coeffs.f_values
            pivot = int(np.argmin(f)) if f is not None else \
                int(np.argmin(np.sum(self.coeffs.grad_cells ** 2, axis=-1)))
            check_direct_solve_fits(self.grid.shape)
            try:
                rho = steady_state(self.operator.L, pivot, self.grid.cell_volume).reshape(self.grid.shape)
            except ValueError as exc:
                spread = self.beta * float(np.ptp(f)) if f is not None else 0.0
                if spread > 700.0:  # exp(-700) ~ 1e-304: the far cells' weights underflow in double precision
                    raise ValueError(f"no steady state could be computed: beta * (max f - min f) = {spread:.3g} > "
                                     f"700, so exp(-beta f) underflows in double precision away from the minimum; "
                                     f"lower beta or restrict the box to the region that matters") from exc
                raise
            _warn_undershoot("steady_state", rho)
            self._steady = rho
        return self._steady.copy()

    def potential(self, rho: np.ndarray | None = None) -> np.ndarray:
        """Phi = -beta^-1 log rho (rho at unit mass, min Phi = 0, +inf where rho <= 0); default rho_ss."""
        return potential(self.grid, self.steady_state() if rho is None else rho, self.beta)

    def current(self, rho: np.ndarray | None = None) -> np.ndarray:
        """Probability current J = -grad f rho - beta^-1 div(D rho) of the scheme at the cell centres.

        Uses the discrete face fluxes (mean of the two faces of a cell); shape ``grid.shape + (d,)``.
        Default rho: the steady state (J_ss).
        """
        rho = self.steady_state() if rho is None else self.grid.check_field("rho", rho)
        return self.operator.cell_current(rho)

    def leftover_field(self, phi: np.ndarray | None = None, floor: float = 1e-8) -> dict:
        """j = -grad f + D grad Phi - beta^-1 div D and its diagnostics (see :func:`fields.leftover_field`).

        ``phi`` defaults to the potential of the grid steady state (kept finite where rho_ss <= 0, i.e. at
        cross-diffusion undershoots, by a floor of 1e-300 max rho_ss). ``bulk`` marks the cells whose value and
        whose neighbours' and next neighbours' values exceed ``floor`` times the maximum of exp(-beta Phi) (so that central
        differences there use well-resolved Phi only); the relative sizes are measured over it:
        ``div_j_rel`` = max|div j| L / max|j| (L the box size) and ``j_dot_grad_phi_rel`` =
        max|j.grad Phi| / (max|j| max|grad Phi|). Also returns ``j``, ``div_j``, ``j_dot_grad_phi``,
        ``div_j_rho`` and ``grad_phi`` (full fields).
        """
        floor = positive("floor", floor)
        if floor >= 1.0:
            raise ValueError(f"floor must be in (0, 1) (a fraction of max exp(-beta Phi)), got {floor!r}")
        if phi is None:
            rho = self.steady_state()
            phi = potential(self.grid, np.maximum(rho, 1e-300 * rho.max()), self.beta)
        phi = finite_array("phi", phi, shape=self.grid.shape)
        inside = phi - phi.min() < -np.log(floor) / self.beta
        bulk = inside.copy()
        for _ in range(2):  # j uses neighbours of Phi, div j neighbours of j: erode twice
            grown = bulk.copy()
            for a, per in enumerate(self.grid.periodic):
                for k in (1, -1):
                    shifted = np.roll(bulk, k, axis=a)
                    if not per:  # a wall is not a missing neighbour
                        edge = [slice(None)] * self.grid.ndim
                        edge[a] = 0 if k == 1 else -1
                        shifted[tuple(edge)] = True
                    grown &= shifted
            bulk = grown
        if not bulk.any():
            raise ValueError(f"leftover_field: no bulk cell (every cell, or a neighbour, has exp(-beta Phi) below "
                             f"floor = {floor:g} of its maximum, or the grid is too coarse); lower floor or refine")
        out = leftover_field(self.grid, self.coeffs.grad_cells, self.coeffs.D, phi, self.beta)
        jmax = float(np.max(np.linalg.norm(out["j"][bulk], axis=-1)))
        gmax = float(np.max(np.linalg.norm(out["grad_phi"][bulk], axis=-1)))
        length = max(u - l for l, u in zip(self.grid.lower, self.grid.upper))
        out["bulk"] = bulk
        out["div_j_rel"] = float(np.max(np.abs(out["div_j"][bulk]))) * length / max(jmax, 1e-300)
        out["j_dot_grad_phi_rel"] = float(np.max(np.abs(out["j_dot_grad_phi"][bulk]))) / max(jmax * gmax, 1e-300)
        return out

    def free_energy(self, rho: np.ndarray) -> float:
        """beta^-1 KL(rho || rho_ss): the free energy above its minimum, non-increasing along the flow.

        ``rho`` must be a density with positive mass. Cells with rho <= 0 carry no mass (the small undershoots of
        the cross-diffusion stencil); a negative part holding more than 1% of sum |rho| is not a density
        (ValueError).
        """
        rho = self.grid.check_field("rho", rho)
        negative = float(np.sum(np.maximum(-rho, 0.0))) / max(float(np.sum(np.abs(rho))), 1e-300)
        if negative > 1e-2:
            raise ValueError(f"rho must be >= 0 (a density): its negative part holds {negative:.3g} of sum |rho| "
                             f"(at most 1% is taken for scheme undershoot)")
        return kl_divergence(self.grid, normalised(self.grid, rho), self.steady_state()) / self.beta

    def __repr__(self) -> str:
        return f"FokkerPlanck(grid={self.grid!r}, beta={self.beta}, monotone={self.operator.monotone})"
