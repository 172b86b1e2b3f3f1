"""VSGD against the update computed by hand (numpy, THEORY.md section 7), its Adam limit, and bad input."""
import copy

import numpy as np
import pytest
import torch

from pde_sgd.optim import VSGD

GRADS = np.array([[0.3, -1.2, 2.0], [0.1, -0.8, 2.5], [-0.4, -1.0, 1.5], [0.2, -1.1, 2.2], [0.0, -0.9, 1.8]])


def vsgd_by_hand(theta, grads, *, lr, kg, ps, tau1, tau2, wd, eps=1e-8):
    """Independent numpy transcription of the authors' element-wise update; returns (theta, mu) per step."""
    theta = np.array(theta, dtype=float)
    mu, bg, bhg = (np.zeros_like(theta) for _ in range(3))
    a2 = 2 * ps + 1 + 1e-4
    out = []
    for t, g in enumerate(grads, start=1):
        theta = theta * (1 - lr * wd)
        if t == 1:
            sg, shg = 2 * ps / (a2 - 1), 2 * kg * ps / (a2 - 1)
        else:
            sg, shg = bg / a2, bhg / a2
        mu_new = (g * sg + mu * shg) / (sg + shg)
        m2 = sg * shg / (sg + shg) + mu_new ** 2
        bg_hat = 2 * ps + m2 - 2 * mu_new * mu + mu ** 2
        bhg_hat = 2 * kg * ps + m2 - 2 * g * mu_new + g ** 2
        r1, r2 = t ** -tau1, t ** -tau2
        bg, bhg = (1 - r1) * bg + r1 * bg_hat, (1 - r2) * bhg + r2 * bhg_hat
        mu = mu_new
        theta = theta - lr * mu / (np.sqrt(m2) + eps)
        out.append((theta.copy(), mu.copy(), shg / (sg + shg)))
    return out


def _scripted(opt, x, grads):
    out = []
    for g in grads:
        x.grad = torch.as_tensor(g, dtype=torch.float64)
        opt.step()
        out.append(x.detach().clone())
    return out


@pytest.mark.parametrize("kw", [{}, {"ghattg": 5.0, "ps": 1e-3, "tau1": 0.7, "tau2": 0.95, "weight_decay": 0.1,
                                    "lr": 0.05}])
def test_vsgd_matches_the_update_by_hand(kw):
    hyper = {"lr": 0.1, "ghattg": 30.0, "ps": 1e-8, "tau1": 0.81, "tau2": 0.9, "weight_decay": 0.0, **kw}
    theta0 = [0.5, -0.25, 1.0]
    x = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
    opt = VSGD([x], **hyper)
    got = _scripted(opt, x, GRADS)
    ref = vsgd_by_hand(theta0, GRADS, lr=hyper["lr"], kg=hyper["ghattg"], ps=hyper["ps"], tau1=hyper["tau1"],
                       tau2=hyper["tau2"], wd=hyper["weight_decay"])
    for xt, (th, _, _) in zip(got, ref):
        np.testing.assert_allclose(xt.numpy(), th, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(opt.state[x]["mu"].numpy(), ref[-1][1], rtol=1e-12)
    np.testing.assert_allclose(opt.effective_momentum()[0].numpy(), ref[-1][2], rtol=1e-12)
    assert opt.stats["effective_momentum"] == pytest.approx(ref[-1][2].mean(), rel=1e-12)
    # the first step has momentum K_g / (1 + K_g) whatever the gradient: mu_1 = ghat_1 / (1 + K_g)
    assert ref[0][2] == pytest.approx(hyper["ghattg"] / (1 + hyper["ghattg"]))


def test_vsgd_with_the_ratio_held_fixed_is_adams_first_moment():
    rng = np.random.default_rng(3)
    grads = rng.standard_normal((8, 5))
    x1 = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    x2 = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    vsgd = VSGD([x1], momentum=0.9)
    adam = torch.optim.Adam([x2], betas=(0.9, 0.999))
    for g in grads:
        for x, opt in ((x1, vsgd), (x2, adam)):
            x.grad = torch.as_tensor(g)
            opt.step()
        assert torch.equal(vsgd.state[x1]["mu"], adam.state[x2]["exp_avg"])
    # the effective momentum reported when pinned is the pinned value, element-wise and on average
    assert torch.equal(vsgd.effective_momentum()[0], torch.full((5,), 0.9, dtype=torch.float64))
    assert vsgd.stats["effective_momentum"] == pytest.approx(0.9, rel=1e-15)
    # and free (not pinned) it is not: the effective momentum is set by the variances
    x3 = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    free = VSGD([x3])
    for g in grads:
        x3.grad = torch.as_tensor(g)
        free.step()
    assert not torch.allclose(free.state[x3]["mu"], adam.state[x2]["exp_avg"], rtol=1e-3)


def test_vsgd_param_groups_closure_state_dict_round_trip():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2)).double()
    X, y = torch.randn(16, 4, dtype=torch.float64), torch.randint(0, 2, (16,))
    clone = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2)).double()

    def make(m):
        return VSGD([{"params": m[0].parameters()}, {"params": m[2].parameters(), "lr": 0.02}], lr=0.05)

    def closure(m, opt):
        def c():
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(m(X), y)
            loss.backward()
            return loss
        return c
    clone.load_state_dict(model.state_dict())
    opt = make(model)
    for _ in range(3):
        opt.step(closure(model, opt))
    opt2 = make(clone)
    clone.load_state_dict(model.state_dict())
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))
    for _ in range(3):
        opt.step(closure(model, opt))
        opt2.step(closure(clone, opt2))
    for a, b in zip(model.parameters(), clone.parameters()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("kw, name", [({"lr": -0.1}, "lr"), ({"ghattg": 0.0}, "ghattg"), ({"ps": -1.0}, "ps"),
                                      ({"tau1": 1.5}, "tau1"), ({"tau2": 0.0}, "tau2"),
                                      ({"weight_decay": -1e-3}, "weight_decay"), ({"momentum": 1.0}, "momentum")])
def test_vsgd_bad_hyper_parameters(kw, name):
    with pytest.raises(ValueError, match=name):
        VSGD([torch.zeros(2, requires_grad=True)], **kw)


def test_vsgd_unknown_or_bad_group_options():
    x = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="unknown option"):
        VSGD([{"params": [x], "beta1": 0.9}])
    with pytest.raises(ValueError, match="tau1"):
        VSGD([{"params": [x], "tau1": 2.0}])
