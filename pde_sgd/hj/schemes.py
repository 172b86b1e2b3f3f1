"""Numba time stepping for u_t + 1/2 |grad u|^2 = nu Laplace u on a Grid (nu = 0: inviscid).

Space: per axis, one-sided derivatives p-, p+ of u at each cell from the forward differences
D_j = (u_{j+1} - u_j) / h, by

* ``"upwind1"``: p- = D_{i-1}, p+ = D_i (first order);
* ``"eno2"``: second-order ENO (the smoother of the two three-point stencils);
* ``"weno5"``: fifth-order WENO of Jiang and Peng (HJ form, eps = 1e-6 max v^2 + 1e-99);
* ``"central"``: p- = p+ = (D_{i-1} + D_i) / 2 (second order, not upwinded: viscous problems only),

combined by a monotone numerical Hamiltonian for H(p) = p^2 / 2, summed over axes:

* ``"godunov"``: H = max(max(p-, 0)^2, min(p+, 0)^2) / 2 (exact Riemann solution for this convex H);
* ``"lax_friedrichs"``: local Lax-Friedrichs H = ((p- + p+)/2)^2 / 2 - alpha (p+ - p-) / 2,
  alpha = max(|p-|, |p+|) per cell and axis.

The Laplacian is the central three-point one per axis. Time: third-order TVD Runge-Kutta (Shu-Osher).
Boundaries through 3 ghost cells per side: periodic wrap, or mirror reflection about the outer faces for
Neumann (zero normal gradient: the even extension). Step: dt = cfl / (sum_a alpha_a / h_a +
2 nu sum_a 1 / h_a^2), with alpha_a = max |p| along axis a of the current stage-1 derivatives; with cfl <= 1
this satisfies both the Hamiltonian CFL condition and RK3's diffusion limit (4 nu dt sum 1/h^2 <= 2 < 2.51).
Output times are hit exactly by shortening the last step before each.
"""
from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange, set_num_threads

from ..validation import choice, positive, times_array, warn_long_run

SCHEMES = {"upwind1": 0, "eno2": 1, "weno5": 2, "central": 3}
HAMILTONIANS = {"godunov": 0, "lax_friedrichs": 1}
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
    p+. Returns max(|p-|, |p+|) over the row.
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
    if ham == 0:
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


@njit(cache=True, parallel=True, fastmath=True, error_model="numpy")
def _rhs(u, out, idx0, idx1, idx2, inv_h, nu, scheme, ham, S, alpha):
    """out = -H(grad u) + nu Laplace u on a (n0, n1, n2) field (unit axes are skipped).

    ``idx_a`` maps padded positions (cell + 3) to source cells (ghost handling); ``S`` is a scratch buffer
    (chunks, 9, n2 + 6) whose last row holds the padded row along axis 2; ``alpha[c, a]`` receives the largest
    |p| along axis a in chunk c.
    """
    n0, n1, n2 = u.shape
    rows = n0 * n1
    nchunk = S.shape[0]
    per = (rows + nchunk - 1) // nchunk
    k0, k1 = _FIRST_DIFF[scheme], _LAST_DIFF[scheme] + 1
    for c in prange(nchunk):
        St = S[c]
        alpha[c, :] = 0.0
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
            if n1 > 1:
                for k in range(k0, k1):
                    ua, ub, Sk = u[i0, idx1[i1 + k + 1]], u[i0, idx1[i1 + k]], St[k]
                    for i2 in range(n2):
                        Sk[i2] = (ua[i2] - ub[i2]) * inv_h[1]
                alpha[c, 1] = max(alpha[c, 1], _axis_terms(St, n2, inv_h[1], scheme, ham, nu, o))
            if n0 > 1:
                for k in range(k0, k1):
                    ua, ub, Sk = u[idx0[i0 + k + 1], i1], u[idx0[i0 + k], i1], St[k]
                    for i2 in range(n2):
                        Sk[i2] = (ua[i2] - ub[i2]) * inv_h[0]
                alpha[c, 0] = max(alpha[c, 0], _axis_terms(St, n2, inv_h[0], scheme, ham, nu, o))


@njit(cache=True, parallel=True, fastmath=True)
def _combine(out, a, u0, b, us, dt, L):
    """out = a u0 + b (us + dt L), element-wise over flat arrays (one TVD-RK3 stage)."""
    for i in prange(out.shape[0]):
        out[i] = a * u0[i] + b * (us[i] + dt * L[i])


@njit(cache=True)
def _advance(u, u1, u2, L, idx0, idx1, idx2, inv_h, nu, scheme, ham, S, alpha, cfl, max_dt, now, t_out,
             max_steps):
    """At most ``max_steps`` TVD-RK3 steps of u from time ``now`` towards ``t_out`` (in place).

    Returns (time reached, steps taken); the step sequence does not depend on ``max_steps``.
    """
    uf, u1f, u2f, Lf = u.reshape(-1), u1.reshape(-1), u2.reshape(-1), L.reshape(-1)
    inv_h2 = 0.0
    for a in range(3):
        if u.shape[a] > 1:
            inv_h2 += inv_h[a] * inv_h[a]
    steps = 0
    while now < t_out and steps < max_steps:
        _rhs(u, L, idx0, idx1, idx2, inv_h, nu, scheme, ham, S, alpha)
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
                _rhs(src, L, idx0, idx1, idx2, inv_h, nu, scheme, ham, S, alpha)
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


def integrate(f: np.ndarray, grid, times, nu: float, scheme: str, hamiltonian: str, cfl: float,
              max_dt: float | None, progress: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """Step u_t + |grad u|^2 / 2 = nu Laplace u from u = f; returns (times, snapshots, number of steps)."""
    from tqdm import tqdm

    times = times_array("times", times)
    code = SCHEMES[choice("scheme", scheme, SCHEMES)]
    ham = HAMILTONIANS[choice("hamiltonian", hamiltonian, HAMILTONIANS)]
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
    nchunk = min(shape3[0] * shape3[1], 4 * get_num_threads()) if parallel else 1

    u = np.ascontiguousarray(f, dtype=np.float64).reshape(shape3).copy()
    u1, u2, L = np.empty_like(u), np.empty_like(u), np.empty_like(u)
    S = np.zeros((nchunk, 9, shape3[2] + 2 * _GHOST))
    alpha = np.zeros((nchunk, 3))
    snaps = np.empty((times.size,) + grid.shape)
    now, steps = 0.0, 0
    threads = get_num_threads()
    with tqdm(total=float(times[-1]), disable=not progress, unit="t", desc=f"hj {scheme}") as bar:
        for n_out, t_out in enumerate(times):
            set_num_threads(threads if parallel else 1)
            try:
                while now < t_out:
                    reached, k = _advance(u, u1, u2, L, idx[0], idx[1], idx[2], inv_h, nu, code, ham, S, alpha,
                                          cfl, max_dt, now, float(t_out), _STEPS_PER_CALL)
                    bar.update(reached - now)
                    now, steps = reached, steps + k
            finally:
                set_num_threads(threads)
            if not np.all(np.isfinite(u)):
                raise FloatingPointError(f"the solution became non-finite before t = {t_out}; lower cfl")
            snaps[n_out] = u.reshape(grid.shape)
    return times, snaps, steps
