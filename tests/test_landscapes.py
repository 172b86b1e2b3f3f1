import numpy as np
import pytest

from landscape_cases import BUILTINS
from pde_sgd import Grid, landscapes as L

@pytest.mark.parametrize("f", BUILTINS, ids=lambda f: f.name)
def test_gradient_and_hessian_match_central_differences(f):
    # central differences have error O(h^2 f''') ~ 1e-10 at h = 1e-5; kinks (abs) are avoided by the seed
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.5, 1.5, size=(7, f.dim))
    h = 1e-5
    eye = np.eye(f.dim)
    fd_grad = np.stack([(f.value(x + h * eye[i]) - f.value(x - h * eye[i])) / (2 * h) for i in range(f.dim)], -1)
    fd_hess = np.stack([(f.grad(x + h * eye[i]) - f.grad(x - h * eye[i])) / (2 * h) for i in range(f.dim)], -1)
    np.testing.assert_allclose(f.grad(x), fd_grad, atol=2e-6 * (1 + np.abs(fd_grad).max()))
    np.testing.assert_allclose(f.hessian(x), fd_hess, atol=2e-5 * (1 + np.abs(fd_hess).max()))
    np.testing.assert_allclose(f.hessian(x), np.swapaxes(f.hessian(x), -1, -2), atol=1e-12)


def test_known_values():
    assert L.quadratic([[2.0]]).value(np.array([3.0])) == pytest.approx(9.0)
    dw = L.double_well(2)
    np.testing.assert_allclose(dw.value(np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.0]])), [0.0, 0.0, 0.25])
    np.testing.assert_allclose(L.rastrigin(2).grad(np.zeros((1, 2))), 0.0, atol=1e-15)
    np.testing.assert_allclose(L.abs_l1(2).value(np.array([[-1.0, 2.0]])), [3.0])
    np.testing.assert_allclose(L.neg_abs_l1(1).value(np.array([-2.0, 0.5])), [-2.0, -0.5])


def test_wiggly_is_seeded_and_has_the_deep_relaxation_shape():
    a, b = L.wiggly(seed=1), L.wiggly(seed=1)
    x = np.linspace(-3, 3, 500)
    np.testing.assert_array_equal(a.value(x), b.value(x))
    assert not np.allclose(a.value(x), L.wiggly(seed=2).value(x))
    base = x**2 + 1.5 * np.sin(2 * np.pi * x)
    # the perturbation is bounded by the sum of |amplitudes|
    amp_bound = np.abs(a.params[1:1 + a.info["n_modes"]]).sum()
    assert np.max(np.abs(a.value(x) - base)) <= amp_bound + 1e-12
    assert L.wiggly(seed=1, amplitude=0.0).value(x) == pytest.approx(base)


def test_wide_narrow_has_deepest_minimum_in_the_narrow_valley():
    f = L.wide_narrow()
    x = np.linspace(-3, 3, 20001)
    assert abs(x[np.argmin(f.value(x))] - 1.5) < 0.05


def test_shapes_and_grid_sampling():
    f = L.double_well(2)
    x = np.zeros((3, 4, 2))
    assert f.value(x).shape == (3, 4) and f.grad(x).shape == (3, 4, 2) and f.hessian(x).shape == (3, 4, 2, 2)
    w = L.wiggly()
    assert w.value(np.zeros(5)).shape == (5,) and w.grad(np.zeros(5)).shape == (5,)
    g = Grid([-1, -1], [1, 1], [5, 6])
    assert f.on_grid(g).shape == (5, 6) and f.grad_on_grid(g).shape == (5, 6, 2)
    with pytest.raises(ValueError, match="grid has 1 dimension"):
        f.on_grid(Grid(-1, 1, 5))
    assert L.Landscape.from_dict(f.to_dict()).value(np.ones(2)) == f.value(np.ones(2))


def test_bad_landscape_input():
    with pytest.raises(ValueError, match="last axis of length dim=2"):
        L.double_well(2).value(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="x contains NaN"):
        L.double_well(2).grad(np.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match="A must be symmetric"):
        L.quadratic([[1.0, 2.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="widths must be > 0"):
        L.gaussian_wells([0.0], [1.0], [0.0])
    with pytest.raises(ValueError, match="dim must be an integer >= 1"):
        L.double_well(0)
