"""ElasticSGD and Parle: their reductions (Parle L=1, g=0 -> Elastic-SGD -> SGD), the inner loop against a
closed form on a quadratic, the vmapped path against the closure path, state_dict round trip, bad input."""
import copy

import numpy as np
import pytest
import torch

from pde_sgd.optim import ElasticSGD, Parle, stacked_grad_fn

from optim_helpers import quadratic_step

N_DATA, BATCH = 96, 8


def _model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3)).double()


_G = torch.Generator().manual_seed(1)
X, Y = torch.randn(N_DATA, 5, generator=_G, dtype=torch.float64), torch.randint(0, 3, (N_DATA,), generator=_G)


class Batches:
    """Per-replica seeded batch streams: replica r's k-th batch is the same whoever asks."""

    def __init__(self, n):
        self.gens = [torch.Generator().manual_seed(100 + r) for r in range(n)]

    def index(self, r):
        return torch.randperm(N_DATA, generator=self.gens[r])[:BATCH]

    def stacked(self, ids):
        idx = torch.stack([self.index(r) for r in ids])
        return X[idx], Y[idx]


def _closure(model, opt, batches):
    def c():
        idx = batches.index(opt.replica)
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(X[idx]), Y[idx])
        loss.backward()
        return loss
    return c


def _run(make, steps=5, n=3, batched=False, model=None):
    model = model or _model()
    opt = make(model)
    b = Batches(n)
    fn = stacked_grad_fn(model, torch.nn.functional.cross_entropy, b.stacked, opt.replica_ids) if batched else None
    for _ in range(steps):
        if batched:
            opt.step(batched=fn)
        else:
            opt.step(_closure(model, opt, b))
    return model, opt


def _equal(m1, m2):
    return all(torch.equal(a, b) for a, b in zip(m1.parameters(), m2.parameters()))


def test_parle_with_L1_and_no_entropy_coupling_is_elastic_sgd_bit_for_bit():
    kw = dict(n_replicas=3, lr=0.1, momentum=0.9, rho=0.5, scoping=0.1, rho_max=2.0, weight_decay=1e-3)
    m_e, o_e = _run(lambda m: ElasticSGD(m.parameters(), **kw))
    m_p, o_p = _run(lambda m: Parle(m.parameters(), L=1, gamma=0.0, inner_lr=0.5, inner_momentum=0.0, **kw))
    assert _equal(m_e, m_p)
    for p, q in zip(m_e.parameters(), m_p.parameters()):
        assert torch.equal(o_e.state[p]["replicas"], o_p.state[q]["replicas"])
    # the replicas really are coupled and distinct, and the reference is their mean
    reps = o_e.state[next(m_e.parameters())]["replicas"]
    assert not torch.equal(reps[0], reps[1])
    assert torch.allclose(reps.mean(0), next(m_e.parameters()), rtol=0, atol=1e-15)
    assert o_e.stats["rho"] == pytest.approx(min(0.5 * 1.1 ** 4, 2.0))


def test_elastic_sgd_with_one_replica_and_no_coupling_is_torch_sgd_bit_for_bit():
    m_e, _ = _run(lambda m: ElasticSGD(m.parameters(), n_replicas=1, lr=0.1, momentum=0.9, rho=0.0,
                                       weight_decay=1e-3), n=1)
    m_s = _model()
    opt = torch.optim.SGD(m_s.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)
    b = Batches(1)
    for _ in range(5):
        def c():
            idx = b.index(0)
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(m_s(X[idx]), Y[idx])
            loss.backward()
            return loss
        opt.step(c)
    assert _equal(m_e, m_s)


def test_elastic_coupling_pulls_each_replica_towards_the_mean():
    """Two replicas, f_a(x) = |x - c_a|^2 / 2, no momentum: step 1 leaves x^a = x0 - lr (x0 - c_a) (no coupling
    yet), step 2 is x^a <- x^a - lr (x^a - c_a + rho (x^a - xbar)) with xbar the mean; a coupling of the wrong
    sign or size fails (the other tests use rho = 0 or compare optimizers that share the coupling)."""
    lr, rho = 0.2, 0.7
    c = torch.tensor([[1.0, -2.0], [3.0, 0.5]], dtype=torch.float64)
    x = torch.tensor([0.5, 0.25], dtype=torch.float64, requires_grad=True)
    opt = ElasticSGD([x], n_replicas=2, lr=lr, momentum=0.0, rho=rho, scoping=0.0)

    def closure():
        opt.zero_grad()
        loss = 0.5 * ((x - c[opt.replica]) ** 2).sum()
        loss.backward()
        return loss
    x0 = x.detach().clone()
    opt.step(closure)
    opt.step(closure)
    x1 = x0 - lr * (x0 - c)
    x2 = x1 - lr * (x1 - c + rho * (x1 - x1.mean(0)))
    assert torch.allclose(opt.replicas()[0], x2, rtol=0, atol=1e-14)
    assert torch.allclose(x.detach(), x2.mean(0), rtol=0, atol=1e-14)

@pytest.mark.parametrize("cls, kw", [(ElasticSGD, {}), (Parle, {"L": 3, "gamma": 0.1, "noise": 1e-3})])
def test_vmapped_replicas_equal_the_closure_path(cls, kw):
    make = lambda m: cls(m.parameters(), n_replicas=3, lr=0.1, rho=0.3, seed=7, **kw)  # noqa: E731
    m_c, _ = _run(make)
    m_v, _ = _run(make, batched=True)
    for a, b in zip(m_c.parameters(), m_v.parameters()):
        assert torch.allclose(a, b, rtol=0, atol=1e-13)


def test_parle_inner_loop_on_a_quadratic_matches_the_closed_form():
    """f = a|x|^2/2, one replica, rho = 0, no momentum: delta_l = -(a x/(a+g)) (1 - q^l), q = 1 - eta'(a+g);
    the step is x <- x - lr (-z/((1-alpha^L) eta')) with z the alpha-average of the delta_l."""
    a, g, eta, L, alpha, lr = 2.0, 0.5, 0.1, 7, 0.75, 0.2
    x = torch.tensor([1.0, -3.0, 0.5], dtype=torch.float64, requires_grad=True)
    x0 = x.detach().numpy().copy()
    opt = Parle([x], n_replicas=1, lr=lr, L=L, momentum=0.0, inner_lr=eta, gamma=g, scoping=0.0, rho=0.0,
                alpha=alpha)

    quadratic_step(opt, x, a)
    q = 1 - eta * (a + g)
    deltas = [-(a * x0 / (a + g)) * (1 - q ** l) for l in range(1, L + 1)]
    z = sum((1 - alpha) * alpha ** (L - l) * d for l, d in enumerate(deltas, start=1))
    expected = x0 - lr * (-z / ((1 - alpha ** L) * eta))
    np.testing.assert_allclose(x.detach().numpy(), expected, rtol=1e-13)


@pytest.mark.parametrize("cls, kw", [(ElasticSGD, {}), (Parle, {"L": 2, "gamma": 0.1, "noise": 1e-2})])
def test_state_dict_round_trip_is_an_uninterrupted_run(cls, kw):
    make = lambda m: cls(m.parameters(), n_replicas=2, lr=0.1, rho=0.2, seed=3, **kw)  # noqa: E731
    m_full, _ = _run(make, steps=6, n=2)
    model = _model()
    opt = make(model)
    b = Batches(2)
    for _ in range(4):
        opt.step(_closure(model, opt, b))
    saved = copy.deepcopy((model.state_dict(), opt.state_dict(), [g.get_state() for g in b.gens]))
    m2 = _model(seed=5)
    m2.load_state_dict(saved[0])
    o2 = cls(m2.parameters(), n_replicas=2, lr=0.1, rho=0.2, seed=99, **kw)
    o2.load_state_dict(saved[1])
    b2 = Batches(2)
    for gen, s in zip(b2.gens, saved[2]):
        gen.set_state(s)
    for _ in range(2):
        o2.step(_closure(m2, o2, b2))
    assert _equal(m_full, m2)


@pytest.mark.parametrize("cls, kw, name", [
    (ElasticSGD, {"n_replicas": 0}, "n_replicas"), (ElasticSGD, {"lr": -0.1}, "lr"),
    (ElasticSGD, {"rho": -1.0}, "rho"), (ElasticSGD, {"rho": 1.0, "rho_max": 0.5}, "rho_max"),
    (ElasticSGD, {"momentum": 1.0}, "momentum"), (ElasticSGD, {"distributed": True}, "torch.distributed"),
    (Parle, {"L": 0}, "L"), (Parle, {"gamma": -0.1}, "gamma"), (Parle, {"alpha": 1.0}, "alpha"),
    (Parle, {"inner_lr": 0.0}, "inner_lr"), (Parle, {"gamma": 2.0, "gamma_max": 1.0}, "gamma_max"),
    (Parle, {"noise": -1.0}, "noise"), (Parle, {"scoping": -1e-3}, "scoping")])
def test_bad_hyper_parameters(cls, kw, name):
    with pytest.raises(ValueError, match=name):
        cls(_model().parameters(), **kw)


def test_step_needs_a_gradient_source():
    with pytest.raises(ValueError, match="closure"):
        ElasticSGD(_model().parameters()).step()


def test_param_group_options_are_checked_like_the_constructors():
    m = _model()
    with pytest.raises(ValueError, match="unknown option.*lrr"):
        Parle([{"params": m[0].parameters(), "lrr": 0.1}])
    with pytest.raises(ValueError, match="rho"):
        ElasticSGD([{"params": m[0].parameters(), "rho": -1.0}, {"params": m[2].parameters()}])
    opt = ElasticSGD([{"params": m[0].parameters(), "lr": 0.05}, {"params": m[2].parameters()}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.1]


def _nesterov(buf, d, m):
    """torch's Nesterov step by hand: (direction, new buffer)."""
    if not m:
        return d, buf
    buf = d.copy() if buf is None else m * buf + d
    return d + m * buf, buf


C = np.array([[1.0, -2.0, 0.5], [3.0, 0.5, -1.0]])


def _targets_closure(opt, x):
    c = torch.as_tensor(C)

    def closure():
        opt.zero_grad()
        loss = 0.5 * ((x - c[opt.replica]) ** 2).sum()
        loss.backward()
        return loss
    return closure


def test_elastic_sgd_by_hand_over_steps_with_scoping_cap_momentum_and_weight_decay():
    """f_a = |x - c_a|^2 / 2, r_t = min(rho 2^t, rho_max) = 0.5, 1.0, 1.2, 1.2 (the cap is reached), Nesterov
    momentum per replica and L2 0.1: four steps of the module docstring's update in numpy."""
    lr, m, rho, sc, rmax, wd = 0.2, 0.5, 0.5, 1.0, 1.2, 0.1
    x = torch.tensor([0.5, 0.25, -1.0], dtype=torch.float64, requires_grad=True)
    opt = ElasticSGD([x], n_replicas=2, lr=lr, momentum=m, rho=rho, scoping=sc, rho_max=rmax, weight_decay=wd)
    xs, xbar, bufs = np.tile(x.detach().numpy(), (2, 1)), x.detach().numpy().copy(), [None, None]
    for t in range(4):
        opt.step(_targets_closure(opt, x))
        r = min(rho * 2 ** t, rmax)
        for a in range(2):
            d = (xs[a] - C[a]) + wd * xs[a] + r * (xs[a] - xbar)
            step, bufs[a] = _nesterov(bufs[a], d, m)
            xs[a] = xs[a] - lr * step
        xbar = xs.mean(0)
        assert opt.stats["rho"] == pytest.approx(r, rel=1e-15)
    np.testing.assert_allclose(opt.replicas()[0].numpy(), xs, rtol=1e-13)
    np.testing.assert_allclose(x.detach().numpy(), xbar, rtol=1e-13)


def test_parle_by_hand_over_steps_with_both_caps_inner_momentum_and_weight_decay():
    """Two replicas, L = 2, three steps: g_t = min(0.5 2^t, 1.5) and r_t = min(0.3 2^t, 0.9) both reach their
    caps at t = 2; inner momentum 0.2 differs from the outer 0.5; L2 0.1 at the inner point y = x^a + delta."""
    lr, m, im, eta, gam, gmax, rho, rmax, wd, alpha, L = 0.1, 0.5, 0.2, 0.1, 0.5, 1.5, 0.3, 0.9, 0.1, 0.75, 2
    x = torch.tensor([0.5, 0.25, -1.0], dtype=torch.float64, requires_grad=True)
    opt = Parle([x], n_replicas=2, lr=lr, L=L, momentum=m, inner_momentum=im, inner_lr=eta, gamma=gam,
                gamma_max=gmax, rho=rho, rho_max=rmax, scoping=1.0, weight_decay=wd, alpha=alpha)
    xs, xbar, bufs = np.tile(x.detach().numpy(), (2, 1)), x.detach().numpy().copy(), [None, None]
    for t in range(3):
        opt.step(_targets_closure(opt, x))
        g, r = min(gam * 2 ** t, gmax), min(rho * 2 ** t, rmax)
        new = xs.copy()
        for a in range(2):
            delta, z, ibuf = np.zeros(3), np.zeros(3), None
            for _ in range(L):
                y = xs[a] + delta
                e, ibuf = _nesterov(ibuf, (y - C[a]) + wd * y, im)
                delta = delta - eta * (e + g * delta)
                z = alpha * z + (1 - alpha) * delta
            d = -z / ((1 - alpha ** L) * eta) + r * (xs[a] - xbar)
            step, bufs[a] = _nesterov(bufs[a], d, m)
            new[a] = xs[a] - lr * step
        xs = new
        xbar = xs.mean(0)
        assert opt.stats["gamma"] == pytest.approx(g, rel=1e-15) and opt.stats["rho"] == pytest.approx(r, rel=1e-15)
    np.testing.assert_allclose(opt.replicas()[0].numpy(), xs, rtol=1e-13)
    np.testing.assert_allclose(x.detach().numpy(), xbar, rtol=1e-13)


def test_parle_noise_amplitude_is_sqrt_2_eta_times_noise():
    """f = 0, one replica, L = 1, alpha = 0, gamma = rho = 0, lr = eta': z = delta = sqrt(2 eta') eps xi and the
    step moves x by -lr (-z / eta') = z: sample variance 2 eta' eps^2 (4000 coordinates, 5 standard errors)."""
    eta, eps, n = 0.05, 0.3, 4000
    x = torch.zeros(n, dtype=torch.float64, requires_grad=True)
    opt = Parle([x], n_replicas=1, lr=eta, L=1, momentum=0.0, inner_lr=eta, gamma=0.0, rho=0.0, noise=eps,
                alpha=0.0, seed=5)
    quadratic_step(opt, x, 0.0)    # f = 0
    var = float(x.detach().var())
    assert abs(var / (2 * eta * eps ** 2) - 1) < 5 * np.sqrt(2 / n)
