"""Torch optimizers of pde_sgd.optim: Entropy-SGD and Nudged SGD against exact one-step updates."""
import numpy as np
import pytest
import torch

from pde_sgd.networks import build_model, synthetic, torch_threads
from pde_sgd.optim import EntropySGD, NudgedSGD

from optim_helpers import quadratic_step


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with torch_threads(1):
        yield


def _tiny():
    data = synthetic(40, n_features=6, n_classes=3, seed=0, device="cpu")
    return build_model("mlp", data, seed=0, hidden=(4,), device="cpu"), data


def test_entropy_sgd_with_L0_is_nesterov_sgd():
    (m1, data), (m2, _) = _tiny(), _tiny()
    opt1 = EntropySGD(m1.module.parameters(), lr=0.1, momentum=0.9, L=0)
    opt2 = torch.optim.SGD(m2.module.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    gen = torch.Generator().manual_seed(0)
    for _ in range(6):
        idx = torch.randperm(data.n, generator=gen)[:8]
        for m, opt in ((m1, opt1), (m2, opt2)):
            def closure(m=m, opt=opt):
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(m.module(data.X[idx]), data.y[idx])
                loss.backward()
                return loss
            opt.step(closure)
    assert torch.allclose(m1.theta(), m2.theta(), rtol=0, atol=1e-14)


def test_entropy_sgd_outer_gradient_is_local_entropy_gradient_on_a_quadratic():
    """f = a|x|^2/2, no noise: x' -> gamma x / (a + gamma), so the outer gradient x - mu -> a x / (a + gamma),
    i.e. grad of the viscous HJ solution u(x, t = 1/gamma) divided by gamma (THEORY.md sections 1, 4)."""
    a, gam = 2.0, 0.5
    x = torch.tensor([1.0, -3.0, 0.5], dtype=torch.float64, requires_grad=True)
    x0 = x.detach().clone()
    opt = EntropySGD([x], lr=0.3, momentum=0.0, L=400, inner_lr=0.1, gamma=gam, scoping=0.0, noise=0.0)

    quadratic_step(opt, x, a)
    expected = x0 - 0.3 * a * x0 / (a + gam)
    assert torch.allclose(x.detach(), expected, rtol=0, atol=1e-12)


def test_entropy_sgd_langevin_noise_is_seeded_and_scaled():
    """With noise eps the inner chain is Langevin at beta = eps^-2 on (a + gamma)|y|^2 / 2: its outer
    gradient x - mu scatters around a x / (a + gamma); same seed, same result."""
    def run(seed):
        x = torch.zeros(2000, dtype=torch.float64, requires_grad=True)
        opt = EntropySGD([x], lr=1.0, momentum=0.0, L=60, inner_lr=0.05, gamma=1.0, scoping=0.0, noise=0.1,
                         alpha=0.0, seed=seed)

        def closure():
            opt.zero_grad()
            (0.5 * (x * x).sum()).backward()
            return torch.zeros(())
        opt.step(closure)
        return -x.detach()  # = -(x - mu) with x = 0: the last inner iterate (alpha = 0)
    y = run(1)
    assert torch.equal(y, run(1)) and not torch.equal(y, run(2))
    # Euler-discretised OU: stationary var = eps^2 / (k (1 - eta k / 2)), k = a + gamma = 2 (60 steps: converged)
    var = 0.01 / (2.0 * (1 - 0.05))
    # sample variance of 2000 Gaussians: relative SE sqrt(2/2000) = 3.2%; allow 5 SE
    assert abs(float(y.var()) / var - 1) < 5 * np.sqrt(2 / 2000)
    assert abs(float(y.mean())) < 5 * np.sqrt(var / 2000)


def test_nudged_sgd_scales_the_step_along_the_top_eigenvector():
    A = torch.diag(torch.tensor([5.0, 2.0, 1.0, 0.5], dtype=torch.float64))
    x = torch.tensor([1.0, 1.0, -1.0, 2.0], dtype=torch.float64, requires_grad=True)
    x0 = x.detach().clone()
    opt = NudgedSGD([x], lr=0.1, gamma=0.1, k=1, n_iter=4)
    opt.step(lambda: 0.5 * x @ A @ x)
    g = A @ x0
    g[0] *= 0.1  # top eigenvector e1: step scaled by gamma
    assert torch.allclose(x.detach(), x0 - 0.1 * g, rtol=0, atol=1e-12)


def test_nudged_sgd_with_gamma_one_is_sgd_and_bad_input():
    (m1, data), (m2, _) = _tiny(), _tiny()
    opt1 = NudgedSGD(m1.module.parameters(), lr=0.2, gamma=1.0)
    opt2 = torch.optim.SGD(m2.module.parameters(), lr=0.2)
    for _ in range(4):
        opt1.step(lambda: torch.nn.functional.cross_entropy(m1.module(data.X), data.y))
        opt2.zero_grad()
        torch.nn.functional.cross_entropy(m2.module(data.X), data.y).backward()
        opt2.step()
    assert torch.allclose(m1.theta(), m2.theta(), rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match="gamma"):
        NudgedSGD(m1.module.parameters(), gamma=0.0)
    with pytest.raises(ValueError, match="momentum"):
        EntropySGD(m1.module.parameters(), momentum=1.0)
    with pytest.raises(ValueError, match="closure"):
        EntropySGD(m1.module.parameters()).step(None)
