"""k networks trained at once (vmap over stacked parameters) against k separate trainings with the same seeds."""
from __future__ import annotations

import pytest
import torch

from pde_sgd.networks import build_model, digits, train
from pde_sgd.networks.batched import batched_accuracy, batched_loss, stack_models, train_batched

SEEDS = [3, 4, 5]


@pytest.fixture(scope="module")
def data():
    return digits(300, seed=1, device="cpu")


def _torch_sgd(data, seed_init, seed_batches, eta, momentum, B, n_steps, wd):
    """One model trained by torch.optim.SGD on its module (autograd, module forward): the independent reference."""
    flat = build_model("mlp", data, seed=seed_init, hidden=(16,), weight_decay=wd, device="cpu")
    module = flat.module
    opt = torch.optim.SGD(module.parameters(), lr=eta, momentum=momentum)
    gen = torch.Generator().manual_seed(seed_batches)
    for _ in range(n_steps):
        idx = torch.randperm(data.n, generator=gen)[:B]
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(module(data.X[idx]), data.y[idx])
        loss = loss + 0.5 * wd * sum((p ** 2).sum() for p in module.parameters())
        loss.backward()
        opt.step()
    return flat.theta()


def test_vmapped_momentum_sgd_equals_separate_torch_trainings(data):
    etas, moms = [0.05, 0.2, 0.1], [0.0, 0.5, 0.9]
    model, thetas = stack_models("mlp", data, SEEDS, hidden=(16,), weight_decay=1e-3, device="cpu")
    out = train_batched(model, thetas, data, eta=etas, momentum=moms, batch_size=8, n_steps=40,
                        seeds=[10, 11, 12])
    for i, s in enumerate(SEEDS):
        ref = _torch_sgd(data, s, 10 + i, etas[i], moms[i], 8, 40, 1e-3)
        assert (ref - thetas[i]).abs().max() > 1e-2  # training moved the parameters
        torch.testing.assert_close(out[i], ref, rtol=1e-10, atol=1e-12)


def test_vmapped_plain_sgd_equals_the_package_trainer(data):
    model, thetas = stack_models("mlp", data, SEEDS, hidden=(16,), device="cpu")
    out = train_batched(model, thetas, data, eta=0.1, batch_size=16, n_steps=30, seeds=[7, 8, 9])
    for i, s in enumerate(SEEDS):
        single = build_model("mlp", data, seed=s, hidden=(16,), device="cpu")
        torch.testing.assert_close(out[i], train(single, data, eta=0.1, batch_size=16, n_steps=30, seed=7 + i),
                                   rtol=1e-10, atol=1e-12)
    loss, acc = batched_loss(model, out, data), batched_accuracy(model, out, data)
    for i in range(3):
        assert loss[i].item() == pytest.approx(model.loss(out[i], data.X, data.y).item(), rel=1e-12)
        assert acc[i].item() == model.accuracy(out[i], data)
    assert torch.all(loss < batched_loss(model, thetas, data))  # 30 steps of SGD lowered every loss


@pytest.mark.parametrize("kw, match", [
    ({"eta": [0.1, 0.1]}, "eta must be one value or one per model \\(k=3\\)"),
    ({"eta": -1.0}, "eta must be finite and > 0"),
    ({"momentum": 1.0}, "momentum must be in \\[0, 1\\)"),
    ({"seeds": [1, 2]}, "seeds must hold one seed per model \\(3\\)"),
    ({"batch_size": 1000}, "batch_size must be in \\[1, N=300\\]"),
    ({"n_steps": -1}, "n_steps must be an integer >= 0"),
    ({"thetas": torch.zeros(3, 5)}, "thetas must be a tensor of shape \\(k >= 1, P=")])
def test_bad_input(data, kw, match):
    model, thetas = stack_models("mlp", data, SEEDS, hidden=(16,), device="cpu")
    args = {"thetas": thetas, "eta": 0.1, "batch_size": 8, "n_steps": 2, "seeds": [0, 1, 2]} | kw
    with pytest.raises(ValueError, match=match):
        train_batched(model, args.pop("thetas"), data, **args)
