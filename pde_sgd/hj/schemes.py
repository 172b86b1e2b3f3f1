"""Numba time stepping for u_t + 1/2 |grad u|^2 = nu Laplace u on a Grid (nu = 0: inviscid).

Space: per axis, one-sided derivatives p-, p+ of u at each cell from the forward differences
D_j = (u_{j+1} - u_j) / h, by

* ``"upwind1"``: p- = D_{i-1}, p+ = D_i (first order);
* ``"eno2"``: second-order ENO (the smoother of the two three-point stencils);
* ``"weno5"``: fifth-order WENO of Jiang and Peng (HJ form, eps = 1e-6 max v^2 + 1e-99);
* ``"central"``: p- = p+ = (D_{i-1} + D_i) / 2 (second order, not upwinded: viscous problems only),

combined by a monotone numerical Hamiltonian. A user H(x, p) (:mod:`.hamiltonians`) takes Lax-Friedrichs with
its declared bound on |dH/dp|, or Godunov when declared convex and separable; for the default H(p) = p^2 / 2,
summed over axes, specialised code:

* ``"godunov"``: H = max(max(p-, 0)^2, min(p+, 0)^2) / 2 (exact Riemann solution for this convex H);
* ``"lax_friedrichs"``: local Lax-Friedrichs H = ((p- + p+)/2)^2 / 2 - alpha (p+ - p-) / 2,
  alpha = max(|p-|, |p+|) per cell and axis.

The Laplacian is the central three-point one per axis. Time: third-order TVD Runge-Kutta (Shu-Osher).
Boundaries through 3 ghost cells per side: periodic wrap, or mirror reflection about the outer faces for
Neumann (zero normal gradient: the even extension). Step (alpha_a: a user H's bound, else max |p_a|):
dt = cfl / (sum_a alpha_a / h_a +
2 nu sum_a 1 / h_a^2), with alpha_a = max |p| along axis a of the current stage-1 derivatives; with cfl <= 1
this satisfies both the Hamiltonian CFL condition and RK3's diffusion limit (4 nu dt sum 1/h^2 <= 2 < 2.51).
Output times are hit exactly by shortening the last step before each.
"""
from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange

from ..driver import drive
from ..jitfuncs import jit_call
from ..schemes import Scheme
from ..validation import NumericalInstability, choice, positive, positive_int, warn_long_run

SCHEMES = {"upwind1": 0, "eno2": 1, "weno5": 2, "central": 3}
HAMILTONIANS = {"godunov": 0, "lax_friedrichs": 1}
# orders of the full discretisation (TVD-RK3 at fixed cfl) on smooth solutions of the inviscid equation; with
# viscosity the central Laplacian caps every scheme at 2
SCHEME_TABLE = {
    "upwind1": Scheme("upwind1", 1.0),
    "eno2": Scheme("eno2", 2.0),
    "weno5": Scheme("weno5", 3.0, "time-limited: fifth order in space, TVD-RK3 third order in time at fixed cfl"),
    "central": Scheme("central", 2.0, "viscosity (solve_viscous): not upwinded, unstable for inviscid problems"),
}
FLUX_TABLE = {
    "godunov": Scheme("godunov", None, "H = |p|^2/2, or a user H declared convex and separable (argmin=)"),
    "lax_friedrichs": Scheme("lax_friedrichs", None, "a bound on |dH/dp| (a user Hamiltonian's bound=)"),
}
_GHOST = 3


@njit(cache=True, inline="always", fastmath=True, error_model="numpy")
def _weno5(v1, v2, v3, v4, v5):
    s1 = 13.0 / 12.0 * (v1 - 2.0 * v2 + v3) ** 2 + 0.25 * (v1 - 4.0 * v2 + 3.0 * v3) ** 2
    s2 = 13.0 / 12.0 * (v2 - 2.0 * v3 + v4) ** 2 + 0.25 * (v2 - v4) ** 2
    s3 = 13.0 / 12.0 * (v3 - 2.0 * v4 + v5) ** 2 + 0.25 * (3.0 * v3 - 4.0 * v4 + v5) ** 2
    eps = 1e-6 * max(v1 * v1, v2 * v2, v3 * v3, v4 * v4, v5 * v5) + 1e-99
    a1 = 0.1 / (eps + s1) ** 2
    a2 = 0.6 / (eps + s2) ** 2
    a3 = 0.3 / (eps + s3) ** 2
    p1 = v1 / 3.0 - 7.0 / 6.0 * v2 + 11.0 / 6.0 * v3
    p2 = -v2 / 6.0 + 5.0 / 6.0 * v3 + v4 / 3.0
    p3 = v3 / 3.0 + 5.0 / 6.0 * v4 - v5 / 6.0
    return (a1 * p1 + a2 * p2 + a3 * p3) / (a1 + a2 + a3)


@njit(cache=True, inline="always", fastmath=True)
def _smaller(a, b):
    return a if abs(a) <= abs(b) else b


# rows of the scratch buffer S[c] that each scheme reads: S[k, i] = D_{i+k-3}, k = 0..5
_FIRST_DIFF = np.array([2, 1, 0, 2])
_LAST_DIFF = np.array([3, 4, 5, 3])


@njit(cache=True, fastmath=True, error_model="numpy")
def _axis_terms(S, n, inv_h, scheme, ham, nu, out):
    """Add -H_a + nu * (second difference) for one axis to ``out`` along a row of n cells.

    ``S[k, i]`` holds D_{i+k-3} (k = 0..5) along the axis at cell i of the row; rows 6 and 7 receive p- and
    p+. Returns max(|p-|, |p+|) over the row. For a user Hamiltonian (ham >= 2) only the viscous term is added
    (the caller keeps p-, p+ from rows 6, 7 for :func:`_user_terms`).
    """
    pm, pp = S[6], S[7]
    if scheme == 2:
        for i in range(n):
            pm[i] = _weno5(S[0, i], S[1, i], S[2, i], S[3, i], S[4, i])
            pp[i] = _weno5(S[5, i], S[4, i], S[3, i], S[2, i], S[1, i])
    elif scheme == 1:
        for i in range(n):
            pm[i] = S[2, i] + 0.5 * _smaller(S[2, i] - S[1, i], S[3, i] - S[2, i])
            pp[i] = S[3, i] - 0.5 * _smaller(S[4, i] - S[3, i], S[3, i] - S[2, i])
    elif scheme == 0:
        for i in range(n):
            pm[i] = S[2, i]
            pp[i] = S[3, i]
    else:
        for i in range(n):
            pm[i] = 0.5 * (S[2, i] + S[3, i])
            pp[i] = pm[i]
    amax = 0.0
    if ham >= 2:
        for i in range(n):
            out[i] += nu * (S[3, i] - S[2, i]) * inv_h
    elif ham == 0:
        for i in range(n):
            a = max(pm[i], 0.0)
            b = min(pp[i], 0.0)
            out[i] += nu * (S[3, i] - S[2, i]) * inv_h - 0.5 * max(a * a, b * b)
            amax = max(amax, max(abs(pm[i]), abs(pp[i])))
    else:
        for i in range(n):
            pbar = 0.5 * (pm[i] + pp[i])
            alpha = max(abs(pm[i]), abs(pp[i]))
            out[i] += nu * (S[3, i] - S[2, i]) * inv_h - 0.5 * pbar * pbar + 0.5 * alpha * (pp[i] - pm[i])
            amax = max(amax, alpha)
    return amax


@njit(cache=True, fastmath=True, error_model="numpy")
def _user_terms(S, n2, i0, i1, hp, godunov, w, out, amax):
    """Add -H_num(x, p-, p+) of a user Hamiltonian (pack ``hp``, see :mod:`.hamiltonians`) along a row.

    Rows 9 + 2A, 10 + 2A of ``S`` hold p-, p+ along axis A of the (n0, n1, n2) layout; ``w`` is (6, d) scratch
    (x, p, p_lo, p_hi, alpha, p*). ``amax[A]`` receives the largest alpha along axis A.
    """
    H, bound_fn, argmin, bound, has_fn, lower, h, d = hp
    off = 3 - d
    x, p, lo, hi, al, ps = w[0], w[1], w[2], w[3], w[4], w[5]
    for i2 in range(n2):
        for a in range(d):
            A = a + off
            ia = i0 if A == 0 else (i1 if A == 1 else i2)
            x[a] = lower[A] + (ia + 0.5) * h[A]
            pm, pp = S[9 + 2 * A, i2], S[10 + 2 * A, i2]
            lo[a] = min(pm, pp)
            hi[a] = max(pm, pp)
            al[a] = bound[A]
        if has_fn:
            bound_fn(x, lo, hi, al)
        if godunov:
            argmin(x, ps)
            for a in range(d):
                p[a] = ps[a]
            for a in range(d):  # separable: the choice along axis a does not depend on the other components
                pm, pp = S[9 + 2 * (a + off), i2], S[10 + 2 * (a + off), i2]
                if pm <= pp:
                    q = min(max(ps[a], pm), pp)
                else:
                    p[a] = pm
                    h_m = H(x, p)
                    p[a] = pp
                    q = pm if h_m >= H(x, p) else pp
                p[a] = q
            out[i2] -= H(x, p)
        else:
            diss = 0.0
            for a in range(d):
                pm, pp = S[9 + 2 * (a + off), i2], S[10 + 2 * (a + off), i2]
                p[a] = 0.5 * (pm + pp)
                diss += 0.5 * al[a] * (pp - pm)
            out[i2] -= H(x, p) - diss
        for a in range(d):
            amax[a + off] = max(amax[a + off], al[a])


@njit(cache=True, parallel=True, fastmath=True, error_model="numpy")
def _rhs(u, out, eq, hp):
    """out = -H(grad u) + nu Laplace u on a (n0, n1, n2) field (unit axes are skipped).

    ``eq`` = (idx0, idx1, idx2, inv_h, nu, scheme, ham, S, alpha): ``idx_a`` maps padded positions (cell + 3) to source cells (ghost handling); ``S`` is a scratch buffer
    (chunks, 15, n2 + 6) whose row 8 holds the padded row along axis 2 and rows 9-14 a user Hamiltonian's p-, p+;
    ``alpha[c, a]`` receives the largest |p| (or the user bound) along axis a in chunk c. ``hp``: the user
    Hamiltonian's pack (ham >= 2: 2 Godunov, 3 Lax-Friedrichs), or None for |p|^2/2: a None argument prunes
    the user branch at compile time, so the built-in equation compiles without it.
    """
    idx0, idx1, idx2, inv_h, nu, scheme, ham, S, alpha = eq
    n0, n1, n2 = u.shape
    rows = n0 * n1
    nchunk = S.shape[0]
    per = (rows + nchunk - 1) // nchunk
    k0, k1 = _FIRST_DIFF[scheme], _LAST_DIFF[scheme] + 1
    for c in prange(nchunk):
        St = S[c]
        alpha[c, :] = 0.0
        if hp is not None:
            w = np.empty((6, hp[7]))  # user-Hamiltonian scratch
        else:
            w = np.empty((6, 1))
        for r in range(c * per, min(rows, (c + 1) * per)):
            i0 = r // n1
            i1 = r - i0 * n1
            o = out[i0, i1]
            o[:] = 0.0
            if n2 > 1:
                row = St[8]
                for j in range(n2 + 2 * _GHOST):
                    row[j] = u[i0, i1, idx2[j]]
                for k in range(k0, k1):
                    Sk = St[k]
                    for i2 in range(n2):
                        Sk[i2] = (row[i2 + k + 1] - row[i2 + k]) * inv_h[2]
                alpha[c, 2] = max(alpha[c, 2], _axis_terms(St, n2, inv_h[2], scheme, ham, nu, o))
                if hp is not None:  # keep p-, p+ of axis 2 for the user Hamiltonian
                    St[13, :n2] = St[6, :n2]
                    St[14, :n2] = St[7, :n2]
            if n1 > 1:
                for k in range(k0, k1):
                    ua, ub, Sk = u[i0, idx1[i1 + k + 1]], u[i0, idx1[i1 + k]], St[k]
                    for i2 in range(n2):
                        Sk[i2] = (ua[i2] - ub[i2]) * inv_h[1]
                alpha[c, 1] = max(alpha[c, 1], _axis_terms(St, n2, inv_h[1], scheme, ham, nu, o))
                if hp is not None:  # keep p-, p+ of axis 1 for the user Hamiltonian
                    St[11, :n2] = St[6, :n2]
                    St[12, :n2] = St[7, :n2]
            if n0 > 1:
                for k in range(k0, k1):
                    ua, ub, Sk = u[idx0[i0 + k + 1], i1], u[idx0[i0 + k], i1], St[k]
                    for i2 in range(n2):
                        Sk[i2] = (ua[i2] - ub[i2]) * inv_h[0]
                alpha[c, 0] = max(alpha[c, 0], _axis_terms(St, n2, inv_h[0], scheme, ham, nu, o))
                if hp is not None:  # keep p-, p+ of axis 0 for the user Hamiltonian
                    St[9, :n2] = St[6, :n2]
                    St[10, :n2] = St[7, :n2]
            if hp is not None:
                _user_terms(St, n2, i0, i1, hp, ham == 2, w, o, alpha[c])


@njit(cache=True, parallel=True, fastmath=True)
def _combine(out, a, u0, b, us, dt, L):
    """out = a u0 + b (us + dt L), element-wise over flat arrays (one TVD-RK3 stage)."""
    for i in prange(out.shape[0]):
        out[i] = a * u0[i] + b * (us[i] + dt * L[i])


@njit(cache=True)
def _advance(fields, eq, hp, cfl, max_dt, now, t_out, max_steps):
    """At most ``max_steps`` TVD-RK3 steps of u from time ``now`` towards ``t_out`` (in place).

    ``fields`` = (u, two stage buffers, the right-hand side buffer); ``eq``, ``hp``: see :func:`_rhs`.

    Returns (time reached, steps taken); the step sequence does not depend on ``max_steps``.
    """
    u, u1, u2, L = fields
    inv_h, nu, alpha = eq[3], eq[4], eq[8]
    uf, u1f, u2f, Lf = u.reshape(-1), u1.reshape(-1), u2.reshape(-1), L.reshape(-1)
    inv_h2 = 0.0
    for a in range(3):
        if u.shape[a] > 1:
            inv_h2 += inv_h[a] * inv_h[a]
    steps = 0
    while now < t_out and steps < max_steps:
        _rhs(u, L, eq, hp)
        rate = 2.0 * nu * inv_h2
        for a in range(3):
            if u.shape[a] > 1:
                rate += np.max(alpha[:, a]) * inv_h[a]
        dt = min(cfl / rate if rate > 0.0 else np.inf, max_dt)
        if t_out - now - dt < 1e-12 * max(t_out, 1.0):  # land exactly on t_out, never leave a sliver step
            dt = t_out - now
        for stage in range(3):
            if stage > 0:
                src = u1 if stage == 1 else u2
                _rhs(src, L, eq, hp)
            a0, b0 = (0.0, 1.0) if stage == 0 else ((0.75, 0.25) if stage == 1 else (1.0 / 3.0, 2.0 / 3.0))
            us = uf if stage == 0 else (u1f if stage == 1 else u2f)
            dst = u1f if stage == 0 else (u2f if stage == 1 else uf)
            _combine(dst, a0, uf, b0, us, dt, Lf)
        now = t_out if dt == t_out - now else now + dt
        steps += 1
    return now, steps


def _ghost_index(n: int, periodic: bool) -> np.ndarray:
    k = np.arange(-_GHOST, n + _GHOST)
    if periodic:
        return np.mod(k, n)
    r = np.mod(k, 2 * n)
    return np.where(r < n, r, 2 * n - 1 - r)


PARALLEL_MIN_CELLS = 16384  # below this one thread is faster than waking the others every stage
_STEPS_PER_CALL = 64  # steps per compiled call between progress-bar updates


def numerical_hamiltonian(hamiltonian: str | None, H) -> str:
    """The numerical Hamiltonian's name: as given (validated), or Godunov where available (H = |p|^2/2, or a user
    H declared convex and separable), else Lax-Friedrichs."""
    if hamiltonian is None:
        return "godunov" if H is None or H.convex_separable else "lax_friedrichs"
    choice("hamiltonian", hamiltonian, HAMILTONIANS)
    if hamiltonian == "godunov" and H is not None and not H.convex_separable:
        raise ValueError("hamiltonian='godunov' needs H convex and separable, declared by Hamiltonian(..., "
                         "argmin=...); use hamiltonian='lax_friedrichs' for this H")
    return hamiltonian


def integrate(f: np.ndarray, grid, times: np.ndarray, nu: float, scheme: str, hamiltonian: str, cfl: float,
              max_dt: float | None, progress: bool | None, H=None, threads: int | None = None
              ) -> tuple[np.ndarray, np.ndarray, dict]:
    """Step u_t + H(x, grad u) = nu Laplace u from u = f (H = |p|^2 / 2 when None, else a
    :class:`~pde_sgd.hj.hamiltonians.Hamiltonian`) to the output ``times`` (validated, from
    :func:`pde_sgd.driver.output_times`) in :func:`pde_sgd.driver.drive`; returns (times, snapshots, stats),
    stats counting TVD-RK3 steps and their 3 stages each as substeps."""
    code = SCHEMES[choice("scheme", scheme, SCHEMES)]
    ham = HAMILTONIANS[numerical_hamiltonian(hamiltonian, H)] + (0 if H is None else 2)
    cfl = positive("cfl", cfl)
    if cfl > 1.0:
        raise ValueError(f"cfl must be in (0, 1], got {cfl!r}")
    max_dt = np.inf if max_dt is None else positive("max_dt", max_dt)
    if nu > 0:  # explicit diffusion: dt <= cfl / sum(2 nu / h^2), about 3 RK stages per step
        steps = float(times[-1]) * sum(2.0 * nu / h ** 2 for h in grid.spacing) / cfl
        warn_long_run("hj viscous solver", 3.0 * steps * grid.size,
                      f"~{steps:.2g} time steps of {grid.size} cells to t = {float(times[-1]):g}")
    shape3 = (1,) * (3 - grid.ndim) + grid.shape
    inv_h = 1.0 / np.array((1.0,) * (3 - grid.ndim) + grid.spacing)
    per3 = (True,) * (3 - grid.ndim) + grid.periodic
    idx = [_ghost_index(n, p) for n, p in zip(shape3, per3)]
    parallel = grid.size >= PARALLEL_MIN_CELLS
    threads = (get_num_threads() if threads is None else positive_int("threads", threads)) if parallel else 1
    nchunk = min(shape3[0] * shape3[1], 4 * threads) if parallel else 1

    u = np.ascontiguousarray(f, dtype=np.float64).reshape(shape3).copy()
    u1, u2, L = np.empty_like(u), np.empty_like(u), np.empty_like(u)
    S = np.zeros((nchunk, 15, shape3[2] + 2 * _GHOST))
    lower3 = np.array((0.0,) * (3 - grid.ndim) + grid.lower)
    hp = None if H is None else H.pack(grid.ndim) + (lower3, 1.0 / inv_h, grid.ndim)
    alpha = np.zeros((nchunk, 3))
    fields, eq = (u, u1, u2, L), (idx[0], idx[1], idx[2], inv_h, nu, code, ham, S, alpha)
    snaps = np.empty((times.size,) + grid.shape)
    now = 0.0
    with drive(float(times[-1]), progress=progress, desc=f"hj {scheme}", unit="t", threads=threads) as run:
        for n_out, t_out in enumerate(times):
            while now < t_out:
                reached, k = jit_call(_advance, fields, eq, hp, cfl, max_dt, now, float(t_out), _STEPS_PER_CALL)
                run.advance(k, 3 * k, progress=reached - now)
                now = reached
            if not np.all(np.isfinite(u)):
                raise NumericalInstability(f"the solution became non-finite before t = {t_out}; lower cfl")
            snaps[n_out] = u.reshape(grid.shape)
    return times, snaps, run.stats
