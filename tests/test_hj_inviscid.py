"""Inviscid HJ / Moreau envelope: exact O(N) Hopf-Lax on the grid, the Numba solver, proximal point."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from pde_sgd import Grid, landscapes
from pde_sgd.hj import exact, moreau_envelope, proximal_point, solve_inviscid

A2 = np.array([[2.0, 0.7], [0.7, 1.0]])  # not diagonal


def orders(errors):
    e = np.asarray(errors)
    return np.log2(e[:-1] / e[1:])


# --- exact Hopf-Lax on the grid -------------------------------------------------------------------------
@pytest.mark.parametrize("bc", ["neumann", "periodic"])
@pytest.mark.parametrize("dim", [1, 2])
def test_envelope_equals_brute_force(bc, dim):
    """The O(N) lower envelope gives exactly the O(N^2) minimum over the lattice (periodic images included)."""
    rng = np.random.default_rng(7)
    n = 40 if dim == 1 else 14
    g = Grid([-1.0] * dim, [1.5] * dim, [n] * dim, bc=bc)
    f = rng.normal(size=g.shape)
    t = 0.8
    u, prox = moreau_envelope(f, g, t)
    pts = g.points()
    if bc == "periodic":  # images up to 2 periods away; farther ones lie >= 5 from any x: cost > ptp f
        assert np.ptp(f) < 5.0 ** 2 / (2 * t)
        shifts = np.stack(np.meshgrid(*[[-5.0, -2.5, 0.0, 2.5, 5.0]] * dim, indexing="ij"), -1).reshape(-1, dim)
        ys = np.concatenate([pts + s for s in shifts])
        fs = np.tile(f.ravel(), len(shifts))
    else:
        ys, fs = pts, f.ravel()
    ub, _ = exact.hopf_lax_brute(fs, ys, pts, t)
    assert np.max(np.abs(u.ravel() - ub)) < 1e-12
    # the prox attains the minimum: u(x) = f(prox) + |x - prox|^2 / (2t), prox on the lattice
    f_at_prox = exact.hopf_lax_brute(fs, ys, prox.reshape(-1, dim), 1e-12)[0]
    assert np.max(np.abs(u.ravel() - f_at_prox - np.sum((pts - prox.reshape(-1, dim)) ** 2, -1) / (2 * t))) < 1e-9


def test_envelope_huber_and_neg_abs_second_order():
    """f = |x| (Huber) and f = -|x| (-|x| - t/2): the grid minimum converges at second order (odd n: 0 is a centre)."""
    t = 0.5
    for a in (1.0, -1.0):
        errs = []
        for n in (41, 81, 161, 321):
            g = Grid(-2, 2, n)
            x = g.axes[0]
            u, prox = moreau_envelope(a * np.abs(x), g, t)
            inner = np.abs(x) < 1.2  # -|x|: the box constraint matters within t of the walls
            errs.append(np.max(np.abs(u - exact.abs_value(x, t, a=a))[inner]))
        assert np.all(orders(errs) >= 1.8), (a, errs)
    # prox of |x| is soft thresholding
    g = Grid(-2, 2, 401)
    _, prox = moreau_envelope(np.abs(g.axes[0]), g, 0.3)
    soft = np.sign(g.axes[0]) * np.maximum(np.abs(g.axes[0]) - 0.3, 0)
    assert np.max(np.abs(prox[:, 0] - soft)) <= g.spacing[0] / 2 + 1e-12


def test_envelope_quadratic_matrix_form():
    """A not diagonal: u = x^T A (I + tA)^-1 x / 2 with second-order grid error; prox = (I + tA)^-1 x."""
    t = 0.3
    errs = []
    for n in (24, 48, 96, 192):
        g = Grid([-3, -3], [3, 3], [n, n])
        X = np.stack(g.coords, axis=-1)
        u, prox = moreau_envelope(0.5 * np.einsum("...i,ij,...j->...", X, A2, X), g, t)
        inner = np.all(np.abs(X) < 1.5, axis=-1)
        errs.append(np.max(np.abs(u - exact.quadratic(X, A2, t))[inner]))
    assert np.all(orders(errs) >= 1.8), errs
    M = np.linalg.inv(np.eye(2) + t * A2)
    assert np.max(np.abs(prox - X @ M.T)[inner]) <= np.sqrt(2) * g.spacing[0]


@pytest.mark.parametrize("bc", ["neumann", "periodic"])
def test_envelope_invariants_and_semiconcavity(bc):
    """u <= f, u non-increasing in t, min u = min f, and second differences <= 1/t: exact on the grid."""
    g = Grid([-2, -2], [2, 2], [50, 50], bc=bc)
    f = landscapes.rastrigin(2, b=0.5).on_grid(g)
    h = g.spacing[0]
    prev = f
    for t in (0.05, 0.1, 0.3, 1.0):
        u, _ = moreau_envelope(f, g, t)
        assert np.all(u <= prev + 1e-14)
        assert abs(u.min() - f.min()) < 1e-14
        assert max(float(np.diff(u, 2, axis=a).max()) for a in (0, 1)) / h ** 2 <= 1 / t + 1e-8
        prev = u


# --- the time stepper -----------------------------------------------------------------------------------
@pytest.mark.parametrize("scheme", ["weno5", "eno2"])
def test_solver_order_smooth_osher_shu(scheme):
    """-cos(pi x) before the kink (T = 0.5/pi^2; the Osher-Shu test in a moving frame): order >= 1.8."""
    T = 0.5 / np.pi ** 2
    errs = []
    for n in (40, 80, 160, 320):
        g = Grid(-0.63, 1.37, n, bc="periodic")  # period 2, cells placed generically w.r.t. the later kink
        x = g.axes[0]
        r = solve_inviscid(-np.cos(np.pi * x), g, times=[T], scheme=scheme)
        errs.append(np.max(np.abs(r["u"][-1] - exact.neg_cosine(x, T))))
    assert np.all(orders(errs) >= 1.8), (errs, orders(errs))
    # the moving-frame identity used above
    x = np.linspace(-1, 1, 7)
    assert np.allclose(exact.osher_shu(x, T), exact.neg_cosine(x - T, T) - T / 2)


# Measured L1 errors after the kink at n = 40, 80, 160, 320 (orders): weno5 3.3e-5 .. 2.8e-8 (3.80, 3.28,
# 3.15); eno2 1.4e-3 .. 2.3e-5 (2.06, 1.97, 1.96); upwind1 2.4e-2 .. 3.2e-3 (0.94, 0.97, 0.98). Each scheme is
# held to its own order bar (measured minimum less 0.15-0.25) and finest error (measured x 1.25), on top of the
# common bar 0.9.
KINK_L1 = {"weno5": (2.9, 2.8e-8), "eno2": (1.8, 2.27e-5), "upwind1": (0.9, 3.21e-3)}


@pytest.mark.parametrize("scheme", ["weno5", "eno2", "upwind1"])
def test_solver_l1_order_after_kink(scheme):
    """After the kink (T = 1.5/pi^2): L1 order >= 0.9 for every scheme, and per scheme (KINK_L1)."""
    T = 1.5 / np.pi ** 2
    errs = []
    for n in (40, 80, 160, 320):
        g = Grid(-0.63, 1.37, n, bc="periodic")
        x = g.axes[0]
        r = solve_inviscid(-np.cos(np.pi * x), g, times=[T], scheme=scheme)
        errs.append(np.mean(np.abs(r["u"][-1] - exact.neg_cosine(x, T))))
    assert np.all(orders(errs) >= 0.9), (errs, orders(errs))
    bar, finest = KINK_L1[scheme]
    assert np.all(orders(errs) >= bar), (errs, orders(errs))
    assert errs[-1] <= 1.25 * finest, errs


# f = |x| at n = 41 .. 321, L1 in |x| < 1.2: weno5 3.1e-3 .. 3.4e-4 (orders 1.10, 1.06, 1.04), eno2 6.2e-3 ..
# 7.1e-4 (1.03, 1.04, 1.04). f = -|x|: the errors fall faster than any power to round-off (weno5 7.6e-6 ..
# 5.4e-13, eno2 5.4e-5 .. 1.0e-13; L-inf 3.3e-11 and 6.5e-12 at n = 321): the scheme reproduces the persisting
# kink -|x| - t/2 exactly once the stencils no longer straddle it, so an order is meaningless there and the
# finest error is held to 1e-11 (L1) instead.
ABS_L1 = {(1.0, "weno5"): (0.95, 3.4e-4), (1.0, "eno2"): (0.95, 7.15e-4)}


@pytest.mark.parametrize("a", [1.0, -1.0])
@pytest.mark.parametrize("scheme", ["weno5", "eno2"])
def test_solver_kinks_abs(a, scheme):
    """f = |x| (Huber: the kink opens) and f = -|x| (the kink persists): L1 order >= 0.9 inside |x| < 1.2;
    per scheme for |x| (ABS_L1), round-off for -|x|."""
    T = 0.5
    errs = []
    for n in (41, 81, 161, 321):
        g = Grid(-2, 2, n)
        x = g.axes[0]
        r = solve_inviscid(a * np.abs(x), g, times=[T], scheme=scheme)
        errs.append(np.mean(np.abs(r["u"][-1] - exact.abs_value(x, T, a=a))[np.abs(x) < 1.2]))
    assert errs[-1] < 1e-3
    assert np.all(orders(errs) >= 0.9), (errs, orders(errs))
    if a > 0:
        bar, finest = ABS_L1[(a, scheme)]
        assert np.all(orders(errs) >= bar) and errs[-1] <= 1.25 * finest, (errs, orders(errs))
    else:
        assert np.all(np.diff(errs) < 0) and errs[-1] <= 1e-11, errs


def test_solver_quadratic_matrix_form_and_2d_landscape():
    """2-D: quadratic with non-diagonal A (order >= 1.8) and the Rastrigin-like surface vs the exact envelope."""
    t = 0.3
    errs = []
    for n in (24, 48, 96):
        g = Grid([-3, -3], [3, 3], [n, n])
        X = np.stack(g.coords, axis=-1)
        r = solve_inviscid(0.5 * np.einsum("...i,ij,...j->...", X, A2, X), g, times=[t])
        errs.append(np.max(np.abs(r["u"][-1] - exact.quadratic(X, A2, t))[np.all(np.abs(X) < 1.5, axis=-1)]))
    assert np.all(orders(errs) >= 1.8), errs
    g = Grid([-2, -2], [2, 2], [128, 128])
    f = landscapes.rastrigin(2).on_grid(g)
    r = solve_inviscid(f, g, times=[0.0, 0.05, 0.1], hamiltonian="lax_friedrichs")
    for k in (1, 2):
        u_exact, _ = moreau_envelope(f, g, r["times"][k])
        assert np.mean(np.abs(r["u"][k] - u_exact)) < 2e-3  # L1: the envelope itself has O(h^2) grid error


def test_solver_wiggly_and_invariants():
    """The wiggly loss on 500 points: solver vs exact envelope; u <= f, non-increasing, min u = min f."""
    g = Grid(-3, 3, 500)
    f = landscapes.wiggly(seed=0).on_grid(g)
    times = np.array([0.0, 0.025, 0.05, 0.1])
    r = solve_inviscid(f, g, times=times)
    u = r["u"]
    assert np.all(np.diff(u, axis=0) <= 0)  # Godunov H >= 0 and RK3 stages are convex combinations
    assert np.all(u <= f)
    exact_u, _ = moreau_envelope(f, g, 0.1)
    assert np.mean(np.abs(u[-1] - exact_u)) < 2e-3
    assert abs(u[-1].min() - f.min()) < 2e-3
    assert r.kind == "hj.inviscid" and r.params["steps"] > 0


# --- proximal point -------------------------------------------------------------------------------------
def test_proximal_point_quadratic_and_abs():
    t = 0.4
    quad = landscapes.quadratic(A2)
    g = Grid([-3, -3], [3, 3], [41, 41])
    x0 = np.array([[2.0, -1.0], [0.3, 1.7]])
    r = proximal_point(quad, g, x0, t, 5)
    M = np.linalg.inv(np.eye(2) + t * A2)
    expect = x0.copy()
    for k in range(6):
        assert np.max(np.abs(r["path"][k] - expect)) < 1e-10
        expect = expect @ M.T
    assert np.all(np.diff(r["f"], axis=0) <= 0)
    # f = |x| in 1-D: soft thresholding x -> x - t sign(x) until 0 (the grid contains 0)
    g1 = Grid(-3, 3, 61)
    r1 = proximal_point(landscapes.abs_l1(1), g1, [1.0], 0.3, 5)
    assert np.allclose(r1["path"][:, 0, 0], [1.0, 0.7, 0.4, 0.1, 0.0, 0.0], atol=1e-12)


# --- bad input ------------------------------------------------------------------------------------------
def test_bad_input_raises_value_error():
    g = Grid(-1, 1, 16)
    f = np.zeros(16)
    bad = f.copy()
    bad[0] = np.inf
    cases = [
        (lambda: moreau_envelope(bad, g, 0.1), "f_values"),
        (lambda: moreau_envelope(np.zeros((16, 2)), g, 0.1), "f_values"),
        (lambda: moreau_envelope(f, g, -1.0), "t"),
        (lambda: solve_inviscid(f, g, times=[0.1], scheme="weno9"), "scheme"),
        (lambda: solve_inviscid(f, g, times=[0.1], scheme="central"), "central"),
        (lambda: solve_inviscid(f, g, times=[np.nan]), "times"),
        (lambda: solve_inviscid(f, g, times=[0.1], cfl=0.0), "cfl"),
        (lambda: proximal_point(landscapes.abs_l1(1), g, [0.0, 1.0], 0.1, 3), "x0"),
        (lambda: proximal_point(landscapes.abs_l1(1), g, [0.0], 0.0, 3), "t"),
        (lambda: proximal_point(landscapes.abs_l1(2), g, [0.0, 0.0], 0.1, 3), "dimension"),
        (lambda: exact.quadratic(np.zeros((3, 2)), -np.eye(2), 2.0), "positive definite"),
    ]
    for call, word in cases:
        with pytest.raises(ValueError, match=word):
            call()


def test_prox_iterations_allocate_nothing_per_step_or_path():
    """The Numba proximal-point kernel allocates its scratch (Cholesky factor included) once per call: the NRT
    allocation count is the same for 1 path x 1 step as for 4 paths x 50 steps (Newton on, up to 30 steps).
    Run in a subprocess because Numba's allocation statistics must be switched on before it is imported."""
    script = textwrap.dedent("""
        import numpy as np
        from numba.core.runtime import rtsys
        from pde_sgd import Grid, landscapes
        from pde_sgd.hj.inviscid import _prox_iterations
        g, ls = Grid([-2, -2], [2, 2], [12, 12]), landscapes.double_well(2)
        pts = np.ascontiguousarray(g.points())
        fv = ls.value(pts)  # also starts the Numba runtime, whose statistics are read below
        def allocs(n_paths, n_steps):
            x0 = np.linspace(-1.5, 1.5, 2 * n_paths).reshape(n_paths, 2)
            path = np.empty((n_steps + 1, n_paths, 2))
            a = rtsys.get_allocation_stats().alloc
            _prox_iterations(ls.jit, pts, fv, x0, 0.5, n_steps, 30, path)
            return rtsys.get_allocation_stats().alloc - a
        allocs(1, 1)
        print(allocs(1, 1), allocs(4, 50))
    """)
    env = dict(os.environ, NUMBA_NRT_STATS="1")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    one, many = map(int, out.stdout.split())
    assert one == many, (one, many)
