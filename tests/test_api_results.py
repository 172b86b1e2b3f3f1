"""Typed results: attribute access, objects that round-trip through save/load, stats, one return type."""
import numpy as np
import pytest

from pde_sgd import Diffusion, Grid, Result, landscapes
from pde_sgd.hj import local_entropy


def test_arrays_read_as_attributes():
    r = Result("k", {"x": np.arange(3.0)})
    assert r.x is r["x"]
    with pytest.raises(AttributeError, match="'y'.*arrays: \\['x'\\]"):
        r.y
    assert r.kind == "k" and r.stats == {}  # fields are not shadowed by arrays


def test_grid_landscape_diffusion_round_trip_as_objects(tmp_path):
    g = Grid([-1, 0], [1, 2], (8, 5), ("periodic", "neumann"))
    L = landscapes.double_well()
    D = Diffusion.low_rank(np.array([[1.0, 0.0], [0.5, 2.0]]))
    params = {"grid": g, "nested": {"grids": [g, g.refined()]}, "landscape": L, "D": D,
              "C": Diffusion.constant(np.eye(2) * 0.3), "beta": 2.0}
    stats = {"steps": 7, "substeps": 21, "wall_time": 0.5, "threads": 1}
    Result("k", {"a": np.ones(2)}, params, stats).save(tmp_path / "r")
    back = Result.load(tmp_path / "r")
    assert isinstance(back.params["grid"], Grid) and back.params["grid"] == g
    assert back.params["nested"]["grids"] == [g, g.refined()]
    assert isinstance(back.params["landscape"], landscapes.Landscape)
    assert back.params["landscape"].to_dict() == L.to_dict()
    assert isinstance(back.params["D"], Diffusion) and back.params["D"].kind == "low_rank"
    np.testing.assert_array_equal(back.params["D"].factor, D.factor)
    np.testing.assert_array_equal(back.params["C"].matrix, 0.3 * np.eye(2))
    assert back.stats == stats and back.params["beta"] == 2.0


def test_function_diffusion_stays_a_description(tmp_path):
    from numba import njit

    @njit
    def d(x, t, out):
        out[0, 0] = 1.0 + x[0] ** 2

    Result("k", {}, {"D": Diffusion.function(d, dim=1)}).save(tmp_path / "r")
    back = Result.load(tmp_path / "r")
    assert isinstance(back.params["D"], dict) and back.params["D"]["kind"] == "function"


def test_stats_are_covered_by_the_pair_hash(tmp_path):
    import json
    Result("k", {"a": np.ones(1)}, {}, {"steps": 3}).save(tmp_path / "r")
    js = tmp_path / "r.json"
    meta = json.loads(js.read_text())
    meta["stats"]["steps"] = 4
    js.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="changed after saving"):
        Result.load(tmp_path / "r")
    with pytest.raises(ValueError, match="stats.*NaN or inf"):
        Result("k", {}, {}, {"wall_time": float("nan")}).save(tmp_path / "s")


def test_local_entropy_has_one_return_type():
    g = Grid(-2, 2, 64)
    x = g.axes[0]
    t, beta = 0.3, 4.0
    r = local_entropy(x ** 2 / 2, g, t, beta)
    assert isinstance(r, Result) and set(r.arrays) == {"u", "mean_y", "grad"}
    assert r.u.shape == g.shape and r.grad.shape == g.shape + (1,) and r.params["grid"] == g
    # quadratic f = x^2/2: exact grad u = x / (1 + t) for the Gaussian convolution on R (inside the box)
    inner = np.abs(x) < 1
    np.testing.assert_allclose(r.grad[inner, 0], x[inner] / (1 + t), atol=1e-6)
