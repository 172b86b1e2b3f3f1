"""User Hamiltonians H(x, p) in the HJ solvers: Osher-Shu against its exact solution (orders per scheme),
|p|^2/2 given as user code reproduces the built-in flux, and the HJB of stochastic control against hjb_value."""
import math

import numpy as np
import pytest
from numba import njit

from pde_sgd import Grid, landscapes
from pde_sgd.hj import FLUX_TABLE, SCHEME_TABLE, Hamiltonian, exact, solve_inviscid, solve_viscous
from pde_sgd.sde import hjb_value

TILT = 0.1


def orders(errors):
    e = np.asarray(errors)
    return np.log2(e[:-1] / e[1:])


@njit
def osher_shu_H(x, p):
    return 0.5 * (p[0] + 1.0) ** 2


@njit
def osher_shu_argmin(x, out):
    out[0] = -1.0


OSHER_SHU = Hamiltonian(osher_shu_H, bound=1.0 + np.pi, argmin=osher_shu_argmin)  # |p + 1| <= 1 + max|u_x|


@pytest.mark.parametrize("hamiltonian", sorted(FLUX_TABLE))
@pytest.mark.parametrize("scheme", sorted(s for s in SCHEME_TABLE if "viscosity" not in SCHEME_TABLE[s].requires))
def test_osher_shu_orders_before_the_kink(scheme, hamiltonian):
    """u_t + (u_x + 1)^2 / 2 = 0, u0 = -cos(pi x), T = 0.5 / pi^2 (smooth) against exact.osher_shu, at each
    scheme's declared order - 0.2 (hj.SCHEME_TABLE): WENO5 + TVD-RK3 third order (measured 3.0 Godunov, 3.9 LF),
    ENO2 second (2.0), upwind first (0.96)."""
    order = SCHEME_TABLE[scheme].order - 0.2
    T = 0.5 / np.pi ** 2
    errs = []
    for n in (40, 80, 160):
        g = Grid(-1, 1, n, bc="periodic")
        x = g.axes[0]
        r = solve_inviscid(-np.cos(np.pi * x), g, times=[T], scheme=scheme, H=OSHER_SHU, hamiltonian=hamiltonian)
        errs.append(np.max(np.abs(r["u"][-1] - exact.osher_shu(x, T))))
    assert np.all(orders(errs) >= order), (errs, orders(errs))
    assert r.params["hamiltonian"] == hamiltonian and r.params["H"]["convex_separable"]


@njit
def half_sq(x, p):
    s = 0.0
    for a in range(p.shape[0]):
        s += 0.5 * p[a] * p[a]
    return s


@njit
def half_sq_bound(x, lo, hi, out):
    for a in range(x.shape[0]):
        out[a] = max(abs(lo[a]), abs(hi[a]))


@njit
def half_sq_argmin(x, out):
    out[:] = 0.0


@pytest.mark.parametrize("hamiltonian", ["godunov", "lax_friedrichs"])
def test_user_half_square_reproduces_the_builtin_flux(hamiltonian):
    """H = |p|^2/2 as user code with the local bound max(|p-|, |p+|) is the built-in flux: same steps, same u
    to rounding (2-D, both equations). A wrong sign, factor or axis in the generic path fails this."""
    H = Hamiltonian(half_sq, bound=half_sq_bound, argmin=half_sq_argmin)
    g, f = Grid([-2, -1.5], [2, 2], [28, 24]), landscapes.double_well(2, tilt=TILT)
    for solve, args in ((solve_inviscid, ()), (solve_viscous, (3.0,))):
        a = solve(f, g, *args, times=[0.0, 0.2], hamiltonian=hamiltonian)
        b = solve(f, g, *args, times=[0.0, 0.2], H=H, hamiltonian=hamiltonian)
        assert a.params["steps"] == b.params["steps"]
        np.testing.assert_allclose(b["u"], a["u"], rtol=0, atol=1e-14)


@njit
def fprime(x):
    return x * (x * x - 1.0) + TILT


@njit
def hjb_H(x, p):  # u_tau + f'(x) u_x + u_x^2 / 2 = beta^-1 u_xx, tau = T - s
    return fprime(x[0]) * p[0] + 0.5 * p[0] * p[0]


@njit
def hjb_argmin(x, out):
    out[0] = -fprime(x[0])


@njit
def hjb_bound(x, lo, hi, out):
    c = fprime(x[0])
    out[0] = max(abs(c + lo[0]), abs(c + hi[0]))


def test_hjb_of_stochastic_control_against_hjb_value():
    """-u_s = -f' u_x - u_x^2 / 2 + beta^-1 u_xx, u(T) = V (THEORY.md section 1) as a viscous HJ equation in
    tau = T - s with H(x, p) = f'(x) p + p^2 / 2 (convex, argmin -f'), nu = beta^-1 (solve_viscous's beta is
    beta / 2), against hjb_value (Crank-Nicolson on the linearised equation, n = 1600): second order in |x| < 1.5
    (measured 1.97, 1.95; the reference's own error ~2e-6 is 10x below the finest error)."""
    f, V = landscapes.double_well(1, tilt=TILT), landscapes.quadratic([[1.0]], center=[0.5])
    beta, T = 4.0, 0.5
    ref = hjb_value(f, V, beta, T=T, grid=Grid(-2.5, 2.5, 1600), n_steps=800)
    H = Hamiltonian(hjb_H, bound=hjb_bound, argmin=hjb_argmin)
    for hamiltonian in ("godunov", "lax_friedrichs"):
        errs = []
        for n in (50, 100, 200):
            g = Grid(-2.5, 2.5, n)
            x = g.axes[0]
            r = solve_viscous(V, g, beta / 2, times=[0.0, T], H=H, hamiltonian=hamiltonian)
            inside = np.abs(x) < 1.5
            errs.append(np.max(np.abs(r["u"][-1] - np.interp(x, ref["x"], ref["u"][0]))[inside]))
        assert np.all(orders(errs) >= 1.8), (hamiltonian, errs, orders(errs))


def test_bad_hamiltonians_raise_naming_the_parameter():
    g = Grid(-1, 1, 16, bc="periodic")
    u0 = -np.cos(np.pi * g.axes[0])
    with pytest.raises(ValueError, match="bound is required"):
        Hamiltonian(osher_shu_H, bound=None)
    with pytest.raises(ValueError, match="bound must be > 0"):
        Hamiltonian(osher_shu_H, bound=-1.0)
    with pytest.raises(ValueError, match="H must be an @njit"):
        Hamiltonian(lambda x, p: 0.0, bound=1.0)
    with pytest.raises(ValueError, match="argmin must be an @njit"):
        Hamiltonian(osher_shu_H, bound=1.0, argmin=lambda x, out: None)
    with pytest.raises(ValueError, match="needs H convex and separable"):
        solve_inviscid(u0, g, times=[0.1], H=Hamiltonian(osher_shu_H, bound=5.0), hamiltonian="godunov")
    with pytest.raises(ValueError, match="H must be a pde_sgd.hj.Hamiltonian"):
        solve_viscous(u0, g, 1.0, times=[0.1], H=osher_shu_H)
    with pytest.raises(ValueError, match="bound must have 1 or 1 entries"):
        solve_inviscid(u0, g, times=[0.1], H=Hamiltonian(osher_shu_H, bound=[1.0, 2.0]))
    with pytest.raises(ValueError, match="hamiltonian"):
        solve_inviscid(u0, g, times=[0.1], H=OSHER_SHU, hamiltonian="roe")
    # without argmin the default flux is Lax-Friedrichs
    r = solve_inviscid(u0, g, times=[0.05], H=Hamiltonian(osher_shu_H, bound=5.0))
    assert r.params["hamiltonian"] == "lax_friedrichs"


@njit
def exp_H(x, p):
    return math.exp(4.0 * p[0])


def test_one_instability_type_for_every_stepper():
    """A bound on |dH/dp| far too small (0.01 for H = exp(4 p), |dH/dp| >= 4 e^-4 pi) would under-dissipate and
    over-step until u overflows: the HJ solver now refuses it before the first step (a ValueError naming bound and
    the measured |dH/dp|, see tests/test_hj_imex.py); exploding SDE paths raise NumericalInstability, a
    ValueError too."""
    from pde_sgd import NumericalInstability
    from pde_sgd.sde import simulate_sgd

    g = Grid(-1, 1, 64, bc="periodic")
    with pytest.raises(ValueError, match=r"bound: .*<= 0\.01, but \|dH/dp_0\| = 1\.1\d*e\+06"):
        solve_inviscid(-np.cos(np.pi * g.axes[0]), g, times=[5.0], H=Hamiltonian(exp_H, bound=0.01))

    @njit
    def explosive(x, t, out):
        out[0], out[1] = x[0] ** 3, x[1] ** 3
    with pytest.raises(NumericalInstability, match="non-finite"):
        simulate_sgd(explosive, 1.0, 2.0, [3.0, 0.0], dt=0.1, n_steps=50, n_paths=4, seed=0)
    assert issubclass(NumericalInstability, ValueError)
