"""The 1-D CNN "cnn1d" (pde_sgd.networks.models.SmallCNN1d) for MNIST-1D-like signals (N, 1, L): its logits
against a forward pass written out in numpy, parameter count, seeding, the loss gradient against central
differences, and the wrong-shape errors."""
import numpy as np
import pytest
import torch

from pde_sgd.networks import build_model, torch_threads
from pde_sgd.networks.data import Dataset


def _signals(n=6, length=13, n_classes=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 1, length, generator=g, dtype=torch.float64)
    return Dataset(X, torch.arange(n) % n_classes, n_classes, "toy")


def _numpy_forward(params: dict, x: np.ndarray) -> np.ndarray:
    """conv (kernel 5, zero padding 2) -> tanh -> mean of neighbouring pairs (a last odd sample dropped), twice;
    then flatten channel-major and apply the linear layer. ``x`` (N, 1, L)."""
    def conv(h, w, b):                                   # h (N, c_in, L), w (c_out, c_in, 5)
        pad = np.pad(h, ((0, 0), (0, 0), (2, 2)))
        L = h.shape[2]
        out = np.empty((h.shape[0], w.shape[0], L))
        for i in range(L):
            out[:, :, i] = np.einsum("nkj,ckj->nc", pad[:, :, i:i + 5], w) + b
        return out

    def pool(h):
        m = h.shape[2] // 2
        return 0.5 * (h[:, :, 0:2 * m:2] + h[:, :, 1:2 * m:2])

    w = {k: v.numpy() for k, v in params.items()}
    h = pool(np.tanh(conv(x, w["net.0.weight"], w["net.0.bias"])))
    h = pool(np.tanh(conv(h, w["net.3.weight"], w["net.3.bias"])))
    return h.reshape(h.shape[0], -1) @ w["net.7.weight"].T + w["net.7.bias"]


@pytest.mark.parametrize("length, channels", [(13, (3, 5)), (40, None)])
def test_logits_and_parameter_count_match_the_written_out_network(length, channels):
    data = _signals(length=length)
    kw = {} if channels is None else {"channels": channels}
    with torch_threads(1):
        model = build_model("cnn1d", data, seed=3, device="cpu", **kw)
        theta = model.theta()
        z = model.logits(theta, data.X)
    c1, c2 = channels or (8, 16)
    assert model.n_params == (5 * c1 + c1) + (5 * c1 * c2 + c2) + (c2 * (length // 4) + 1) * data.n_classes
    assert model.config == {"model": "cnn1d", "channels": [c1, c2], "seed": 3, "dtype": "float64",
                            "n_params": model.n_params, "weight_decay": 1e-3, "loss": "cross_entropy"}
    assert z.shape == (data.n, data.n_classes)
    np.testing.assert_allclose(z.numpy(), _numpy_forward(model.unflatten(theta), data.X.numpy()), rtol=1e-12,
                               atol=1e-13)


def test_mnist1d_size_is_small():
    """MNIST-1D (L = 40, 10 classes) with the default channels (8, 16): 2314 parameters, fewer than the MLP."""
    data = Dataset(torch.zeros(2, 1, 40, dtype=torch.float64), torch.tensor([0, 9]), 10, "mnist1d-shaped")
    assert build_model("cnn1d", data, device="cpu").n_params == 2314
    assert build_model("mlp", data, hidden=(64,), device="cpu").n_params == 3274


def test_seeded_and_leaves_the_global_rng_alone():
    data = _signals()
    state = torch.get_rng_state()
    a, b = (build_model("cnn1d", data, seed=7, device="cpu").theta() for _ in range(2))
    c = build_model("cnn1d", data, seed=8, device="cpu").theta()
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_gradient_matches_central_differences(loss):
    data = _signals()
    model = build_model("cnn1d", data, seed=1, loss=loss, weight_decay=0.0, device="cpu")
    theta = model.theta()
    g = torch.func.grad(model.loss)(theta, data.X, data.y)
    directions = torch.randn(3, model.n_params, generator=torch.Generator().manual_seed(2), dtype=theta.dtype)
    h = 1e-5
    for v in directions:
        fd = (model.loss(theta + h * v, data.X, data.y) - model.loss(theta - h * v, data.X, data.y)) / (2 * h)
        assert float(g @ v) == pytest.approx(float(fd), rel=1e-7, abs=1e-10)


@pytest.mark.parametrize("X, match", [
    (torch.zeros(4, 1, 8, 8), r"cnn1d.*\(N, 1, L\).*\(1, 8, 8\)"),     # images
    (torch.zeros(4, 40), r"cnn1d.*\(N, 1, L\).*\(40,\)"),              # flat signals
    (torch.zeros(4, 2, 40), r"cnn1d.*\(N, 1, L\).*\(2, 40\)"),         # two channels
    (torch.zeros(4, 1, 3), r"length >= 4"),                            # too short to pool twice
])
def test_wrong_input_shape_raises_naming_the_needed_shape(X, match):
    data = Dataset(X.double(), torch.zeros(4, dtype=torch.int64), 2, "bad")
    with pytest.raises(ValueError, match=match):
        build_model("cnn1d", data, device="cpu")
