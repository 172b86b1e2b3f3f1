"""MNIST-1D generated offline: deterministic per seed, cached by its arguments, global RNG left alone."""
import numpy as np
import pytest
import torch

from pde_sgd.networks import mnist1d as M


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PDE_SGD_CACHE", str(tmp_path))
    return tmp_path / "mnist1d"


def test_shapes_classes_and_split(cache):
    train, test = M.mnist1d(95, 30, seed=3, device="cpu")
    assert train.X.shape == (95, 1, 40) and test.X.shape == (30, 1, 40)
    assert train.n_classes == 10 and train.y.dtype == torch.int64
    y = torch.cat([train.y, test.y]).numpy()
    assert set(np.unique(y)) <= set(range(10)) and len(np.unique(y)) == 10
    X = torch.cat([train.X, test.X]).numpy()
    assert abs(X.mean()) < 0.1 and X.std() == pytest.approx(1.0, abs=0.1)   # standardised by the generator
    assert train.config["split"] == "train" and train.config["seed"] == 3


def test_deterministic_per_seed_and_cached(cache):
    state = np.random.get_state()
    a, _ = M.mnist1d(40, 10, seed=5, device="cpu")
    assert np.array_equal(np.random.get_state()[1], state[1])       # the generator's np.random.seed undone
    files = list(cache.glob("*.npz"))
    assert len(files) == 1
    b, _ = M.mnist1d(40, 10, seed=5, device="cpu")                  # from the cache
    files[0].unlink()
    c, _ = M.mnist1d(40, 10, seed=5, device="cpu")                  # regenerated
    assert torch.equal(a.X, b.X) and torch.equal(a.X, c.X) and torch.equal(a.y, c.y)
    d, _ = M.mnist1d(40, 10, seed=6, device="cpu")
    assert not torch.equal(a.X, d.X)


def test_corrupt_cache_is_regenerated(cache):
    a, _ = M.mnist1d(20, 10, seed=1, device="cpu")
    (f,) = cache.glob("*.npz")
    f.write_bytes(b"not an npz")
    b, _ = M.mnist1d(20, 10, seed=1, device="cpu")
    assert torch.equal(a.X, b.X)


def test_bad_input(cache):
    with pytest.raises(ValueError, match="n_train"):
        M.mnist1d(0, 10)
    with pytest.raises(ValueError, match="seed"):
        M.mnist1d(10, 10, seed=2**40)
