"""Property-based tests (hypothesis), bounded in examples so the suite stays fast (issue 14).

Grid geometry and persistence, the landscapes' numpy / Numba / torch forms agreeing, the exact Hopf-Lax
(Moreau envelope) invariants, the Fokker-Planck generator's structure, and Result save/load round trips.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pde_sgd import Grid, Result, hj, landscapes
from pde_sgd.fokker_planck import FokkerPlanck
from pde_sgd.landscapes import Landscape, jit_grad, jit_value

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                      HealthCheck.function_scoped_fixture])
reals = st.floats(-50, 50, allow_nan=False, allow_infinity=False)


@st.composite
def grids(draw, max_dim=3, max_n=12):
    d = draw(st.integers(1, max_dim))
    lower = draw(st.lists(reals, min_size=d, max_size=d))
    widths = draw(st.lists(st.floats(1e-3, 100), min_size=d, max_size=d))
    shape = draw(st.lists(st.integers(3, max_n), min_size=d, max_size=d))
    bc = draw(st.lists(st.sampled_from(["periodic", "neumann"]), min_size=d, max_size=d))
    upper = [lo + w for lo, w in zip(lower, widths)]
    assume(all(u > lo for lo, u in zip(lower, upper)))
    return Grid(lower, upper, shape, bc)


@FAST
@given(grids())
def test_grid_geometry_and_round_trip(g):
    assert g.size == int(np.prod(g.shape)) and g.points().shape == (g.size, g.ndim)
    for lo, up, n, h, ax in zip(g.lower, g.upper, g.shape, g.spacing, g.axes):
        assert h * n == pytest.approx(up - lo, rel=1e-12)
        assert lo < ax[0] < ax[-1] < up and np.all(np.diff(ax) > 0)
        np.testing.assert_allclose(np.diff(ax), h, rtol=1e-9)
    assert Grid.from_dict(g.to_dict()) == g
    fine = g.refined(2)
    assert fine.shape == tuple(2 * n for n in g.shape) and fine.lower == g.lower and fine.bc == g.bc
    assert g.integrate(np.ones(g.shape)) == pytest.approx(np.prod([u - lo for lo, u in zip(g.lower, g.upper)]),
                                                          rel=1e-9)


@st.composite
def landscapes_(draw):
    which = draw(st.sampled_from(["quadratic", "double_well", "rastrigin", "wells", "wiggly"]))
    if which == "quadratic":
        d = draw(st.integers(1, 3))
        M = draw(hnp.arrays(np.float64, (d, d), elements=st.floats(-2, 2)))
        return landscapes.quadratic(M @ M.T + 0.1 * np.eye(d), draw(hnp.arrays(np.float64, d, elements=reals)))
    if which == "double_well":
        return landscapes.double_well(draw(st.integers(1, 3)), tilt=draw(st.floats(-1, 1)))
    if which == "rastrigin":
        return landscapes.rastrigin(draw(st.integers(1, 3)), a=draw(st.floats(0.1, 3)), b=draw(st.floats(0, 2)))
    if which == "wiggly":
        return landscapes.wiggly(seed=draw(st.integers(0, 2 ** 63 - 1)), n_modes=draw(st.integers(0, 6)))
    d = draw(st.integers(1, 2))
    k = draw(st.integers(1, 3))
    return landscapes.gaussian_wells(draw(hnp.arrays(np.float64, (k, d), elements=st.floats(-2, 2))),
                                     draw(hnp.arrays(np.float64, k, elements=st.floats(0.1, 2))),
                                     draw(hnp.arrays(np.float64, k, elements=st.floats(0.1, 1))))


@FAST
@given(landscapes_(), st.data())
def test_landscape_numpy_numba_torch_agree(L, data):
    import torch

    from pde_sgd.sde.torch_bridge import landscape_grad
    x = data.draw(hnp.arrays(np.float64, (4, L.dim), elements=st.floats(-3, 3)))
    v, g = L.value(x), L.grad(x)
    for i in range(4):
        out = np.empty(L.dim)
        jit_grad(L.jit, np.ascontiguousarray(x[i]), out)
        assert jit_value(L.jit, np.ascontiguousarray(x[i])) == pytest.approx(v[i], rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(out, g[i], rtol=1e-12, atol=1e-12)
    gt = landscape_grad(L, dtype=torch.float64)(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(gt, g, rtol=1e-10, atol=1e-10)
    back = Landscape.from_dict(L.to_dict())
    np.testing.assert_array_equal(back.value(x), v)
    # the gradient is the derivative of the value (central differences, h = 1e-6)
    h = 1e-6
    for a in range(L.dim):
        e = np.zeros(L.dim)
        e[a] = h
        fd = (L.value(x + e) - L.value(x - e)) / (2 * h)
        np.testing.assert_allclose(fd, g[:, a], rtol=1e-5, atol=1e-5 * (1 + np.abs(v).max()))


@FAST
@given(st.data(), st.integers(4, 40), st.sampled_from(["neumann", "periodic"]),
       st.lists(st.floats(1e-3, 10), min_size=2, max_size=2, unique=True))
def test_moreau_envelope_invariants(data, n, bc, ts):
    g = Grid(-1.0, 1.0, n, bc=bc)
    f = data.draw(hnp.arrays(np.float64, n, elements=st.floats(-10, 10)))
    t1, t2 = sorted(ts)
    u1, _ = hj.moreau_envelope(f, g, t1)
    u2, _ = hj.moreau_envelope(f, g, t2)
    assert np.all(u1 <= f + 1e-12) and np.all(u2 <= u1 + 1e-12)  # u <= f, non-increasing in t
    assert u1.min() == pytest.approx(f.min(), abs=1e-12) and u2.min() == pytest.approx(f.min(), abs=1e-12)
    y = np.concatenate([g.axes[0] + 2.0 * k for k in (-1, 0, 1)]) if bc == "periodic" else g.axes[0]
    fy = np.tile(f, 3) if bc == "periodic" else f
    ref, _ = hj.exact.hopf_lax_brute(fy, y, g.axes[0], t1)  # the O(N) sweep equals brute force
    np.testing.assert_allclose(u1, ref, rtol=0, atol=1e-9 * (1 + np.abs(f).max()))


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 2), st.integers(5, 12), st.floats(0.2, 5.0), st.data())
def test_fokker_planck_generator_structure(dim, n, beta, data):
    g = Grid([-2.0] * dim, [2.0] * dim, [n] * dim, bc=data.draw(st.sampled_from(["neumann", "periodic"])))
    diag = data.draw(hnp.arrays(np.float64, dim, elements=st.floats(0.2, 2.0)))
    L = data.draw(landscapes_().filter(lambda l: l.dim == dim))
    fp = FokkerPlanck(L, g, beta=beta, D=np.diag(diag))
    A = fp.generator.toarray()
    scale = np.abs(A).max()
    np.testing.assert_allclose(A.sum(axis=0), 0.0, atol=1e-10 * scale)  # 1^T L = 0: mass conserved
    assert fp.operator.monotone  # diagonal D: off-diagonal entries >= 0
    off = A - np.diag(np.diag(A))
    assert off.min() >= 0
    rho = fp.steady_state()
    assert rho.sum() * g.cell_volume == pytest.approx(1.0, rel=1e-12)
    assert rho.min() >= 0  # positivity of the monotone scheme
    assert np.abs(A @ rho.ravel()).max() <= 1e-8 * scale * rho.max()


array_names = st.text("abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=8).filter(
    lambda s: s not in ("file", "allow_pickle") and not s.startswith("_pde_sgd"))
json_leaves = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 62, 2 ** 62),
                        st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=10))
json_values = st.recursive(json_leaves, lambda c: st.one_of(st.lists(c, max_size=3),
                                                           st.dictionaries(st.text(max_size=5), c, max_size=3)),
                           max_leaves=8)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(array_names, hnp.arrays(hnp.scalar_dtypes(), hnp.array_shapes(min_dims=0, max_dims=3,
                                                                                      max_side=4)), max_size=4),
       st.dictionaries(st.text(max_size=6), json_values, max_size=4), st.text(min_size=1, max_size=12))
def test_result_save_load_round_trip(tmp_path_factory, arrays, params, kind):
    path = tmp_path_factory.mktemp("rt") / "r"
    Result(kind, arrays, params).save(path)
    back = Result.load(path)
    assert back.kind == kind and back.params == params and sorted(back.arrays) == sorted(arrays)
    for k, a in arrays.items():
        assert back[k].dtype == a.dtype and back[k].shape == a.shape
        np.testing.assert_array_equal(back[k], a)
