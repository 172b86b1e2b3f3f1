import numpy as np
import pytest

from pde_sgd import Grid


def test_cell_centres_and_spacing():
    g = Grid([-1.0, 0.0], [1.0, 3.0], [4, 6], bc=["periodic", "neumann"])
    assert g.ndim == 2 and g.shape == (4, 6) and g.size == 24
    assert g.spacing == pytest.approx((0.5, 0.5))
    np.testing.assert_allclose(g.axes[0], [-0.75, -0.25, 0.25, 0.75])
    assert g.periodic == (True, False)
    X, Y = g.coords
    assert X.shape == (4, 6) and X[1, 3] == pytest.approx(-0.25) and Y[1, 3] == pytest.approx(1.75)
    pts = g.points()
    assert pts.shape == (24, 2)
    np.testing.assert_array_equal(pts[:, 0].reshape(g.shape), X)


def test_sample_and_integrate_midpoint_order_two():
    # midpoint rule on a smooth integrand: error falls by 4 per halving of h
    errs = []
    for n in (8, 16, 32):
        g = Grid([0.0, 0.0], [1.0, 2.0], [n, n])
        vals = g.sample(lambda p: np.exp(p[:, 0]) * np.cos(p[:, 1]))
        errs.append(abs(g.integrate(vals) - (np.e - 1) * np.sin(2.0)))
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(orders > 1.9)


def test_three_dimensional_grid_and_round_trip():
    g = Grid([0, 0, 0], [1, 2, 3], [3, 4, 5], bc="periodic")
    assert g.cell_volume == pytest.approx(1 / 3 * 0.5 * 0.6)
    assert Grid.from_dict(g.to_dict()) == g
    assert g.refined(2).shape == (6, 8, 10)


@pytest.mark.parametrize("kwargs, match", [
    (dict(lower=[0, 0], upper=[1], shape=[4, 4]), "one entry per axis"),
    (dict(lower=0, upper=0, shape=4), "upper must exceed lower"),
    (dict(lower=0, upper=1, shape=2), "shape must be integers >= 3"),
    (dict(lower=0, upper=1, shape=4.5), "shape must be integers"),
    (dict(lower=[0, 0, 0, 0], upper=[1, 1, 1, 1], shape=[3, 3, 3, 3]), "1 to 3 axes"),
    (dict(lower=np.nan, upper=1, shape=4), "lower contains NaN"),
    (dict(lower=0, upper=1, shape=4, bc="dirichlet"), "unknown bc"),
    (dict(lower=[0, 0], upper=[1, 1], shape=[4, 4], bc=["periodic"]), "bc must be"),
])
def test_bad_grid_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Grid(**kwargs)


def test_check_field_names_shape_and_nan():
    g = Grid(0, 1, 5)
    with pytest.raises(ValueError, match="rho must have shape"):
        g.check_field("rho", np.ones(4))
    with pytest.raises(ValueError, match="rho contains NaN"):
        g.check_field("rho", np.full(5, np.nan))
    with pytest.raises(ValueError, match="one value per point"):
        g.sample(lambda p: np.ones(3))
    with pytest.raises(ValueError, match="func returned NaN or inf"):
        g.sample(lambda p: np.log(p[:, 0] - 0.5))
