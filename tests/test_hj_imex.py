"""ETDRK4 stepper of the viscous HJ equation (solve_viscous(time_stepper="etdrk4")) against the exact Cole-Hopf
solution: fourth order in time, the explicit scheme's order in space, stable far above the diffusion limit, equal
to the explicit stepper at small steps; and the check of a user Hamiltonian's bound (issue 20)."""
import numpy as np
import pytest
from numba import njit

from pde_sgd import Grid
from pde_sgd.hj import Hamiltonian, exact, local_entropy, solve_inviscid, solve_viscous
from pde_sgd.hj.etd import phi_functions
from test_hj_hamiltonians import half_sq, half_sq_argmin, half_sq_bound


def slope(hs, errs):
    """Least-squares slope of log(error) against log(step): the observed order."""
    return float(np.polyfit(np.log(hs), np.log(errs), 1)[0])


def case(n, bc, beta, t, ndim=1):
    """(grid, f, exact u(., t)): f = cos x + 1/2 cos 2x (+ the same in y), on [0, 2 pi) periodic (then with a phase,
    so that the solution is not even) or [0, pi] Neumann; the reference is the spectral Cole-Hopf solution
    (periodic) or the log-space Cole-Hopf sum with mirror extension (Neumann)."""
    L = 2 * np.pi if bc == "periodic" else np.pi
    g = Grid([0.0] * ndim, [L] * ndim, [n] * ndim, bc=bc)
    shift = 0.4 if bc == "periodic" else 0.0
    f = sum(np.cos(x + shift * a) + 0.5 * np.cos(2 * x) for a, x in enumerate(g.coords))
    ref = exact.cole_hopf_spectral(f, g, t, beta) if bc == "periodic" else local_entropy(f, g, t, beta).u
    return g, f, ref


@pytest.mark.parametrize("bc", ["periodic", "neumann"])
def test_fourth_order_in_time(bc):
    """Steps T/m, m = 2..32, far above the Hamiltonian CFL step of the 512-cell grid (cfl up to ~80), whose spatial
    error (~5e-9, central4) stays below the time error: observed order 4 +- 0.3 (measured 3.87 periodic,
    4.07 Neumann), with exactly m uniform steps."""
    T, beta = 1.0, 1.0
    g, f, ref = case(512, bc, beta, T)
    ms = (2, 4, 8, 16, 32)
    errs = []
    for m in ms:
        r = solve_viscous(f, g, beta, times=[T], scheme="central4", time_stepper="etdrk4", cfl=1000.0, max_dt=T / m)
        assert r.params["steps"] == m
        errs.append(np.max(np.abs(r["u"][-1] - ref)))
    assert np.all(np.diff(errs) < 0) and errs[-1] < 1e-7, errs
    assert abs(slope(T / np.array(ms), errs) - 4.0) <= 0.3, errs


@pytest.mark.parametrize("scheme,order,bc,ndim", [
    (s, o, bc, d) for s, o in [("central", 2.0), ("central4", 4.0), ("weno5", 2.0)]
    for bc, d in [("periodic", 1), ("neumann", 1), ("periodic", 2), ("neumann", 2)]
    if d == 1 or s != "weno5"])  # weno5 in 1-D: its 2-D rows run the same per-axis code as central's
def test_spatial_order_is_the_explicit_schemes(scheme, order, bc, ndim):
    """Grid refinement at steps small enough (cfl 0.5) that the O(dt^4) time error is negligible: the order of
    the semi-discretisation, +- 0.3 (three-point Laplacian: 2; central4: 4; measured 1.96-1.99, 3.79-3.94, weno5
    1.94-1.99 on its finer sequence, where its limiter has settled)."""
    T, beta = 0.5, 2.0
    ns = ((64, 128, 256) if scheme == "weno5" else (32, 64, 128)) if ndim == 1 else (32, 64, 128)
    errs = []
    for n in ns:
        g, f, ref = case(n, bc, beta, T, ndim)
        r = solve_viscous(f, g, beta, times=[T], scheme=scheme, time_stepper="etdrk4", cfl=0.5)
        errs.append(np.max(np.abs(r["u"][-1] - ref)))
    assert abs(slope(1.0 / np.array(ns), errs) - order) <= 0.3, errs


def test_steps_far_above_the_diffusion_limit():
    """2-D periodic 128^2, beta = 0.5 (nu = 1): 5 steps to T = 0.5 (dt = 0.1), where the explicit TVD-RK3 stepper's
    stability polynomial exceeds 1 on the stiffest Laplacian mode by a factor > 10^6 and rk3 itself needs
    > 1000 steps; the error stays that of the spatial discretisation (central4, ~1e-7) plus a small time error."""
    T, beta, dt = 0.5, 0.5, 0.1
    g, f, ref = case(128, "periodic", beta, T, ndim=2)
    r = solve_viscous(f, g, beta, times=[T], scheme="central4", time_stepper="etdrk4", cfl=1000.0, max_dt=dt)
    assert r.params["steps"] == 5
    assert np.max(np.abs(r["u"][-1] - ref)) < 2e-4
    nu, h = 0.5 / beta, g.spacing[0]
    z = -dt * nu * 2 * (16.0 / 3.0) / h ** 2  # five-point Laplacian: spectral radius 16 / (3 h^2) per axis
    assert abs(1 + z + z ** 2 / 2 + z ** 3 / 6) > 1e6  # TVD-RK3's amplification of that mode at this dt
    explicit = solve_viscous(f, g, beta, times=[0.01], scheme="central4")
    assert explicit.params["steps"] * (T / 0.01) > 1000


def test_same_result_for_any_thread_count():
    """128^2 (above central4's parallel threshold): the chunked N(u) kernel and the transforms' workers give
    bit-identical results on 1 and 2 threads."""
    g, f, _ = case(128, "neumann", 2.0, 0.2, ndim=2)
    runs = [solve_viscous(f, g, 2.0, times=[0.2], scheme="central4", time_stepper="etdrk4", threads=k)["u"]
            for k in (1, 2)]
    assert np.array_equal(*runs)


@pytest.mark.parametrize("scheme,hamiltonian", [("weno5", "godunov"), ("eno2", "lax_friedrichs"),
                                                ("central", None)])
def test_agrees_with_the_explicit_stepper_at_small_steps(scheme, hamiltonian):
    """2-D Neumann, beta = 5: the two steppers integrate the same semi-discrete system, so at small steps they agree
    100x below the spatial error (both against Cole-Hopf ~1e-2); and |p|^2/2 given as a user Hamiltonian (Godunov
    through argmin, Lax-Friedrichs through a bound function) gives the built-in flux's ETDRK4 result."""
    T, beta = 0.3, 5.0
    g, f, ref = case(32, "neumann", beta, T, ndim=2)
    kw = dict(times=[T], scheme=scheme, hamiltonian=hamiltonian)
    a = solve_viscous(f, g, beta, time_stepper="etdrk4", cfl=0.25, **kw)["u"][-1]
    b = solve_viscous(f, g, beta, time_stepper="rk3", cfl=0.25, **kw)["u"][-1]
    err = np.max(np.abs(a - ref))
    assert 1e-5 < err < 5e-2
    assert np.max(np.abs(a - b)) < 1e-2 * err  # rk3's own O(dt^3) error at cfl 0.25 is up to 2e-3 err
    H = Hamiltonian(half_sq, bound=half_sq_bound, argmin=half_sq_argmin)
    c = solve_viscous(f, g, beta, time_stepper="etdrk4", cfl=0.25, H=H, **kw)["u"][-1]
    assert np.max(np.abs(a - c)) < 1e-12


def test_phi_functions_at_both_sides_of_the_series_switch():
    """phi_k(z) = sum_j z^j / (j + k)!: the closed forms at z = -3, the Taylor values at 0, and continuity across
    |z| = 1 where the evaluation switches from the series to the recurrence."""
    p1, p2, p3 = phi_functions(np.array([0.0, -3.0, -1.0 + 1e-13, -1.0 - 1e-13]))
    e = np.exp(-3.0)
    assert np.allclose([p1[0], p2[0], p3[0]], [1.0, 0.5, 1.0 / 6.0], rtol=1e-15)
    assert np.allclose([p1[1], p2[1], p3[1]], [(1 - e) / 3, (e - 1 + 3) / 9, (1 - e - 3 + 4.5) / 27], rtol=1e-14)
    for p in (p1, p2, p3):
        assert abs(p[2] - p[3]) < 1e-13  # the values differ by ~phi' 2e-13 < 3e-14


def test_bad_time_stepper_options():
    g, f, _ = case(16, "periodic", 1.0, 0.1)
    with pytest.raises(ValueError, match="time_stepper"):
        solve_viscous(f, g, 1.0, times=[0.1], time_stepper="imex")
    with pytest.raises(ValueError, match="cfl"):
        solve_viscous(f, g, 1.0, times=[0.1], cfl=2.0)  # rk3 keeps cfl <= 1
    with pytest.raises(ValueError, match="cfl"):
        solve_viscous(f, g, 1.0, times=[0.1], time_stepper="etdrk4", cfl=1e4)


# --- issue 20: a user Hamiltonian's bound checked against the |dH/dp| the solver meets -------------------------
@njit
def tilted_H(x, p):
    return 0.5 * p[0] * p[0] - np.cos(x[0])


@pytest.mark.parametrize("solver", ["inviscid", "rk3", "etdrk4"])
def test_a_bound_far_below_dH_dp_is_refused(solver):
    """|p|^2/2 declared with bound 0.01 on f = 2 cos x (|dH/dp| = |u_x| up to ~2): ValueError naming bound and the
    measured |dH/dp| before any step; the honest bound 2.2 runs."""
    g = Grid(0, 2 * np.pi, 64, bc="periodic")
    f = 2 * np.cos(g.axes[0])
    run = (lambda H: solve_inviscid(f, g, times=[0.1], H=H)) if solver == "inviscid" else \
        (lambda H: solve_viscous(f, g, 5.0, times=[0.1], H=H, time_stepper=solver))
    with pytest.raises(ValueError, match=r"bound: .* <= 0\.01, but \|dH/dp_0\| = 1\.99"):
        run(Hamiltonian(half_sq, bound=0.01))
    assert np.all(np.isfinite(run(Hamiltonian(half_sq, bound=2.2))["u"]))


@pytest.mark.parametrize("time_stepper", ["rk3", "etdrk4"])
def test_a_bound_outgrown_during_the_run_is_refused(time_stepper):
    """u_t + u_x^2/2 - cos x = nu u_xx from u = 0: |u_x| = 0 at the start and grows like t sin x, so the bound 0.5
    holds at t = 0 and fails later: ValueError naming bound at a time t > 0.4 (|u_x| ~ t at first)."""
    g = Grid(0, 2 * np.pi, 64, bc="periodic")
    H = Hamiltonian(tilted_H, bound=0.5)
    with pytest.raises(ValueError, match=r"bound: .*\(t = (0\.[4-9]|[1-9])"):
        solve_viscous(np.zeros(64), g, 5.0, times=np.linspace(0.1, 3.0, 30), H=H, time_stepper=time_stepper)
