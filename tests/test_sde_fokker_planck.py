"""SDE histograms against the Fokker-Planck steady state, isotropic and anisotropic D (issue 4)."""
import numpy as np
import pytest
from numba import cfunc

from pde_sgd import Grid, landscapes
from pde_sgd.fokker_planck import FokkerPlanck
from pde_sgd.fokker_planck.exact import power_law_density
from pde_sgd.sde import fields, simulate_sgd

N_PATHS = 20000


def _binned(grid, rho, agg):
    """Probabilities of blocks of agg^d cells of a density on ``grid``."""
    p = np.clip(rho, 0.0, None) * grid.cell_volume
    for ax in range(grid.ndim):
        p = np.add.reduceat(p, np.arange(0, grid.shape[ax], agg), axis=ax)
    return p


def _histogram(x, grid, agg):
    edges = [np.linspace(lo, hi, n // agg + 1) for lo, hi, n in zip(grid.lower, grid.upper, grid.shape)]
    h, _ = np.histogramdd(x, bins=edges)
    return h / len(x)


def _l1_and_null(x, grid, rho, agg, seed=0):
    """L1 distance between the sample histogram and the binned density, with one extra bin for everything
    outside the box (histogramdd drops those samples; their mass 1 - h.sum() is compared with the density's
    1 - p.sum(), ~0 for these boxes), and the 99.9% quantile of the same distance for n samples drawn exactly
    from that density over the same bins (multinomial null, 400 draws): the sampling error."""
    p = _binned(grid, rho, agg).ravel()
    p = np.append(p, max(1.0 - p.sum(), 0.0))
    p /= p.sum()
    h = _histogram(x, grid, agg).ravel()
    h = np.append(h, 1.0 - h.sum())
    l1 = np.abs(h - p).sum()
    rng = np.random.default_rng(seed)
    null = [np.abs(rng.multinomial(len(x), p) / len(x) - p).sum() for _ in range(400)]
    return l1, np.quantile(null, 0.999)


def test_l1_counts_samples_outside_the_box():
    # samples that left the box must count: with half of them outside, every in-box bin holds h/2 < p, so
    # L1 = sum (p - h/2) + 1/2 = 1 exactly (the old "+ (1 - p.sum())" version gave 1/2 here)
    grid = Grid([-1.0, -1.0], [1.0, 1.0], [6, 6])
    rho = np.full(grid.shape, 0.25)
    x = np.random.default_rng(0).uniform(-1, 1, (4000, 2))
    inside, q = _l1_and_null(x, grid, rho, 3)
    half_out = _l1_and_null(np.concatenate([x, x + 5.0]), grid, rho, 3)[0]
    assert inside <= q
    assert half_out == pytest.approx(1.0, abs=1e-12)


def _gibbs(L, grid, beta):
    r = np.exp(-beta * (L.on_grid(grid) - L.on_grid(grid).min()))
    return r / (r.sum() * grid.cell_volume)


def test_isotropic_2d_histogram_is_fp_steady_state_and_gibbs():
    L, beta = landscapes.double_well(2), 3.0
    grid = Grid([-2.5, -2.5], [2.5, 2.5], [60, 60])
    x = simulate_sgd(L, 1.0, beta, [0.0, 0.0], dt=0.005, n_steps=1600, n_paths=N_PATHS, seed=1)["x"][-1]
    rho = FokkerPlanck(L, grid, 1.0, beta).steady_state()
    l1, q = _l1_and_null(x, grid, rho, 3)
    print(f"isotropic: L1 {l1:.4f}, null 99.9% {q:.4f}")
    assert l1 <= q
    assert _l1_and_null(x, grid, _gibbs(L, grid, beta), 3)[0] <= q


def test_anisotropic_2d_histogram_is_fp_steady_state_not_gibbs():
    L, beta = landscapes.double_well(2), 3.0
    # correlation 0.57: strong enough to move the steady state away from Gibbs, mild enough that the FP
    # cross-diffusion stencil stays (almost) positive on this grid (negative mass < 1e-6, clipped below)
    D = np.array([[1.0, 0.4], [0.4, 0.5]])
    grid = Grid([-2.5, -2.5], [2.5, 2.5], [60, 60])
    x = simulate_sgd(L, D, beta, [0.0, 0.0], dt=0.005, n_steps=1600, n_paths=N_PATHS, seed=2,
                     scheme="milstein")["x"][-1]
    rho = FokkerPlanck(L, grid, D, beta).steady_state()
    l1, q = _l1_and_null(x, grid, rho, 3)
    l1_gibbs = _l1_and_null(x, grid, _gibbs(L, grid, beta), 3)[0]
    print(f"anisotropic: L1 to FP {l1:.4f}, to Gibbs {l1_gibbs:.4f}, null 99.9% {q:.4f}")
    assert l1 <= q
    assert l1_gibbs > 2 * q  # far beyond the null: P(L1 > q) = 0.001 under it


A_POW = 2.0


@cfunc(fields.DIFFUSION_SIG, cache=True)
def _d_power(x, t, out):
    out[0, 0] = 1.0 + A_POW * 0.25 * (x[0] * x[0] - 1.0) ** 2


def test_space_dependent_1d_power_law():
    # D(x) = 1 + a f(x): rho_ss ∝ (1 + a f)^(-beta/a - 1) (THEORY.md section 3), checked three ways
    L, beta = landscapes.double_well(1), 3.0
    grid = Grid(-2.5, 2.5, 200)
    x = simulate_sgd(L, _d_power, beta, [0.0], dt=0.004, n_steps=2000, n_paths=N_PATHS, seed=3,
                     scheme="milstein")["x"][-1]
    fv = L.on_grid(grid)
    exact = power_law_density(fv, A_POW, beta, grid.cell_volume)
    Dfield = (1.0 + A_POW * fv)[:, None, None]
    rho = FokkerPlanck(L, grid, Dfield, beta).steady_state()
    l1, q = _l1_and_null(x, grid, rho, 5)
    l1_exact = _l1_and_null(x, grid, exact, 5)[0]
    l1_gibbs = _l1_and_null(x, grid, _gibbs(L, grid, beta), 5)[0]
    print(f"1-D D = 1 + a f: L1 to FP {l1:.4f}, exact {l1_exact:.4f}, Gibbs {l1_gibbs:.4f}, null {q:.4f}")
    assert l1 <= q and l1_exact <= q
    assert l1_gibbs > 2 * q  # far beyond the null: P(L1 > q) = 0.001 under it
