"""Exponential time differencing for u_t = -H(x, grad u) + nu Laplace u: the Laplacian exactly, the Hamiltonian
explicitly (``time_stepper="etdrk4"`` of :func:`pde_sgd.hj.solve_viscous`).

Semi-discretisation: the same as the explicit stepper (:mod:`pde_sgd.hj.schemes`), u' = nu L_h u + N(u), with L_h the
central three-point Laplacian per axis (five-point for "central4") and N(u) = -H_num(x, p-, p+) the scheme's
numerical Hamiltonian. L_h is diagonal in the discrete Fourier basis on a periodic axis and in the DCT-II basis
on a Neumann axis (the mirror ghost cells about the outer faces are the even extension that DCT-II assumes), with
eigenvalues per axis, theta = 2 pi k / n (periodic) or pi k / n (Neumann, k = 0..n-1):

    three-point  lambda = (2 cos theta - 2) / h^2
    five-point   lambda = (-2 cos 2 theta + 32 cos theta - 30) / (12 h^2)

so exp(dt nu L_h) is applied exactly (scipy.fft, real transforms) and the spatial error is that of the explicit
scheme. Time: ETDRK4 of Cox and Matthews (J. Comput. Phys. 176, 2002), fourth order, four evaluations of N per
step, with z = dt nu lambda <= 0 and phi_1 = (e^z - 1)/z, phi_2 = (phi_1 - 1)/z, phi_3 = (phi_2 - 1/2)/z
(Taylor series for |z| < 1, where the recurrences cancel):

    a = e^{z/2} v + dt/2 phi_1(z/2) N(v),   b = e^{z/2} v + dt/2 phi_1(z/2) N(a),
    c = e^{z/2} a + dt/2 phi_1(z/2) (2 N(b) - N(v)),
    v+ = e^z v + dt [(phi_1 - 3 phi_2 + 4 phi_3) N(v) + 2 (phi_2 - 2 phi_3) (N(a) + N(b)) + (4 phi_3 - phi_2) N(c)].

Kassam and Trefethen (SIAM J. Sci. Comput. 26, 2005) found it the most accurate per cost of the stiff
integrators they compared on diffusive semilinear problems; the L-part is exact, so no diffusive step limit
remains: dt = cfl / sum_a alpha_a / h_a (alpha_a: max |p_a| of N's stage-1 gradients for H = |p|^2/2, a user
Hamiltonian's bound otherwise), capped by ``max_dt``. cfl <= 1 is the Hamiltonian CFL condition of the explicit
part; cfl up to :data:`CFL_MAX` is accepted because the damping e^z of the modes the CFL condition is about lets
ETDRK4 step further when diffusion dominates them (linearised: a mode k moved at speed c is damped by
e^{-nu k^2 dt}, so only k <~ 1 / sqrt(nu dt) need c k dt inside RK4's stability interval (|.| <= 2.8),
i.e. dt <~ 8 nu / c^2, whatever h). Such steps are for smooth viscous problems and are not guaranteed stable:
a blow-up raises NumericalInstability; the error is O(dt^4). The steps are uniform between output
times (the interval divided into the fewest equal steps that satisfy the rule), so the phi coefficients are
computed once per interval unless the CFL rule tightens. The measured order is asserted in tests/test_hj_imex.py.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.fft as sfft
from numba import njit, prange

from ..driver import drive
from ..jitfuncs import jit_call
from ..validation import NumericalInstability, choice
from .schemes import (_FIRST_DIFF, _LAST_DIFF, _PAD, HAMILTONIANS, SCHEMES, _central4_terms, _diffs, _godunov_terms,
                      _lax_friedrichs_terms, _one_sided, _padded, _rhs_user, kernel_layout, numerical_hamiltonian,
                      step_options, user_pack)

TIME_STEPPERS = ("rk3", "etdrk4")
CFL_MAX = 1000.0  # cfl > 1 leans on the diffusion for stability (module doc); a cap against typos
_TAYLOR_TERMS = 20  # |z| < 1: the phi series' remainder is below 1 / 20! ~ 4e-19


def _make_rhs(scheme: int, ham: int, parallel: bool):
    """out = -H_num(p-, p+) (H = |p|^2 / 2, no Laplacian) of one (scheme, numerical Hamiltonian) variant on a
    (n0, n1, n2) field; alpha[c, a] = max |p_a| over chunk c. ``eq`` = (idx0, idx1, idx2, inv_h, nu, S, alpha) as
    for :func:`pde_sgd.hj.schemes.integrate` (nu is not read)."""
    lo, hi = _FIRST_DIFF[scheme], _LAST_DIFF[scheme] + 1

    @njit(cache=True, parallel=parallel, fastmath=True, error_model="numpy")
    def rhs(u, out, eq):
        idx0, idx1, idx2, inv_h, _, S, alpha = eq
        n0, n1, n2 = u.shape
        # ``parallel``, ``scheme`` and ``ham`` are read in the body: closure values key the on-disk cache
        rows, nchunk = n0 * n1, (S.shape[0] if parallel else 1)
        per = (rows + nchunk - 1) // nchunk
        for c in prange(nchunk):
            St = S[c]
            for a in range(3):
                alpha[c, a] = 0.0
            for r in range(c * per, min(rows, (c + 1) * per)):
                i0 = r // n1
                i1 = r - i0 * n1
                o = out[i0, i1]
                for i in range(n2):
                    o[i] = 0.0
                for a in range(2, -1, -1):
                    if u.shape[a] == 1:
                        continue
                    if a == 2:
                        _padded(u, u, u, 0.0, 0, i0, i1, idx2, St[_PAD])
                    _diffs(u, u, u, 0.0, 0, a, idx0 if a == 0 else idx1, i0, i1, St, lo, hi, inv_h[a])
                    if scheme == 4:
                        am = _central4_terms(St, n2, inv_h[a], 0.0, o)
                    else:
                        _one_sided(St, n2, scheme)
                        if ham == 0 or scheme == 3:
                            am = _godunov_terms(St, n2, inv_h[a], 0.0, o)
                        else:
                            am = _lax_friedrichs_terms(St, n2, inv_h[a], 0.0, o)
                    alpha[c, a] = max(alpha[c, a], am)

    return rhs


_RHS: dict = {}


def builtin_rhs(scheme: int, ham: int, parallel: bool):
    """The compiled N(u) of a variant for H = |p|^2 / 2 (built on first use, cached on disk)."""
    key = (scheme, 0 if scheme in (3, 4) else ham, bool(parallel))
    if key not in _RHS:
        _RHS[key] = _make_rhs(*key)
    return _RHS[key]


def user_rhs(scheme: int, godunov: bool, hp: tuple):
    """N(u) = -H_num of a user Hamiltonian (pack ``hp``): the explicit kernel's right-hand side with nu = 0."""
    def rhs(u, out, eq):
        jit_call(_rhs_user, u, out, eq, scheme, godunov, hp)
    return rhs


class Spectral:
    """Real transforms that diagonalise the discrete Laplacian of ``grid`` (DCT-II on Neumann axes, then a real
    FFT over the periodic ones) and its eigenvalues ``lam`` (<= 0, shaped like the transformed field)."""

    def __init__(self, grid, five_point: bool, workers: int = 1) -> None:
        self.shape, self.workers = grid.shape, workers
        self.neumann = tuple(a for a, p in enumerate(grid.periodic) if not p)
        self.periodic = tuple(a for a, p in enumerate(grid.periodic) if p)
        lam = 0.0
        for a, (n, h) in enumerate(zip(grid.shape, grid.spacing)):
            if a in self.neumann:
                theta = np.pi * np.arange(n) / n
            elif a == self.periodic[-1]:
                theta = 2 * np.pi * np.arange(n // 2 + 1) / n
            else:
                theta = 2 * np.pi * np.fft.fftfreq(n)
            c = np.cos(theta)
            ev = (-2 * np.cos(2 * theta) + 32 * c - 30) / (12 * h * h) if five_point else (2 * c - 2) / (h * h)
            lam = lam + ev.reshape((-1,) + (1,) * (grid.ndim - 1 - a))
        self.lam = np.asarray(lam)

    def forward(self, u: np.ndarray) -> np.ndarray:
        v = sfft.dctn(u, type=2, axes=self.neumann, norm="ortho", workers=self.workers) if self.neumann else u
        return sfft.rfftn(v, axes=self.periodic, workers=self.workers) if self.periodic else v

    def inverse(self, v: np.ndarray) -> np.ndarray:
        if self.periodic:
            v = sfft.irfftn(v, s=[self.shape[a] for a in self.periodic], axes=self.periodic, workers=self.workers)
        return sfft.idctn(v, type=2, axes=self.neumann, norm="ortho", workers=self.workers) if self.neumann else v


def phi_functions(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """phi_1, phi_2, phi_3 of real z <= 0 (phi_k(z) = sum_j z^j / (j + k)!), accurate to round-off: the recurrence
    phi_{k+1} = (phi_k - 1/k!) / z for |z| >= 1, the Taylor series below."""
    z = np.asarray(z, dtype=float)
    small = np.abs(z) < 1.0
    zb = np.where(small, 1.0, z)  # avoids 0/0 in the branch that is not taken
    p1 = np.expm1(zb) / zb
    p2 = (p1 - 1.0) / zb
    p3 = (p2 - 0.5) / zb
    zs = np.where(small, z, 0.0)
    series = []
    for k in (1, 2, 3):
        s = np.zeros_like(zs)
        for j in range(_TAYLOR_TERMS, -1, -1):  # Horner: sum_j z^j / (j + k)!
            s = s * zs + 1.0 / math.factorial(j + k)
        series.append(s)
    return tuple(np.where(small, s, p) for s, p in zip(series, (p1, p2, p3)))


def etdrk4_coefficients(lam_nu: np.ndarray, dt: float) -> tuple:
    """(e^z, e^{z/2}, dt/2 phi_1(z/2), dt (phi_1 - 3 phi_2 + 4 phi_3), dt (phi_2 - 2 phi_3), dt (4 phi_3 - phi_2))
    at z = dt nu lambda (the module doc's ETDRK4)."""
    z = dt * lam_nu
    half = phi_functions(0.5 * z)[0]
    p1, p2, p3 = phi_functions(z)
    return (np.exp(z), np.exp(0.5 * z), 0.5 * dt * half, dt * (p1 - 3 * p2 + 4 * p3), dt * (p2 - 2 * p3),
            dt * (4 * p3 - p2))


def etdrk4_step(u: np.ndarray, Nv: np.ndarray, sp: Spectral, coef: tuple, N) -> np.ndarray:
    """One ETDRK4 step from u (grid shape) whose N(u) is ``Nv``; ``N(w)`` evaluates the Hamiltonian term of a
    grid-shaped field. Returns u at the new time."""
    E, E2, Q, f1, f2, f3 = coef
    vh, Nvh = sp.forward(u), sp.forward(Nv)
    ah = E2 * vh + Q * Nvh
    Nah = sp.forward(N(sp.inverse(ah)))
    bh = E2 * vh + Q * Nah
    Nbh = sp.forward(N(sp.inverse(bh)))
    ch = E2 * ah + Q * (2.0 * Nbh - Nvh)
    Nch = sp.forward(N(sp.inverse(ch)))
    return sp.inverse(E * vh + f1 * Nvh + f2 * (2.0 * (Nah + Nbh)) + f3 * Nch)


def step_count(remaining: float, dt_max: float) -> int:
    """The fewest equal steps covering ``remaining`` with each <= dt_max (1e-12 relative slack)."""
    return max(1, math.ceil(remaining / dt_max * (1.0 - 1e-12))) if np.isfinite(dt_max) else 1


_CHECK_EVERY = 64  # steps between checks of a user Hamiltonian's bound (and Ctrl-C)


def integrate_etd(f: np.ndarray, grid, times: np.ndarray, nu: float, scheme: str, hamiltonian: str, cfl: float,
                  max_dt: float | None, progress: bool | None, H=None, threads: int | None = None
                  ) -> tuple[np.ndarray, np.ndarray, dict]:
    """ETDRK4 from u = f to the output ``times``, with the arguments and return of
    :func:`pde_sgd.hj.schemes.integrate` (stats count steps and their 4 evaluations of N as substeps)."""
    code = SCHEMES[choice("scheme", scheme, SCHEMES)]
    ham = HAMILTONIANS[numerical_hamiltonian(hamiltonian, H)]
    cfl, max_dt = step_options(cfl, max_dt, CFL_MAX)
    shape3, eq, parallel, threads = kernel_layout(grid, 0.0, scheme, threads, H)
    if H is None:
        kernel = builtin_rhs(code, ham, parallel)
    else:
        H.check_bound(f, grid, 0.0)
        kernel = user_rhs(code, ham == HAMILTONIANS["godunov"], user_pack(H, grid, eq[3]))
    inv_h, alpha = eq[3], eq[6]
    live = [a for a in range(3) if shape3[a] > 1]
    out = np.empty(shape3)

    def N(w: np.ndarray) -> np.ndarray:
        kernel(np.ascontiguousarray(w).reshape(shape3), out, eq)
        return out.reshape(grid.shape)

    sp = Spectral(grid, code == SCHEMES["central4"], workers=threads)
    lam_nu = nu * sp.lam
    u = np.array(f, dtype=np.float64)
    snaps = np.empty((times.size,) + grid.shape)
    now, left, dt, coef = 0.0, 0, np.inf, None
    with drive(float(times[-1]), progress=progress, desc=f"hj {scheme} etdrk4", unit="t", threads=threads) as run:
        for n_out, t_out in enumerate(times):
            left = 0  # a new interval: plan its steps afresh
            while now < t_out:
                Nv = N(u)
                rate = sum(float(alpha[:, a].max()) * inv_h[a] for a in live)
                dt_max = min(cfl / rate if rate > 0.0 else np.inf, max_dt)
                if left == 0 or dt > dt_max * (1.0 + 1e-12):
                    left = step_count(float(t_out) - now, dt_max)
                    new_dt = (float(t_out) - now) / left
                    if new_dt != dt:
                        dt, coef = new_dt, etdrk4_coefficients(lam_nu, new_dt)
                u = etdrk4_step(u, Nv, sp, coef, N)
                left -= 1
                now = float(t_out) if left == 0 else now + dt
                run.advance(1, 4, progress=dt)
                if H is not None and run.steps % _CHECK_EVERY == 0:
                    H.check_bound(u, grid, now)
            if not np.all(np.isfinite(u)):
                raise NumericalInstability(f"the solution became non-finite before t = {t_out}; lower cfl")
            if H is not None:
                H.check_bound(u, grid, now)
            snaps[n_out] = u
    return times, snaps, run.stats
