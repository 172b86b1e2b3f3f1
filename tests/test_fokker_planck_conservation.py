"""Mass conservation, positivity (or its documented bound), free-energy decay, bad input."""
import math

import numpy as np
import pytest

from pde_sgd import Grid, Result, landscapes
from pde_sgd.checks.fokker_planck import fine_to_coarse
from pde_sgd.fokker_planck import FokkerPlanck, exact

D_ANISO = np.array([[1.0, 0.3], [0.3, 0.6]])


def _blob(g, centre, width=0.4):
    return exact.gaussian_density(g, centre, width**2 * np.eye(g.ndim))


CASES = {
    "iso-2d-explicit": (Grid([-2.5, -2.5], [2.5, 2.5], [32, 32]), landscapes.double_well(2), 2.0, 1.0, "explicit"),
    "aniso-2d-implicit": (Grid([-3, -3], [3, 3], [32, 32]), landscapes.double_well(2), 2.0, D_ANISO, "implicit"),
    "aniso-2d-explicit": (Grid([-3, -3], [3, 3], [32, 32]), landscapes.double_well(2), 2.0, D_ANISO, "explicit"),
    "periodic-2d": (Grid([-1, -1], [1, 1], [40, 40], bc="periodic"), landscapes.rastrigin(2, b=0.3), 3.0,
                    np.array([[0.5, 0.2], [0.2, 0.3]]), "explicit"),
    "1d-field-D": (Grid(-3, 3, 60), landscapes.wiggly(seed=0), 2.0, np.linspace(0.3, 1.5, 60), "implicit"),
    "3d": (Grid([-2, -2, -2], [2, 2, 2], [10, 10, 10]), landscapes.double_well(3), 1.0,
           np.array([[1.0, 0.2, 0.1], [0.2, 0.8, 0.0], [0.1, 0.0, 0.6]]), "explicit"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_mass_positivity_and_free_energy_decay(name):
    g, f, beta, D, method = CASES[name]
    fp = FokkerPlanck(f, g, beta=beta, D=D)
    rho0 = _blob(g, np.full(g.ndim, 0.6))
    times = np.linspace(0.0, 2.0, 21)
    res = fp.evolve(rho0, times=times, method=method)
    mass0 = rho0.sum() * g.cell_volume
    assert np.max(np.abs(res["mass"] - mass0)) < 1e-12 * mass0
    if fp.operator.monotone:
        assert res["min"].min() >= 0.0
    else:  # cross-diffusion: the exact density is > 0, so an undershoot is at most the pointwise error, which
        # is estimated by Richardson (second order) against the same run on the 2x refined grid:
        # est = 4/3 max|rho_h - I rho_h/2| (I: O(h^4) interpolation); allowed 1.5 est.
        # (Measured undershoots 4e-5 - 6e-4 of max rho, estimates 6e-3 - 2.4e-2.)
        fine = FokkerPlanck(f, g.refined(2), beta=beta, D=D)
        res2 = fine.evolve(_blob(g.refined(2), np.full(g.ndim, 0.6)), times=times, method=method)
        for coarse, ref in ((res["rho"], res2["rho"]), (fp.steady_state()[None], fine.steady_state()[None])):
            est = 4.0 / 3.0 * max(np.max(np.abs(c - fine_to_coarse(r, g.ndim, g.periodic))) for c, r in
                                  zip(coarse, ref))
            assert -coarse.min() <= 1.5 * est, (coarse.min(), est)
    F = np.array([fp.free_energy(r) for r in res["rho"]])
    assert np.all(np.diff(F) <= 1e-12 * F[0]), F
    assert F[-1] < 0.5 * F[0]


def test_cross_diffusion_undershoot_is_bounded_and_shrinks():
    """Strongly correlated D (correlation 0.9): min(rho)/max(rho) of steady and transient states."""
    D = np.array([[1.0, 0.9], [0.9, 1.0]])
    A = np.array([[1.0, 0.3], [0.3, 0.5]])
    ratios = []
    for n in (32, 64, 128):
        g = Grid([-5, -5], [5, 5], [n, n])
        fp = FokkerPlanck(landscapes.quadratic(A), g, beta=1.0, D=D)
        assert not fp.operator.monotone
        rho = fp.steady_state()
        run = fp.evolve(_blob(g, [1.0, -1.0], 0.5), times=[0.0, 0.5], method="implicit", dt=0.05)
        ratios.append(min(rho.min() / rho.max(), run["min"].min() / run["rho"].max()))
    # The undershoot is a discretisation artefact of the second-order cross-diffusion stencil (the exact density
    # is > 0), so its size must fall at least at the scheme's order: |ratio| shrinks by >= 2^1.8 per halving of
    # h, i.e. |min rho / max rho| <= |ratio at n = 32| * (32 / n)^1.8 on finer grids.
    # (Measured -1.3e-2, -6.9e-4, -1.6e-6: factors 19 and 430.)
    neg = -np.asarray(ratios)
    assert neg[0] > 0, ratios  # the coarse grid does undershoot: the decay below is not vacuous
    assert np.all(neg[1:] <= neg[:-1] / 2**1.8), ratios


def test_evolve_result_and_snapshots(tmp_path):
    g = Grid(-3, 3, 40)
    fp = FokkerPlanck(landscapes.double_well(1), g, beta=2.0, D=0.5)
    res = fp.evolve(_blob(g, [1.5]), times=[0.0, 0.1, 0.1, 0.3])
    assert isinstance(res, Result) and res["rho"].shape == (4, 40)
    assert np.array_equal(res["rho"][1], res["rho"][2])  # zero-length interval keeps the snapshot
    res.save(tmp_path / "run")
    back = Result.load(tmp_path / "run")
    assert np.array_equal(back["rho"], res["rho"]) and back.params["beta"] == 2.0


def test_explicit_limit_enforced_without_substeps():
    g = Grid(-3, 3, 40)
    fp = FokkerPlanck(landscapes.double_well(1), g, beta=2.0, D=0.5)
    rho0 = _blob(g, [1.5])
    with pytest.raises(ValueError, match="dt"):
        fp.evolve(rho0, times=[0.0, 0.1], dt=2 * fp.dt_limit, substeps=False)
    ok = fp.evolve(rho0, times=[0.0, 0.1], dt=0.5 * fp.dt_limit, substeps=False)
    sub = fp.evolve(rho0, times=[0.0, 0.1], dt=2 * fp.dt_limit)  # split into stable substeps
    assert sub.params["dt"] <= fp.dt_limit
    assert np.max(np.abs(ok["rho"][-1] - sub["rho"][-1])) < 1e-2 * ok["rho"].max()


def test_explicit_without_substeps_uses_exactly_dt_and_lands_on_snapshots():
    """substeps=False: the requested dt (here between safety*limit and the limit) is used as is, the last step
    of each interval is shortened to land on the snapshot time, and params report the steps actually taken."""
    from pde_sgd.fokker_planck.evolve import _euler_steps
    g = Grid(-3, 3, 40)
    fp = FokkerPlanck(landscapes.double_well(1), g, beta=2.0, D=0.5)
    rho0 = _blob(g, [1.5])
    dt = 0.95 * fp.dt_limit  # above the safety-reduced default step, below the limit
    times = [0.0, 0.1, 0.25]
    res = fp.evolve(rho0, times=times, dt=dt, substeps=False)
    n1, n2 = math.ceil(0.1 / dt), math.ceil(0.15 / dt)
    assert res.params["dt"] == dt and res.params["n_steps"] == n1 + n2
    assert res.params["dt_min"] == pytest.approx(min(0.1 - (n1 - 1) * dt, 0.15 - (n2 - 1) * dt), rel=1e-9)
    L, cur = fp.generator, rho0.ravel().copy()  # the same steps by hand
    buf = np.empty_like(cur)
    for span, n in ((0.1, n1), (0.15, n2)):
        _euler_steps(L.indptr, L.indices, L.data, cur, buf, dt, n - 1)
        _euler_steps(L.indptr, L.indices, L.data, cur, buf, span - (n - 1) * dt, 1)
    assert np.allclose(res["rho"][-1].ravel(), cur, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match=r"dt = .*limit"):
        fp.evolve(rho0, times=times, dt=1.01 * fp.dt_limit, substeps=False)


def test_explicit_substeps_report_the_step_used():
    g = Grid(-3, 3, 40)
    fp = FokkerPlanck(landscapes.double_well(1), g, beta=2.0, D=0.5)
    res = fp.evolve(_blob(g, [1.5]), times=[0.0, 0.1], dt=2 * fp.dt_limit)
    n = res.params["n_steps"]
    assert n == math.ceil(0.1 / (0.9 * fp.dt_limit))  # fewest equal steps within the safety limit
    assert res.params["dt"] == pytest.approx(0.1 / n, rel=1e-12) and res.params["dt"] <= 0.9 * fp.dt_limit
    k = n + 3  # a requested dt below the safety limit that does not divide the interval: k + 1 equal steps
    small = fp.evolve(_blob(g, [1.5]), times=[0.0, 0.1], dt=0.1 / (k + 0.5))
    assert small.params["n_steps"] == k + 1 and small.params["dt"] == pytest.approx(0.1 / (k + 1), rel=1e-12)


def test_explicit_limit_is_sharp_for_monotone_operator():
    """Forward Euler at the limit keeps rho >= 0; far beyond it (substeps off, limit check bypassed) it blows up."""
    from pde_sgd.fokker_planck.evolve import _euler_steps
    g = Grid([-2, -2], [2, 2], [20, 20])
    fp = FokkerPlanck(landscapes.double_well(2), g, beta=2.0, D=1.0)
    L = fp.generator
    rho = _blob(g, [0.5, 0.5]).ravel()
    a, buf = rho.copy(), np.empty_like(rho)
    _euler_steps(L.indptr, L.indices, L.data, a, buf, fp.dt_limit, 200)
    assert a.min() >= 0.0
    b = rho.copy()
    _euler_steps(L.indptr, L.indices, L.data, b, buf, 2.5 * fp.dt_limit, 200)
    assert np.abs(b).max() > 1e3 * rho.max()


@pytest.mark.parametrize("kwargs, match", [
    (dict(D=np.array([[1.0, 2.0], [2.0, 1.0]])), "positive semi-definite"),
    (dict(D=np.array([[1.0, 0.5], [0.1, 1.0]])), "symmetric"),
    (dict(D=np.ones((3, 3))), "D must be a scalar"),
    (dict(D=np.ones((7, 7))), "D must be"),
    (dict(D=np.array([[np.nan, 0.0], [0.0, 1.0]])), "D contains NaN"),
    (dict(D=-1.0), "D must be >= 0"),
    (dict(beta=0.0), "beta"),
    (dict(beta=-1.0), "beta"),
    (dict(f=np.zeros((5, 6))), "f must have shape"),
    (dict(f=np.full((6, 6), np.nan)), "f contains NaN"),
    (dict(f=lambda x: x), "wrap a loss function as Landscape"),
    (dict(f=np.zeros((6, 6, 2))), "pass a drift as grad_f"),
    (dict(f=landscapes.double_well(3)), "3-D landscape"),
    (dict(f=None, grad_f=np.zeros((6, 6))), "grad_f must have shape"),
    (dict(grad_f=np.zeros((6, 6, 2))), "exactly one of f"),
    (dict(D=lambda x: np.ones((x.shape[0], 2))), "D must have shape"),
])
def test_bad_input_raises(kwargs, match):
    g = Grid([-1, -1], [1, 1], [6, 6])
    args = dict(f=landscapes.double_well(2), beta=1.0, D=1.0)
    args.update(kwargs)
    f = args.pop("f")
    with pytest.raises(ValueError, match=match):
        FokkerPlanck(f, g, **args)


def test_bad_evolve_input_raises():
    g = Grid([-1, -1], [1, 1], [6, 6])
    fp = FokkerPlanck(landscapes.double_well(2), g, beta=1.0)
    rho0 = np.ones(g.shape)
    for bad, match in [(np.ones((5, 6)), "rho0 must have shape"), (-rho0, "rho0 must be >= 0"),
                       (np.full(g.shape, np.nan), "rho0 contains NaN")]:
        with pytest.raises(ValueError, match=match):
            fp.evolve(bad, times=[0.0, 1.0])
    with pytest.raises(ValueError, match="times"):
        fp.evolve(rho0, times=[1.0, 0.5])
    with pytest.raises(ValueError, match="method"):
        fp.evolve(rho0, times=[0.0, 1.0], method="rk4")
    with pytest.raises(ValueError, match="theta"):
        fp.evolve(rho0, times=[0.0, 1.0], method="implicit", theta=0.2)
    with pytest.raises(ValueError, match="dt"):
        fp.evolve(rho0, times=[0.0, 1.0], dt=-1.0)
    with pytest.raises(TypeError, match="grid must be a pde_sgd.Grid"):
        FokkerPlanck(landscapes.double_well(2), "grid")
