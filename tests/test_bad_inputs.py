"""Bad input reaching users raw or misleading (issue 14): each now a ValueError/TypeError/MemoryError naming
the parameter and what is allowed, raised before the work starts; degenerate legal input gets a clear error
instead of a NaN; extreme legal Fokker-Planck settings stay finite or say why not."""
import warnings

import numpy as np
import pytest

from pde_sgd import Grid, hj, landscapes
from pde_sgd.fokker_planck import FokkerPlanck, exact
from pde_sgd.fokker_planck.steady import check_direct_solve_fits, lu_bytes_estimate
from pde_sgd.landscapes import Landscape
from pde_sgd.sde import simulate_sgd
from pde_sgd.sde.control import feynman_kac_value, simulate_controlled
from pde_sgd.sde.finite_sum import QuadraticFiniteSum
from pde_sgd.sde.homogenized import homogenized
from pde_sgd.sde.rng import path_keys
from pde_sgd.sde.sgd import minibatch_sgd
from pde_sgd.sde.spectral import autocorrelation, peak_frequency, power_spectrum
from pde_sgd.validation import as_generator

G1 = Grid(-2, 2, 40)

CASES = [
    # (label, call, exception, message regex)
    ("grid cell count overflows int64", lambda: Grid([0, 0, 0], [1, 1, 1], [2 ** 21] * 3), ValueError, "cells"),
    ("grid span inf", lambda: Grid(-1e308, 1e308, 10), ValueError, "upper - lower must be finite"),
    ("grid bc None", lambda: Grid(0, 1, 4, bc=None), ValueError, "bc must be 'periodic' or 'neumann'"),
    ("grid bc ints", lambda: Grid(0, 1, 4, bc=[1]), ValueError, "bc must be"),
    ("grid from_dict missing key", lambda: Grid.from_dict({"lower": 0}), ValueError, "needs a dict with keys"),
    ("grid from_dict list", lambda: Grid.from_dict([1, 2]), ValueError, "needs a dict with keys"),
    ("grid refined 0", lambda: G1.refined(0), ValueError, "factor must be an integer >= 1"),
    ("grid refined float", lambda: G1.refined(1.5), ValueError, "factor must be an integer >= 1"),
    ("grid complex bounds", lambda: Grid(1 + 1j, 2, 4), ValueError, "lower must be real"),
    ("grid string bounds", lambda: Grid("a", 2, 4), ValueError, "lower must be a finite real number"),
    ("landscape unknown constructor", lambda: Landscape.from_dict(
        {"name": "x", "dim": 2, "builtin": {"constructor": "nope", "args": {}}}), ValueError, "not a built-in"),
    ("landscape builtin bad args", lambda: Landscape.from_dict(
        {"name": "q", "dim": 2, "builtin": {"constructor": "quadratic", "args": {"A": [[1.0], [2.0]]}}}), ValueError,
     "A must be a square matrix"),
    ("landscape value not a function", lambda: Landscape(1, dim=1), ValueError, "value must be a function"),
    ("landscape NaN params", lambda: Landscape(landscapes._double_well_value, landscapes._double_well_grad, dim=2,
                                               params=[float("nan")]), ValueError, "params contains NaN"),
    ("landscape from_dict missing", lambda: Landscape.from_dict({"kind": 0}), ValueError, "needs a dict with keys"),
    ("double_well NaN tilt", lambda: landscapes.double_well(2, tilt=float("nan")), ValueError, "NaN or inf"),
    ("wiggly seed None", lambda: landscapes.wiggly(seed=None), ValueError, r"seed must be an integer in \[0, 2\*\*63"),
    ("wiggly seed -1", lambda: landscapes.wiggly(seed=-1), ValueError, "seed must be an integer"),
    ("wiggly seed 2**63", lambda: landscapes.wiggly(seed=2 ** 63), ValueError, "seed must be an integer"),
    ("finite sum seed None", lambda: QuadraticFiniteSum.random(10, 2, None), ValueError, "seed must be an integer"),
    ("path_keys seed 2**64", lambda: path_keys(2 ** 64, 3), ValueError, "seed must be an integer"),
    ("as_generator seed -5", lambda: as_generator(-5), ValueError, "seed must be an integer"),
    ("gaussian_wells empty", lambda: landscapes.gaussian_wells([], [], []), ValueError, "n_wells >= 1"),
    ("gaussian_wells zero width", lambda: landscapes.gaussian_wells([0.0], [1.0], [0.0]), ValueError,
     "widths must be > 0"),
    ("hopf_lax_brute chunk -1", lambda: hj.exact.hopf_lax_brute(np.zeros(5), np.arange(5.0), np.arange(3.0), 0.1,
                                                               chunk=-1), ValueError, "chunk must be an integer"),
    ("proximal_point not a landscape", lambda: hj.proximal_point(lambda x: x, G1, [0.0], 0.1, 3), TypeError,
     "landscape must be a pde_sgd Landscape"),
    ("moreau complex f", lambda: hj.moreau_envelope(np.zeros(40) + 1j, G1, 0.1), ValueError, "f_values must be real"),
    ("moreau 2 t f overflows", lambda: hj.moreau_envelope(np.full(40, 1e300), G1, 1e10), ValueError, "overflows"),
    ("simulate_sgd landscape None", lambda: simulate_sgd(None, 1.0, 1.0, [0.0], dt=0.01, n_steps=10, n_paths=4,
                                                         seed=0), TypeError,
     "landscape must be a pde_sgd Landscape, an array"),
    ("minibatch problem wrong type", lambda: minibatch_sgd(object(), 0.1, 2, [0.0, 0.0], n_steps=5, n_chains=2,
                                                           seed=0), TypeError,
     "problem must be a pde_sgd.sde.QuadraticFiniteSum"),
    ("minibatch n_chains 0", lambda: minibatch_sgd(QuadraticFiniteSum.random(10, 2, 0), 0.1, 2, [0.0, 0.0],
                                                   n_steps=5, n_chains=0, seed=0),
     ValueError, "n_chains must be an integer >= 1"),
    ("homogenized not a landscape", lambda: homogenized("double_well", 10.0, [0.0], gamma=0.5, T=1.0), TypeError,
     "landscape must be a pde_sgd Landscape"),
    ("simulate_controlled hjb dict", lambda: simulate_controlled(landscapes.double_well(1), {}, None, 0.0,
                                                                 n_steps=10, n_paths=4, seed=0),
     TypeError, "hjb must be the Result of hjb_value"),
    ("autocorrelation constant", lambda: autocorrelation(np.ones(100), 5), ValueError, "constant series"),
    ("spectrum empty", lambda: power_spectrum(np.zeros((0, 2)), 0.1), ValueError, "at least 2 samples"),
    ("peak_frequency empty", lambda: peak_frequency([], []), ValueError, "same length >= 2"),
    ("feynman-kac one path", lambda: feynman_kac_value(np.array([1.0]), 2.0), ValueError, "at least 2 samples"),
    ("free energy negative density", lambda: FokkerPlanck(landscapes.double_well(1), G1, beta=1.0).free_energy(
        np.where(np.arange(40) % 2, 1.0, -0.1)), ValueError, "rho must be >= 0"),
    ("evolve substeps 'no'", lambda: FokkerPlanck(landscapes.double_well(1), G1, beta=1.0).evolve(
        np.ones(40), times=[0, 0.1], substeps="no"), ValueError, "substeps must be True or False"),
    ("leftover_field floor 1", lambda: FokkerPlanck(landscapes.double_well(1), G1, beta=1.0).leftover_field(floor=1.0),
     ValueError, r"floor must be in \(0, 1\)"),
    ("leftover_field empty bulk", lambda: FokkerPlanck(landscapes.double_well(1), Grid(-2, 2, 5), beta=1.0)
     .leftover_field(floor=0.9), ValueError, "no bulk cell"),
]


@pytest.mark.parametrize("label, call, exc, match", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_a_named_error(label, call, exc, match):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning / RuntimeWarning on the way
        with pytest.raises(exc, match=match):
            call()


def test_phi_vs_f_with_constant_f_is_a_clear_error():
    from pde_sgd.networks.coupling import phi_vs_f
    g = Grid([-1, -1], [1, 1], [6, 6])
    with pytest.raises(ValueError, match="f is constant"):
        phi_vs_f(g, np.ones(g.shape), np.zeros(g.shape), np.ones(g.shape))


def test_networks_refuse_nan_parameters():
    import torch

    from pde_sgd.networks import build_model, capture, load_dataset, train
    from pde_sgd.networks.hessian import hessian_top
    data = load_dataset("synthetic", n=64, seed=0)
    model = build_model("mlp", data, seed=0, hidden=(4,))
    bad = model.theta().clone()
    bad[3] = float("nan")
    with pytest.raises(ValueError, match="theta0 contains NaN"):
        train(model, data, eta=0.1, batch_size=8, n_steps=3, seed=0, theta0=bad)
    with pytest.raises(ValueError, match="theta contains NaN"):
        capture(model, bad, data, eta=0.1, batch_size=8, step=0, seed=0)
    with pytest.raises(ValueError, match="theta contains NaN"):
        hessian_top(model, bad, data.X, data.y, 2)
    with pytest.raises(TypeError, match="theta must be a torch.Tensor"):
        hessian_top(model, bad.numpy(), data.X, data.y, 2)
    assert torch.isfinite(model.theta()).all()


@pytest.mark.parametrize("D", ["nan", "indefinite"])
def test_torch_bridge_callable_D_gets_the_package_psd_message(D):
    import torch

    from pde_sgd.sde import torch_bridge as tb

    def bad_D(y):
        out = torch.eye(2, dtype=y.dtype).expand(y.shape[0], 2, 2).clone()
        out[:, 0, 1] = out[:, 1, 0] = float("nan") if D == "nan" else 2.0
        return out

    sde = tb.make_sde(landscapes.double_well(2), bad_D, 1.0, device="cpu")
    with pytest.raises(ValueError, match="D must be a finite symmetric positive semi-definite matrix"):
        tb.run(sde, np.zeros(2), T=0.05, dt=0.01, n_paths=4, seed=0)
    with pytest.raises(TypeError, match="sde must be the module returned by make_sde"):
        tb.run(object(), np.zeros(2), T=0.05, dt=0.01, n_paths=4, seed=0)


# --- memory and time ----------------------------------------------------------------------------------
def test_moreau_envelope_periodic_huge_t_uses_one_image():
    """Only the nearest periodic image can be the minimiser, so a huge t costs no more than a small one (before:
    images ~ sqrt(t), ~9 GB at the audit's t) and the result is the exact one: min f everywhere (every point
    reaches the global minimum for free), with the prox within half a period of x."""
    g = Grid(-1, 1, 64, bc="periodic")
    f = np.cos(np.pi * g.axes[0]) + 0.3 * np.sin(3 * np.pi * g.axes[0])
    u, prox = hj.moreau_envelope(f, g, 1e12)
    np.testing.assert_allclose(u, f.min(), rtol=0, atol=1e-9)
    assert np.all(np.abs(prox[..., 0] - g.axes[0]) <= 1.0 + 1e-12)
    t = 0.7  # a t whose reach spans several periods: same as brute force over 5 images
    u, _ = hj.moreau_envelope(f, g, t)
    y = np.concatenate([g.axes[0] + 2 * k for k in range(-2, 3)])
    ref, _ = hj.exact.hopf_lax_brute(np.tile(f, 5), y, g.axes[0], t)
    np.testing.assert_allclose(u, ref, rtol=0, atol=1e-12)


def test_3d_steady_state_refuses_before_superlu_runs_out_of_memory():
    assert lu_bytes_estimate((64, 64, 64)) > 4e9  # the audit measured > 7.5 GB for 64^3 with cross diffusion
    assert lu_bytes_estimate((32, 32, 32)) < 1.2e9  # peak of the solve measured 814 MB (the old bound 5e8 was below it)
    with pytest.raises(MemoryError, match=r"64x64x64 grid \(262144 cells\) needs an estimated"):
        check_direct_solve_fits((64, 64, 64), limit=4e9)
    g = Grid([-2, -2, -2], [2, 2, 2], [8, 8, 8])
    fp = FokkerPlanck(landscapes.double_well(3), g, beta=1.0, D=[[1.0, 0.3, 0.0], [0.3, 1.0, 0.0], [0, 0, 1.0]])
    import pde_sgd.fokker_planck.steady as steady
    real = steady.memory_limit
    try:
        steady.memory_limit = lambda: 1e3
        with pytest.raises(MemoryError, match="8x8x8 grid"):
            fp.steady_state()
    finally:
        steady.memory_limit = real
    assert fp.steady_state().shape == g.shape


# --- extreme but legal Fokker-Planck settings -----------------------------------------------------------
def test_free_energy_is_finite_at_beta_200():
    """beta = 200 on the 2-D double well: rho_ss ~ 1e-300 far out, so p / q overflowed to inf (before).
    The free energy of the uniform density is beta^-1 (log|box| ... ) finite: compare with the sum in logs."""
    g = Grid([-2, -2], [2, 2], [40, 40])
    fp = FokkerPlanck(landscapes.double_well(2), g, beta=200.0)
    q = fp.steady_state()
    p = np.full(g.shape, 1.0 / (16.0))
    m = q > 0
    expected = np.sum(p[m] * (np.log(p[m]) - np.log(q[m]))) * g.cell_volume / 200.0
    F = fp.free_energy(np.ones(g.shape))
    assert np.isfinite(F) and F == pytest.approx(expected, rel=1e-12) and F > 0


def test_cross_diffusion_undershoot_warns():
    g = Grid([-3, -3], [3, 3], [12, 12])
    D = np.array([[1.0, 0.99], [0.99, 1.0]])  # nearly singular, strongly correlated
    fp = FokkerPlanck(landscapes.quadratic([[1.0, 0.3], [0.3, 0.5]]), g, beta=1.0, D=D)
    assert not fp.operator.monotone
    with pytest.warns(RuntimeWarning, match="undershoots"):
        fp.steady_state()
    fp_ok = FokkerPlanck(landscapes.quadratic([[1.0, 0.3], [0.3, 0.5]]), g, beta=1.0, D=np.eye(2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fp_ok.steady_state()  # monotone: no warning


def test_long_runs_are_announced_before_they_start(monkeypatch):
    """solve_viscous on 4096^2 to t = 0.1 (the audit's ~65 h run) and expm over a long span warn with the
    estimated work before starting; small runs do not warn."""
    from pde_sgd import validation
    g = Grid([-1, -1], [1, 1], [4096, 4096])
    steps = 0.1 * 2 * (2 * 0.5 / 10.0 / g.spacing[0] ** 2) / 0.5
    assert 3 * steps * g.size > 1e12  # the estimate the solver computes: far beyond LONG_RUN_WORK
    monkeypatch.setattr(validation, "LONG_RUN_WORK", 1e3)
    g_small = Grid([-1, -1], [1, 1], [32, 32])
    f = landscapes.rastrigin(2).on_grid(g_small)
    with pytest.warns(RuntimeWarning, match="hj viscous solver: about .* elementary updates"):
        hj.solve_viscous(f, g_small, 10.0, times=[0.01])
    fp = FokkerPlanck(landscapes.double_well(1), G1, beta=1.0)
    with pytest.warns(RuntimeWarning, match=r"evolve\(method='expm'\): about"):
        fp.evolve(np.ones(40), times=[0.0, 50.0], method="expm")
    monkeypatch.setattr(validation, "LONG_RUN_WORK", 1e10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hj.solve_viscous(f, g_small, 10.0, times=[0.01])
        fp.evolve(np.ones(40), times=[0.0, 0.5], method="expm")


def test_steady_state_names_exp_underflow_not_a_vanishing_D():
    """beta (max f - min f) = 5e6: exp(-beta f) underflows and the reduced system is singular; the message
    names the underflow (it said "D may vanish on a whole axis"), with no raw scipy warning."""
    fp = FokkerPlanck(landscapes.double_well(1), Grid(-4, 4, 60), beta=1e5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"beta \* \(max f - min f\) = 5.2.e\+06 > 700, so exp\(-beta f\) "
                                             r"underflows"):
            fp.steady_state()
