import json
import subprocess
import sys

import numpy as np
import pytest

import pde_sgd
from pde_sgd import Grid, Result, beta_from_sgd, noise_scale
from pde_sgd.validation import as_generator, spd_matrices


def test_result_round_trip_is_bit_for_bit(tmp_path):
    rng = np.random.default_rng(0)
    r = Result("test.kind", {"u": rng.standard_normal((3, 4)), "t": np.arange(3)},
               {"grid": Grid(0, 1, 4), "beta": 2.5, "arr": np.ones(2)})
    npz, js = r.save(tmp_path / "sub" / "run")
    back = Result.load(tmp_path / "sub" / "run.npz")
    assert back.kind == "test.kind"
    for k in r.arrays:
        np.testing.assert_array_equal(back[k], r[k])
        assert back[k].dtype == r[k].dtype
    assert isinstance(back.params["grid"], Grid) and back.params["grid"] == Grid(0, 1, 4)
    assert back.params["beta"] == 2.5
    assert not list((tmp_path / "sub").glob("*.tmp"))  # nothing half-written left behind


def test_result_load_rejects_corrupt_and_mismatched(tmp_path):
    Result("k", {"a": np.ones(2)}).save(tmp_path / "r")
    (tmp_path / "r.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="cannot be read"):
        Result.load(tmp_path / "r")
    Result("k", {"a": np.ones(2)}).save(tmp_path / "s")
    meta = json.loads((tmp_path / "s.json").read_text())
    meta["arrays"] = ["b"]
    (tmp_path / "s.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="holds arrays"):
        Result.load(tmp_path / "s")
    with pytest.raises(ValueError, match="missing"):
        Result.load(tmp_path / "nothing")


def test_sgd_temperature_and_noise_scale():
    assert beta_from_sgd(0.1, 32) == pytest.approx(640.0)
    assert noise_scale(0.1, 1000, 10) == pytest.approx(0.1 * 99)
    assert noise_scale(0.1, 1000, 10, momentum=0.9) == pytest.approx(0.1 * 99 / 0.1)
    with pytest.raises(ValueError, match="eta must be finite and > 0"):
        beta_from_sgd(0.0, 1)
    with pytest.raises(ValueError, match="batch_size must be in"):
        noise_scale(0.1, 10, 11)


def test_spd_validation():
    D = spd_matrices("D", [[2.0, 1.0], [1.0, 2.0]], 2)
    assert D.shape == (2, 2)
    with pytest.raises(ValueError, match="D must be symmetric"):
        spd_matrices("D", [[2.0, 1.0], [0.0, 2.0]], 2)
    with pytest.raises(ValueError, match="positive semi-definite"):
        spd_matrices("D", [[1.0, 2.0], [2.0, 1.0]], 2)
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 2, 2\)"):
        spd_matrices("D", np.eye(3), 2)
    with pytest.raises(ValueError, match="seed must be"):
        as_generator(None)


def test_import_is_quick_and_free_of_torch_and_matplotlib():
    code = ("import sys, pde_sgd, pde_sgd.landscapes, pde_sgd.grid; "
            "print('torch' in sys.modules, 'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
    assert pde_sgd.__version__
