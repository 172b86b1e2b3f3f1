"""EntropySGD parity with the reference code: L = 0 is torch's Nesterov SGD bit for bit, one step by hand with
inner momentum, L2 and scoping, the per-step statistics, state_dict round trip, bad input."""
import copy

import numpy as np
import pytest
import torch

from pde_sgd.optim import EntropySGD

from optim_helpers import quadratic_step


def _model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3)).double()


def _data():
    g = torch.Generator().manual_seed(1)
    return torch.randn(64, 5, generator=g, dtype=torch.float64), torch.randint(0, 3, (64,), generator=g)


def _closure(model, opt, X, y, gen):
    def c():
        idx = torch.randperm(len(y), generator=gen)[:8]
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(X[idx]), y[idx])
        loss.backward()
        return loss
    return c


def _groups(m, **extra):
    return [{"params": m[0].parameters(), **extra}, {"params": m[2].parameters(), "lr": 0.05}]


def test_L0_is_torch_nesterov_sgd_bit_for_bit_with_groups_and_weight_decay():
    X, y = _data()
    m1, m2 = _model(), _model()
    opt1 = EntropySGD(_groups(m1), lr=0.1, momentum=0.9, L=0, weight_decay=1e-3)
    opt2 = torch.optim.SGD(_groups(m2), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    for _ in range(7):
        opt1.step(_closure(m1, opt1, X, y, g1))
        opt2.step(_closure(m2, opt2, X, y, g2))
    for a, b in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(a, b)
    assert opt1.stats["angle"] == 0.0 and opt1.stats["grad_norm"] == opt1.stats["entropy_grad_norm"] > 0


@pytest.mark.parametrize("inner", [None, 0.5])
def test_one_step_by_hand_with_inner_momentum_l2_and_scoping(inner):
    """f = sum(a x^2)/2 (a per coordinate), L = 2, at t = 1: every operation of the reference code in numpy;
    the inner momentum is the outer one (None) or its own (0.5)."""
    a = np.array([2.0, 0.5, 1.0])
    x0 = np.array([1.0, -2.0, 0.5])
    lr, mom, eta, gam, sc, wd, alpha = 0.3, 0.9, 0.1, 0.5, 0.1, 0.01, 0.75
    imom = mom if inner is None else inner
    x = torch.tensor(x0, requires_grad=True)
    opt = EntropySGD([x], lr=lr, momentum=mom, L=2, inner_lr=eta, gamma=gam, scoping=sc, noise=0.0,
                     alpha=alpha, weight_decay=wd, inner_momentum=inner)

    def closure():
        opt.zero_grad()
        loss = 0.5 * (torch.as_tensor(a) * x * x).sum()
        loss.backward()
        return loss
    opt.step(closure)
    opt.step(closure)
    # by hand: two outer steps, the second with gamma_1 = gam (1 + sc)
    xc, outer_buf = x0.copy(), None
    for t in range(2):
        g_t = gam * (1 + sc) ** t
        w, mw, ibuf = xc.copy(), xc.copy(), None
        for _ in range(2):
            dw = a * w + wd * w
            ibuf = dw.copy() if ibuf is None else imom * ibuf + dw
            dw = dw + imom * ibuf + g_t * (w - xc)
            w = w - eta * dw
            mw = alpha * mw + (1 - alpha) * w
        g = (xc - mw) + wd * xc
        outer_buf = g.copy() if outer_buf is None else mom * outer_buf + g
        xc = xc - lr * (g + mom * outer_buf)
    np.testing.assert_allclose(x.detach().numpy(), xc, rtol=1e-13)
    assert opt.stats["gamma"] == pytest.approx(gam * (1 + sc))


def test_langevin_noise_amplitude_is_sqrt_2_eta_times_noise():
    """f = 0, L = 1, alpha = 0, lr = 1, no momentum: x - mu = -(x' - x) = -sqrt(2 eta') eps xi, so one step moves
    x by sqrt(2 eta') eps xi: sample variance 2 eta' eps^2 (4000 coordinates: relative SE sqrt(2/4000), 5 SE)."""
    eta, eps, n = 0.05, 0.3, 4000
    x = torch.zeros(n, dtype=torch.float64, requires_grad=True)
    opt = EntropySGD([x], lr=1.0, momentum=0.0, L=1, inner_lr=eta, gamma=1.0, noise=eps, alpha=0.0, seed=3)
    quadratic_step(opt, x, 0.0)    # f = 0
    var = float(x.detach().var())
    assert abs(var / (2 * eta * eps ** 2) - 1) < 5 * np.sqrt(2 / n)


def test_statistics_angle_and_norms():
    """L = 1, gamma irrelevant at the first inner step: x - mu = (1 - alpha) eta' grad f(x) exactly parallel
    (angle 0); with an anisotropic quadratic and L = 30 the inner chain turns the direction (angle > 0)."""
    a = torch.tensor([4.0, 0.25], dtype=torch.float64)
    x = torch.tensor([1.0, 1.0], dtype=torch.float64, requires_grad=True)

    def closure():
        opt.zero_grad()
        loss = 0.5 * (a * x * x).sum()
        loss.backward()
        return loss
    opt = EntropySGD([x], lr=0.1, momentum=0.0, L=1, inner_lr=0.1, gamma=1.0, noise=0.0)
    opt.step(closure)
    gn = float(torch.linalg.norm(a))
    assert opt.stats["grad_norm"] == pytest.approx(gn, rel=1e-14)
    assert opt.stats["entropy_grad_norm"] == pytest.approx(0.25 * 0.1 * gn, rel=1e-12)
    assert opt.stats["angle"] < 1e-5
    x.data[:] = 1.0
    opt = EntropySGD([x], lr=0.1, momentum=0.0, L=30, inner_lr=0.2, gamma=0.1, scoping=0.0, noise=0.0)
    opt.step(closure)
    # exact direction: the inner chain is linear, mu a known combination; compare the angle
    gam, eta = 0.1, 0.2
    xs, w, mu = np.ones(2), np.ones(2), np.ones(2)
    for _ in range(30):
        w = w - eta * (a.numpy() * w + gam * (w - xs))
        mu = 0.75 * mu + 0.25 * w
    e, g = xs - mu, a.numpy() * xs
    angle = np.degrees(np.arccos(e @ g / np.linalg.norm(e) / np.linalg.norm(g)))
    assert angle > 5 and opt.stats["angle"] == pytest.approx(angle, rel=1e-10)


def test_state_dict_round_trip_with_noise_is_an_uninterrupted_run():
    X, y = _data()

    def run(steps, model, opt, gen):
        for _ in range(steps):
            opt.step(_closure(model, opt, X, y, gen))
    kw = dict(lr=0.5, momentum=0.9, L=3, inner_lr=0.1, gamma=0.03, noise=1e-2, seed=4, weight_decay=1e-4)
    m_full = _model()
    o_full = EntropySGD(m_full.parameters(), **kw)
    gen = torch.Generator().manual_seed(2)
    run(6, m_full, o_full, gen)

    m_a = _model()
    o_a = EntropySGD(m_a.parameters(), **kw)
    gen_a = torch.Generator().manual_seed(2)
    run(4, m_a, o_a, gen_a)
    saved_model, saved_opt, saved_gen = copy.deepcopy(m_a.state_dict()), copy.deepcopy(o_a.state_dict()), gen_a.get_state()
    m_b = _model(seed=9)
    m_b.load_state_dict(saved_model)
    o_b = EntropySGD(m_b.parameters(), **{**kw, "seed": 123})
    o_b.load_state_dict(saved_opt)
    gen_b = torch.Generator().manual_seed(0)
    gen_b.set_state(saved_gen)
    run(2, m_b, o_b, gen_b)
    for p, q in zip(m_full.parameters(), m_b.parameters()):
        assert torch.equal(p, q)
    assert o_b.t == 6


@pytest.mark.parametrize("kw, name", [({"L": -1}, "L"), ({"gamma": 0.0}, "gamma"), ({"lr": -1.0}, "lr"),
                                      ({"alpha": 1.0}, "alpha"), ({"noise": -1e-4}, "noise"),
                                      ({"scoping": float("nan")}, "scoping"), ({"weight_decay": -1.0}, "weight_decay"),
                                      ({"inner_momentum": 1.2}, "inner_momentum"), ({"seed": -1}, "seed")])
def test_bad_hyper_parameters(kw, name):
    with pytest.raises(ValueError, match=name):
        EntropySGD(_model().parameters(), **kw)


def test_L_must_agree_across_groups_and_state_dict_must_be_ours():
    m = _model()
    with pytest.raises(ValueError, match="L must be the same"):
        EntropySGD([{"params": m[0].parameters(), "L": 2}, {"params": m[2].parameters()}], L=3)
    sgd = torch.optim.SGD(m.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="state_dict"):
        EntropySGD(m.parameters()).load_state_dict(sgd.state_dict())


def test_group_options_are_checked():
    m = _model()
    with pytest.raises(ValueError, match="gamma"):
        EntropySGD([{"params": m[0].parameters(), "gamma": 0.0}, {"params": m[2].parameters()}])
    with pytest.raises(ValueError, match="unknown option"):
        EntropySGD([{"params": m.parameters(), "scope": 0.1}])
