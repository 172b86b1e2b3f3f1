"""Numba time stepping for u_t + H(x, grad u) = nu Laplace u on a Grid (nu = 0: inviscid), H = |p|^2 / 2 or a user H.

Space: per axis, one-sided derivatives p-, p+ of u at each cell from the forward differences
D_j = (u_{j+1} - u_j) / h, by

* ``"upwind1"``: p- = D_{i-1}, p+ = D_i (first order);
* ``"eno2"``: second-order ENO (the smoother of the two three-point stencils);
* ``"weno5"``: fifth-order WENO of Jiang and Peng (HJ form, eps = 1e-6 max v^2 + 1e-99);
* ``"central"``: p- = p+ = (D_{i-1} + D_i) / 2 (second order, not upwinded: viscous problems only);
* ``"central4"``: p- = p+ = (u_{i-2} - 8 u_{i-1} + 8 u_{i+1} - u_{i+2}) / (12 h), with the five-point Laplacian
  (-u_{i-2} + 16 u_{i-1} - 30 u_i + 16 u_{i+1} - u_{i+2}) / (12 h^2) (fourth order, viscous problems only),

combined by a monotone numerical Hamiltonian. A user H(x, p) (:mod:`.hamiltonians`) takes Lax-Friedrichs with
its declared bound on |dH/dp|, or Godunov when declared convex and separable; for the default H(p) = p^2 / 2,
summed over axes, specialised code:

* ``"godunov"``: H = max(max(p-, 0)^2, min(p+, 0)^2) / 2 (exact Riemann solution for this convex H);
* ``"lax_friedrichs"``: local Lax-Friedrichs H = ((p- + p+)/2)^2 / 2 - alpha (p+ - p-) / 2,
  alpha = max(|p-|, |p+|) per cell and axis (with p- = p+, both are p^2 / 2).

The Laplacian is the central three-point one per axis (five-point for "central4"). Time: third-order TVD
Runge-Kutta (Shu-Osher). Boundaries through 3 ghost cells per side: periodic wrap, or mirror reflection about
the outer faces for Neumann (zero normal gradient: the even extension). Step (alpha_a: a user H's bound, else
max |p_a| of the current stage-1 derivatives): dt = cfl / (sum_a alpha_a / h_a + c nu sum_a 1 / h_a^2), c = 2
(8/3 for "central4", whose Laplacian has spectral radius 16 / (3 h^2) instead of 4 / h^2); with cfl <= 1 this
satisfies both the Hamiltonian CFL condition and RK3's diffusion limit (nu dt times the spectral radius <= 2 <
2.51). Output times are hit exactly by shortening the last step before each.

Kernels: for H = |p|^2 / 2 each (scheme, numerical Hamiltonian, parallel) variant is its own small kernel, built
on first use and cached on disk (:func:`fused_stepper`), so a first call compiles only the variant it uses; its
step is three fused passes of 64 bytes per cell (see :func:`_make_fused`). A user H keeps the general kernel: the
right-hand side into an array, then a combine pass per stage. Results do not depend on the thread count.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .._threads import thread_count
from ..driver import drive
from ..jitfuncs import jit_call
from ..schemes import Scheme
from ..validation import NumericalInstability, choice, positive, warn_long_run

SCHEMES = {"upwind1": 0, "eno2": 1, "weno5": 2, "central": 3, "central4": 4}
HAMILTONIANS = {"godunov": 0, "lax_friedrichs": 1}
# orders of the full discretisation (TVD-RK3 at fixed cfl) on smooth solutions of the inviscid equation; with
# viscosity the three-point Laplacian caps every scheme but "central4" at 2
SCHEME_TABLE = {
    "upwind1": Scheme("upwind1", 1.0),
    "eno2": Scheme("eno2", 2.0),
    "weno5": Scheme("weno5", 3.0, "time-limited: fifth order in space, TVD-RK3 third order in time at fixed cfl"),
    "central": Scheme("central", 2.0, "viscosity (solve_viscous): not upwinded, unstable for inviscid problems"),
    "central4": Scheme("central4", 4.0, "viscosity (solve_viscous): not upwinded, unstable for inviscid problems; "
                                        "fourth order in space, and the diffusion limit dt ~ h^2 makes RK3's "
                                        "error O(h^6)"),
}
FLUX_TABLE = {
    "godunov": Scheme("godunov", None, "H = |p|^2/2, or a user H declared convex and separable (argmin=)"),
    "lax_friedrichs": Scheme("lax_friedrichs", None, "a bound on |dH/dp| (a user Hamiltonian's bound=)"),
}
_GHOST = 3
_CENTRAL = (3, 4)  # p- = p+: Godunov and Lax-Friedrichs both reduce to |p|^2/2 for the built-in H
# the step rule's diffusion term is DIFFUSION nu sum_a 1/h_a^2: the five-point Laplacian's spectral radius is
# 16 / (3 h^2) against 4 / h^2, so 8/3 keeps RK3's diffusion margin (4 nu dt sum 1/h^2 <= 2) of the others
_DIFFUSION = (2.0, 2.0, 2.0, 2.0, 8.0 / 3.0)
# rows of the scratch buffer S[c]: 0-5 S[k, i] = D_{i+k-3}, 6-7 p-, p+, 8 the padded line along axis 2, 9 the
# stage's right-hand side, 10-12 shifted source lines and 13 their tags (see _line); 9-14 p-, p+ per axis in
# the user-Hamiltonian kernel
_ROWS, _PAD, _OUT, _LINES, _TAGS = 15, 8, 9, 10, 13
# first and last D row that each scheme reads
_FIRST_DIFF = (2, 1, 0, 2, 1)
_LAST_DIFF = (3, 4, 5, 3, 4)
# helpers that only kernels call are compiled without the cfunc and CPython wrappers (a quicker first call)


@njit(cache=True, fastmath=True, error_model="numpy", no_cfunc_wrapper=True, no_cpython_wrapper=True)
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


@njit(cache=True, fastmath=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _smaller(a, b):
    return a if abs(a) <= abs(b) else b


# --- one-sided derivatives p-, p+ (rows 6, 7 of S) from the forward differences D (rows 0-5) ----------------
@njit(cache=True, fastmath=True, error_model="numpy", no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _weno5_sides(S, n):
    for i in range(n):
        S[6, i] = _weno5(S[0, i], S[1, i], S[2, i], S[3, i], S[4, i])
        S[7, i] = _weno5(S[5, i], S[4, i], S[3, i], S[2, i], S[1, i])


@njit(cache=True, fastmath=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _eno2_sides(S, n):
    for i in range(n):
        S[6, i] = S[2, i] + 0.5 * _smaller(S[2, i] - S[1, i], S[3, i] - S[2, i])
        S[7, i] = S[3, i] - 0.5 * _smaller(S[4, i] - S[3, i], S[3, i] - S[2, i])


@njit(cache=True, fastmath=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _upwind1_sides(S, n):
    for i in range(n):
        S[6, i] = S[2, i]
        S[7, i] = S[3, i]


@njit(cache=True, fastmath=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _central_sides(S, n):
    for i in range(n):
        S[6, i] = 0.5 * (S[2, i] + S[3, i])
        S[7, i] = S[6, i]


@njit(cache=True, fastmath=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _central4_sides(S, n):
    """p = (u_{i-2} - 8 u_{i-1} + 8 u_{i+1} - u_{i+2}) / (12 h) = (7 (D_{i-1} + D_i) - D_{i-2} - D_{i+1}) / 12."""
    for i in range(n):
        S[6, i] = (7.0 * (S[2, i] + S[3, i]) - S[1, i] - S[4, i]) / 12.0
        S[7, i] = S[6, i]


@njit(cache=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _one_sided(S, n, scheme):
    """p-, p+ of ``scheme`` (a runtime choice, for the user-Hamiltonian kernel; the fused stepper calls the
    scheme's own function, so that only it compiles)."""
    if scheme == 2:
        _weno5_sides(S, n)
    elif scheme == 1:
        _eno2_sides(S, n)
    elif scheme == 0:
        _upwind1_sides(S, n)
    elif scheme == 3:
        _central_sides(S, n)
    else:
        _central4_sides(S, n)


@njit(cache=True, fastmath=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _laplacian(S, i, scheme):
    """h times the second derivative along the axis at cell i: (D_i - D_{i-1}), or the five-point
    (-D_{i+1} + 15 (D_i - D_{i-1}) + D_{i-2}) / 12 for "central4"."""
    if scheme == 4:
        return (15.0 * (S[3, i] - S[2, i]) + S[1, i] - S[4, i]) / 12.0
    return S[3, i] - S[2, i]


# --- the right-hand side along one axis of a row, added to ``o``; each returns max |p| (alpha) ----------------
@njit(cache=True, fastmath=True, inline="always")
def _godunov_terms(S, n, inv_h, nu, o):
    """o += nu (D_i - D_{i-1}) / h - max(max(p-, 0)^2, min(p+, 0)^2) / 2 along a row (p-, p+ in rows 6, 7 of S,
    D_{i-1}, D_i in rows 2, 3); returns max(|p-|, |p+|)."""
    amax = 0.0
    for i in range(n):
        a = max(S[6, i], 0.0)
        b = min(S[7, i], 0.0)
        o[i] += nu * (S[3, i] - S[2, i]) * inv_h - 0.5 * max(a * a, b * b)
        amax = max(amax, max(abs(S[6, i]), abs(S[7, i])))
    return amax


@njit(cache=True, fastmath=True, inline="always")
def _lax_friedrichs_terms(S, n, inv_h, nu, o):
    """o += nu (D_i - D_{i-1}) / h - ((p- + p+) / 2)^2 / 2 + alpha (p+ - p-) / 2, alpha = max(|p-|, |p+|), along
    a row (rows as in :func:`_godunov_terms`); returns max alpha."""
    amax = 0.0
    for i in range(n):
        pm, pp = S[6, i], S[7, i]
        pbar = 0.5 * (pm + pp)
        alpha = max(abs(pm), abs(pp))
        o[i] += nu * (S[3, i] - S[2, i]) * inv_h - 0.5 * pbar * pbar + 0.5 * alpha * (pp - pm)
        amax = max(amax, alpha)
    return amax


@njit(cache=True, fastmath=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _central4_terms(S, n, inv_h, nu, o):
    """o += nu (five-point second derivative) - p^2 / 2 with the five-point p (see :func:`_one_sided`)."""
    amax = 0.0
    for i in range(n):
        p = (7.0 * (S[2, i] + S[3, i]) - S[1, i] - S[4, i]) / 12.0
        o[i] += nu * (15.0 * (S[3, i] - S[2, i]) + S[1, i] - S[4, i]) / 12.0 * inv_h - 0.5 * p * p
        amax = max(amax, abs(p))
    return amax


@njit(cache=True, fastmath=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _central_line(la, a, lc, c, lb, b, n, inv_h, nu, o, ab):
    """o += nu (D_i - D_{i-1}) / h - p^2 / 2, p = (D_{i-1} + D_i) / 2 (p- = p+: both fluxes give p^2 / 2),
    straight from the source values la[i + a], lc[i + c], lb[i + b] at cells i - 1, i, i + 1 along the axis
    (one pass, no difference rows); ab[i] = |p| (see :func:`_abs_max`)."""
    for i in range(n):
        dm = (lc[i + c] - la[i + a]) * inv_h
        dp = (lb[i + b] - lc[i + c]) * inv_h
        p = 0.5 * (dm + dp)
        o[i] += nu * (dp - dm) * inv_h - 0.5 * p * p
        ab[i] = abs(p)


@njit(cache=True, fastmath=True, inline="always")
def _central_rhs(row, a, b, i, inv_h2, inv_h1, nu):
    """The "central" right-hand side along axes 2 and 1 at cell i of a row, from the padded source line ``row``
    along axis 2 and the source values a, b at the cells before and after it along axis 1; with |p_2|, |p_1|."""
    dm = (row[i + 3] - row[i + 2]) * inv_h2
    dp = (row[i + 4] - row[i + 3]) * inv_h2
    p = 0.5 * (dm + dp)
    em = (row[i + 3] - a) * inv_h1
    ep = (b - row[i + 3]) * inv_h1
    q = 0.5 * (em + ep)
    return nu * ((dp - dm) * inv_h2 + (ep - em) * inv_h1) - 0.5 * (p * p + q * q), abs(p), abs(q)


@njit(cache=True, fastmath=True, inline="always")
def _central_pair(row, la, La, lb, Lb, n, inv_h2, inv_h1, nu, k, dt, ur, lr, wr, ab2, ab1):
    """A whole "central" TVD-RK3 stage k along a row of a 2-D field in one pass: ``row`` the padded stage source
    along axis 2 through the row (its centre row[i + 3] is u, u1 or u2); ``la``, ``lb`` the rows of u (k = 0, 1)
    or w (k = 2) before and after it, ``La``, ``Lb`` those of L0 (for u1 = u + dt L0, formed here at k = 1).
    k = 0: L0 = rhs and ab2, ab1 = |p| per axis; k = 1: w = 3/4 u + 1/4 (u1 + dt rhs); k = 2: u = 1/3 u +
    2/3 (u2 + dt rhs)."""
    if k == 0:
        for i in range(n):
            lr[i], ab2[i], ab1[i] = _central_rhs(row, la[i], lb[i], i, inv_h2, inv_h1, nu)
    elif k == 1:
        for i in range(n):
            rhs = _central_rhs(row, la[i] + dt * La[i], lb[i] + dt * Lb[i], i, inv_h2, inv_h1, nu)[0]
            wr[i] = 0.75 * ur[i] + 0.25 * (row[i + 3] + dt * rhs)
    else:
        for i in range(n):
            rhs = _central_rhs(row, la[i], lb[i], i, inv_h2, inv_h1, nu)[0]
            ur[i] = 1.0 / 3.0 * ur[i] + 2.0 / 3.0 * (row[i + 3] + dt * rhs)


@njit(cache=True, fastmath=True, inline="always")
def _combine_row(k, dt, ur, lr, wr, o, n):
    """Stage k >= 1 of TVD-RK3 along a row from its right-hand side ``o``: u2 = 3/4 u + 1/4 (u1 + dt o) with
    u1 = u + dt L0 into w (k = 1), u^{n+1} = 1/3 u + 2/3 (u2 + dt o) in place (k = 2)."""
    if k == 1:
        for i in range(n):
            wr[i] = 0.75 * ur[i] + 0.25 * (ur[i] + dt * lr[i] + dt * o[i])
    else:
        for i in range(n):
            ur[i] = 1.0 / 3.0 * ur[i] + 2.0 / 3.0 * (wr[i] + dt * o[i])


@njit(cache=True, inline="always")
def _abs_max(ab, n):
    """max(ab[:n]) of values >= 0, as the integer maximum of their bit patterns (the same order for non-negative
    floats; unlike a float maximum, which Numba does not vectorise)."""
    bits = ab.view(np.int64)
    m = 0
    for i in range(n):
        m = max(m, bits[i])
    return np.int64(m).view(np.float64)


# --- source lines of a TVD-RK3 stage: u (stage 0), u1 = u + dt L0 formed on the fly (1), u2 (2) --------------
@njit(cache=True, fastmath=True, inline="always")
def _line(u, L0, w, dt, k, axis, idx, i0, i1, m, S):
    """The stage-k source along axis 2 at padded position m along ``axis`` (0 or 1; ``idx`` maps padded
    positions to cells) from the row (i0, i1): a view of u (k = 0) or w (k = 2), or u1 = u + dt L0 (k = 1)
    kept in row 10 + (i + m) mod 3 of S (i = i0 or i1 along the axis; row 13 records which line each of these
    rows holds), so that neighbouring rows reuse the shifted lines they share."""
    j0, j1 = (idx[i0 + m], i1) if axis == 0 else (i0, idx[i1 + m])
    if k == 0:
        return u[j0, j1]
    if k == 2:
        return w[j0, j1]
    slot = ((i0 if axis == 0 else i1) + m) % 3
    buf = S[_LINES + slot]
    key = float(j0 * u.shape[1] + j1)
    if S[_TAGS, slot] != key:
        a, l = u[j0, j1], L0[j0, j1]
        for i in range(a.size):
            buf[i] = a[i] + dt * l[i]
        S[_TAGS, slot] = key
    return buf


@njit(cache=True, fastmath=True, inline="always")
def _padded(u, L0, w, dt, k, i0, i1, idx2, row):
    """row = the stage-k source along axis 2 at (i0, i1) (u, u1 = u + dt L0, or w; see :func:`_line`) with its
    ghost cells (``idx2``: padded position -> cell): the interior in one vectorised loop, the 2 x 3 ghosts
    gathered."""
    n2 = u.shape[2]
    src, l = (w[i0, i1] if k == 2 else u[i0, i1]), L0[i0, i1]
    if k == 1:
        for i in range(n2):
            row[i + _GHOST] = src[i] + dt * l[i]
    else:
        for i in range(n2):
            row[i + _GHOST] = src[i]
    for j in range(2 * _GHOST):
        jj = j if j < _GHOST else n2 + j
        c = idx2[jj]
        row[jj] = src[c] + dt * l[c] if k == 1 else src[c]


@njit(cache=True, fastmath=True, no_cfunc_wrapper=True, no_cpython_wrapper=True)
def _diffs(u, L0, w, dt, k, axis, idx, i0, i1, S, lo, hi, inv_h):
    """S[m, i] = D_{i+m-3} along ``axis`` for the row (i0, i1), m = lo..hi-1: along axis 2 from the padded line
    in row 8 of S, along axis 0 or 1 from whole stage-k source lines (see :func:`_line`)."""
    n2 = u.shape[2]
    if axis == 2:
        row = S[_PAD]
        for m in range(lo, hi):
            for i in range(n2):
                S[m, i] = (row[i + m + 1] - row[i + m]) * inv_h
        return
    prev = _line(u, L0, w, dt, k, axis, idx, i0, i1, lo, S)
    for m in range(lo, hi):
        nxt = _line(u, L0, w, dt, k, axis, idx, i0, i1, m + 1, S)
        for i in range(n2):
            S[m, i] = (nxt[i] - prev[i]) * inv_h
        prev = nxt


@njit(cache=True, inline="always")
def _step_size(shape, alpha, inv_h, nu, scheme, cfl, max_dt, now, t_out):
    """dt = cfl / (_DIFFUSION[scheme] nu sum_a 1/h_a^2 + sum_a max_c alpha[c, a] / h_a) over the non-unit axes,
    capped by ``max_dt``; the rest of the way to ``t_out`` when that is within 1e-12 (relative) of dt, so that no
    sliver step is left."""
    inv_h2 = 0.0
    for a in range(3):
        if shape[a] > 1:
            inv_h2 += inv_h[a] * inv_h[a]
    rate = _DIFFUSION[scheme] * nu * inv_h2
    for a in range(3):
        if shape[a] > 1:
            amax = alpha[0, a]
            for c in range(1, alpha.shape[0]):
                amax = max(amax, alpha[c, a])
            rate += amax * inv_h[a]
    dt = min(cfl / rate if rate > 0.0 else np.inf, max_dt)
    if t_out - now - dt < 1e-12 * max(t_out, 1.0):
        dt = t_out - now
    return dt


def _make_fused(scheme: int, ham: int, parallel: bool):
    """The fused TVD-RK3 stepper of one (scheme, numerical Hamiltonian, parallel) variant for H = |p|^2/2.

    Three passes per step, each computing the right-hand side row by row into a cache-resident row buffer and
    combining it at once (no separate combine pass, no right-hand-side array re-read except L0):

    * stage 0 reads u, writes L0 = L(u) and alpha (the step follows from alpha, as in the unfused scheme);
    * stage 1 reads u and L0, forms u1 = u + dt L0 on the fly at the stencil points, writes
      u2 = 3/4 u + 1/4 (u1 + dt L(u1)) into w;
    * stage 2 reads u and w = u2, writes u = 1/3 u + 2/3 (u2 + dt L(u2)) in place (u is read only at the cell
      it writes).

    64 bytes per cell and step (16 + 24 + 24, STREAM convention); neighbour lines come from cache. On 2-D fields
    "central" does a stage in one loop per row over both axes with the combine folded in (:func:`_central_pair`);
    the other schemes fill difference rows per axis, then combine the row (:func:`_combine_row`). The
    variant's constants are closure values, so each variant is its own small kernel, cached on disk and
    compiled only when used.
    """
    lo, hi = _FIRST_DIFF[scheme], _LAST_DIFF[scheme] + 1

    @njit(cache=True, parallel=parallel, fastmath=True, error_model="numpy")
    def advance(fields, eq, cfl, max_dt, now, t_out, max_steps):
        """At most ``max_steps`` steps of u from ``now`` towards ``t_out`` in place; (time reached, steps).
        ``fields`` = (u, L0, w); ``eq`` = (idx0, idx1, idx2, inv_h, nu, S, alpha), see :func:`integrate`."""
        u, L0, w = fields
        idx0, idx1, idx2, inv_h, nu, S, alpha = eq
        n0, n1, n2 = u.shape
        # ``parallel`` is read in the body so that it is a closure value: Numba keys a cached closure by its source
        # and closure values, and the serial and parallel variants must not load each other's machine code
        rows, nchunk = n0 * n1, (S.shape[0] if parallel else 1)
        per = (rows + nchunk - 1) // nchunk
        steps = 0
        while now < t_out and steps < max_steps:
            dt = 0.0
            for k in range(3):
                if k == 1:
                    dt = _step_size(u.shape, alpha, inv_h, nu, scheme, cfl, max_dt, now, t_out)
                for c in prange(nchunk):
                    St = S[c]
                    for a in range(3):
                        St[_TAGS, a] = -1.0  # no shifted line kept yet
                        if k == 0:
                            alpha[c, a] = 0.0
                    for r in range(c * per, min(rows, (c + 1) * per)):
                        i0 = r // n1
                        i1 = r - i0 * n1
                        row = St[_PAD]
                        _padded(u, L0, w, dt, k, i0, i1, idx2, row)
                        if scheme == 3 and n0 == 1 and n1 > 1 and n2 > 1:  # 2-D central: the stage in one pass
                            src = w if k == 2 else u
                            ja, jb = idx1[i1 + 2], idx1[i1 + 4]
                            _central_pair(row, src[i0, ja], L0[i0, ja], src[i0, jb], L0[i0, jb], n2, inv_h[2],
                                          inv_h[1], nu, k, dt, u[i0, i1], L0[i0, i1], w[i0, i1], St[6], St[7])
                            if k == 0:
                                alpha[c, 2] = max(alpha[c, 2], _abs_max(St[6], n2))
                                alpha[c, 1] = max(alpha[c, 1], _abs_max(St[7], n2))
                            continue
                        o = L0[i0, i1] if k == 0 else St[_OUT]
                        for i in range(n2):
                            o[i] = 0.0
                        for a in range(2, -1, -1):
                            if u.shape[a] == 1:
                                continue
                            ih = inv_h[a]
                            idx = idx0 if a == 0 else idx1
                            if scheme == 3:
                                if a == 2:
                                    _central_line(row, 2, row, 3, row, 4, n2, ih, nu, o, St[6])
                                else:
                                    _central_line(_line(u, L0, w, dt, k, a, idx, i0, i1, 2, St), 0,
                                                  _line(u, L0, w, dt, k, a, idx, i0, i1, 3, St), 0,
                                                  _line(u, L0, w, dt, k, a, idx, i0, i1, 4, St), 0, n2, ih, nu, o,
                                                  St[6])
                                am = _abs_max(St[6], n2) if k == 0 else 0.0
                            else:
                                _diffs(u, L0, w, dt, k, a, idx, i0, i1, St, lo, hi, ih)
                                if scheme == 4:
                                    am = _central4_terms(St, n2, ih, nu, o)
                                else:
                                    if scheme == 2:
                                        _weno5_sides(St, n2)
                                    elif scheme == 1:
                                        _eno2_sides(St, n2)
                                    else:
                                        _upwind1_sides(St, n2)
                                    if ham == 0:
                                        am = _godunov_terms(St, n2, ih, nu, o)
                                    else:
                                        am = _lax_friedrichs_terms(St, n2, ih, nu, o)
                            if k == 0:
                                alpha[c, a] = max(alpha[c, a], am)
                        if k > 0:
                            _combine_row(k, dt, u[i0, i1], L0[i0, i1], w[i0, i1], o, n2)
            now = t_out if dt == t_out - now else now + dt
            steps += 1
        return now, steps

    return advance


_FUSED: dict = {}


def fused_stepper(scheme: int, ham: int, parallel: bool):
    """The compiled fused stepper of a variant (built on first use; see :func:`_make_fused`)."""
    key = (scheme, 0 if scheme in _CENTRAL else ham, bool(parallel))
    if key not in _FUSED:
        _FUSED[key] = _make_fused(*key)
    return _FUSED[key]


# --- user Hamiltonians: the right-hand side into an array, then a combine pass per stage ----------------------
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
def _rhs_user(u, out, eq, scheme, godunov, hp):
    """out = -H_num(x, p-, p+) + nu Laplace u for a user Hamiltonian (pack ``hp``) on a (n0, n1, n2) field.

    ``eq`` = (idx0, idx1, idx2, inv_h, nu, S, alpha, W) as for the fused stepper (see :func:`integrate`), with
    ``W`` (chunks, 6, d) the user-Hamiltonian scratch; ``alpha[c, a]`` receives the user bound along axis a in
    chunk c. ``godunov``: Godunov (True) or Lax-Friedrichs.
    """
    idx0, idx1, idx2, inv_h, nu, S, alpha, W = eq
    n0, n1, n2 = u.shape
    rows = n0 * n1
    nchunk = S.shape[0]
    per = (rows + nchunk - 1) // nchunk
    lo, hi = _FIRST_DIFF[scheme], _LAST_DIFF[scheme] + 1
    for c in prange(nchunk):
        St = S[c]
        alpha[c, :] = 0.0
        for r in range(c * per, min(rows, (c + 1) * per)):
            i0 = r // n1
            i1 = r - i0 * n1
            o = out[i0, i1]
            o[:] = 0.0
            for a in range(2, -1, -1):
                if u.shape[a] == 1:
                    continue
                if a == 2:
                    _padded(u, u, u, 0.0, 0, i0, i1, idx2, St[_PAD])
                _diffs(u, u, u, 0.0, 0, a, idx0 if a == 0 else idx1, i0, i1, St, lo, hi, inv_h[a])
                _one_sided(St, n2, scheme)
                for i in range(n2):
                    o[i] += nu * _laplacian(St, i, scheme) * inv_h[a]
                St[9 + 2 * a, :n2] = St[6, :n2]  # keep p-, p+ of axis a for the user Hamiltonian
                St[10 + 2 * a, :n2] = St[7, :n2]
            _user_terms(St, n2, i0, i1, hp, godunov, W[c], o, alpha[c])


@njit(cache=True, parallel=True, fastmath=True)
def _combine(out, a, u0, b, us, dt, L):
    """out = a u0 + b (us + dt L), element-wise over flat arrays (one TVD-RK3 stage)."""
    for i in prange(out.shape[0]):
        out[i] = a * u0[i] + b * (us[i] + dt * L[i])


@njit(cache=True)
def _advance_user(fields, eq, scheme, godunov, hp, cfl, max_dt, now, t_out, max_steps):
    """At most ``max_steps`` TVD-RK3 steps of u from time ``now`` towards ``t_out`` (in place), for a user
    Hamiltonian: each stage's right-hand side into L (:func:`_rhs_user`), then a combine pass.

    ``fields`` = (u, two stage buffers, the right-hand side buffer). Returns (time reached, steps taken); the
    step sequence does not depend on ``max_steps``.
    """
    u, u1, u2, L = fields
    inv_h, nu, alpha = eq[3], eq[4], eq[6]
    uf, u1f, u2f, Lf = u.reshape(-1), u1.reshape(-1), u2.reshape(-1), L.reshape(-1)
    steps = 0
    while now < t_out and steps < max_steps:
        _rhs_user(u, L, eq, scheme, godunov, hp)
        dt = _step_size(u.shape, alpha, inv_h, nu, scheme, cfl, max_dt, now, t_out)
        for stage in range(3):
            if stage > 0:
                _rhs_user(u1 if stage == 1 else u2, L, eq, scheme, godunov, hp)
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


# cells from which the rows of a stage are shared among threads (below, one thread is faster than waking the others
# three times a step): the fused central stage costs ~1 ns per cell, so a second thread only pays from ~512^2 on
# (measured on 2 cores, 2 threads / 1 thread: 0.6x at 256^2, 1.4x at 512^2); the upwinded schemes cost 10-35 ns per
# cell and gain from 128^2 on (WENO5 1.6x at 256^2)
PARALLEL_MIN_CELLS = {"upwind1": 16384, "eno2": 16384, "weno5": 16384, "central": 1 << 18, "central4": 16384}
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


def step_options(cfl: float, max_dt: float | None, cfl_max: float = 1.0) -> tuple[float, float]:
    """(cfl in (0, cfl_max], max_dt > 0 or inf), validated."""
    cfl = positive("cfl", cfl)
    if cfl > cfl_max:
        raise ValueError(f"cfl must be in (0, {cfl_max:g}], got {cfl!r}")
    return cfl, np.inf if max_dt is None else positive("max_dt", max_dt)


def kernel_layout(grid, nu: float, scheme: str, threads: int | None, H=None) -> tuple:
    """The kernels' view of ``grid``: (shape3, eq, parallel, threads), with the field as (n0, n1, n2) (leading unit
    axes), ``eq`` = (idx0, idx1, idx2, inv_h, nu, S, alpha) (ghost-cell maps, 1/h, scratch rows per chunk, the
    per-chunk max |p| or bound per axis), and for a user Hamiltonian ``H`` its scratch (chunks, 6, d) appended."""
    shape3 = (1,) * (3 - grid.ndim) + grid.shape
    inv_h = 1.0 / np.array((1.0,) * (3 - grid.ndim) + grid.spacing)
    per3 = (True,) * (3 - grid.ndim) + grid.periodic
    idx = [_ghost_index(n, p) for n, p in zip(shape3, per3)]
    parallel = grid.size >= PARALLEL_MIN_CELLS[scheme]
    n_threads = thread_count(threads)       # validated on every grid: threads=0 is refused on small ones too
    threads = n_threads if parallel else 1
    nchunk = min(shape3[0] * shape3[1], 4 * threads) if parallel else 1
    S = np.zeros((nchunk, _ROWS, shape3[2] + 2 * _GHOST))
    eq = (idx[0], idx[1], idx[2], inv_h, nu, S, np.zeros((nchunk, 3)))
    if H is not None:
        eq = eq + (np.empty((nchunk, 6, grid.ndim)),)
    return shape3, eq, parallel, threads


def user_pack(H, grid, inv_h: np.ndarray) -> tuple:
    """The user Hamiltonian's pack for :func:`_user_terms`: H.pack + (lower corner, h, ndim) in the 3-D layout."""
    lower3 = np.array((0.0,) * (3 - grid.ndim) + grid.lower)
    return H.pack(grid.ndim) + (lower3, 1.0 / inv_h, grid.ndim)


def integrate(f: np.ndarray, grid, times: np.ndarray, nu: float, scheme: str, hamiltonian: str, cfl: float,
              max_dt: float | None, progress: bool | None, H=None, threads: int | None = None
              ) -> tuple[np.ndarray, np.ndarray, dict]:
    """Step u_t + H(x, grad u) = nu Laplace u from u = f (H = |p|^2 / 2 when None, else a
    :class:`~pde_sgd.hj.hamiltonians.Hamiltonian`) to the output ``times`` (validated, from
    :func:`pde_sgd.driver.output_times`) in :func:`pde_sgd.driver.drive`; returns (times, snapshots, stats),
    stats counting TVD-RK3 steps and their 3 stages each as substeps. A user H's ``bound`` is checked against
    the |dH/dp| met on the field before the run and after every chunk of steps
    (:meth:`~pde_sgd.hj.hamiltonians.Hamiltonian.check_bound`)."""
    code = SCHEMES[choice("scheme", scheme, SCHEMES)]
    ham = HAMILTONIANS[numerical_hamiltonian(hamiltonian, H)]
    cfl, max_dt = step_options(cfl, max_dt)
    if nu > 0:  # explicit diffusion: dt <= cfl / sum(2 nu / h^2) (8/3 for central4), 3 RK stages per step
        steps = float(times[-1]) * sum(_DIFFUSION[code] * nu / h ** 2 for h in grid.spacing) / cfl
        warn_long_run("hj viscous solver", 3.0 * steps * grid.size,
                      f"~{steps:.2g} time steps of {grid.size} cells to t = {float(times[-1]):g}")
    shape3, eq, parallel, threads = kernel_layout(grid, nu, scheme, threads, H)
    u = np.ascontiguousarray(f, dtype=np.float64).reshape(shape3).copy()
    if H is None:
        stepper, fields, extra = fused_stepper(code, ham, parallel), (u, np.empty_like(u), np.empty_like(u)), ()
    else:
        H.check_bound(f, grid, 0.0)
        stepper, fields = _advance_user, (u,) + tuple(np.empty_like(u) for _ in range(3))
        extra = (code, ham == HAMILTONIANS["godunov"], user_pack(H, grid, eq[3]))
    snaps = np.empty((times.size,) + grid.shape)
    now = 0.0
    with drive(float(times[-1]), progress=progress, desc=f"hj {scheme}", unit="t", threads=threads) as run:
        for n_out, t_out in enumerate(times):
            while now < t_out:
                reached, k = jit_call(stepper, fields, eq, *extra, cfl, max_dt, now, float(t_out),
                                      _STEPS_PER_CALL)
                run.advance(k, 3 * k, progress=reached - now)
                now = reached
                if H is not None:
                    H.check_bound(u.reshape(grid.shape), grid, now)
            if not np.all(np.isfinite(u)):
                raise NumericalInstability(f"the solution became non-finite before t = {t_out}; lower cfl")
            snaps[n_out] = u.reshape(grid.shape)
    return times, snaps, run.stats
