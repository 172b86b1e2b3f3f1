"""Jastrzebski et al. (pde_sgd.networks.sharpness, simulations/jastrzebski.py): peak extraction, Nudged SGD
wiring, and the "larger eta: earlier peak" claim at small scale."""
import numpy as np
import pytest
import torch

from pde_sgd.networks import build_model, dense_hessian, digits, torch_threads, train
from pde_sgd.networks.sharpness import endpoint_sharpness, peak, train_nudged


def test_peak_of_a_known_curve_ignores_one_spike():
    t = np.geomspace(0.01, 10, 40)
    v = 1 + 2 * np.exp(-np.log(t / 0.5) ** 2)          # peak 3 at t = 0.5, ends near 1
    v_spiky = v.copy()
    v_spiky[5] = 10.0                                  # one noisy iterate
    pk = peak(t, v_spiky)
    i = int(np.argmin(np.abs(t - 0.5)))
    assert pk["time"] == pytest.approx(t[i]) and pk["height"] == pytest.approx(v[i], rel=0.02)
    assert pk["passed"] and abs(pk["time"] - 0.5) <= 2 * pk["time_resolution"]
    assert not peak(t, np.linspace(0, 1, 40))["passed"]          # still rising: no peak yet
    with pytest.raises(ValueError, match="window"):
        peak(t, v, window=4)
    with pytest.raises(ValueError, match="values"):
        peak(t, v[:-1])


@pytest.fixture(scope="module")
def tiny():
    with torch_threads(1):
        data = digits(64, seed=2, device="cpu")
        model = build_model("mlp", data, seed=2, hidden=(4,), device="cpu")
    return model, data


def test_nudged_with_gamma_one_is_plain_sgd(tiny):
    model, data = tiny
    with torch_threads(1):
        a = train_nudged(model, data, gamma=1.0, eta=0.3, batch_size=8, n_steps=25, seed=5)
        b = train(model, data, eta=0.3, batch_size=8, n_steps=25, seed=5)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-13)
    assert not torch.equal(a, model.theta())       # it moved, and the model itself was not modified


def test_nudged_first_step_scales_the_top_direction(tiny):
    """One step: theta1 = theta0 - eta (g + (gamma - 1) v v^T g), v the top eigenvector of the dense Hessian of
    the mini-batch loss (the first batch of the seeded generator)."""
    model, data = tiny
    eta, gamma, B, seed = 0.2, 0.1, 16, 3
    with torch_threads(1):
        theta0 = model.theta()
        idx = torch.randperm(data.n, generator=torch.Generator().manual_seed(seed))[:B]
        Xb, yb = data.X[idx], data.y[idx]
        H = dense_hessian(model, theta0, Xb, yb)
        v = torch.linalg.eigh(H)[1][:, -1]
        g = torch.func.grad(model.loss)(theta0, Xb, yb)
        expected = theta0 - eta * (g + (gamma - 1) * v * (v @ g))
        got = train_nudged(model, data, gamma=gamma, eta=eta, batch_size=B, n_steps=1, k=1, n_iter=model.n_params,
                           seed=seed)
        wrong = theta0 - eta * g
    assert torch.linalg.norm(got - expected) < 1e-9 * torch.linalg.norm(eta * g)
    assert torch.linalg.norm(wrong - expected) > 1e-3 * torch.linalg.norm(eta * g)   # the nudge is visible


def test_endpoint_sharpness_matches_dense_hessian(tiny):
    model, data = tiny
    with torch_threads(1):
        sh = endpoint_sharpness(model, model.theta(), data, k=3, n_iter=model.n_params)
        lam = torch.linalg.eigvalsh(dense_hessian(model, model.theta(), data.X, data.y)).flip(0)[:3].numpy()
    np.testing.assert_allclose(sh["eigenvalues"], lam, rtol=1e-9)
    assert sh["frobenius_top_k"] == pytest.approx(np.sqrt(np.sum(lam ** 2)))


def _runs(eta, B, heights, times, passed=True):
    from pde_sgd import Result
    return [Result("jastrzebski.f9", {"x": np.zeros(1)},
                   {"eta": eta, "batch_size": B, "peak": {"height": h, "time": t, "time_resolution": 0.01,
                                                          "passed": passed}})
            for h, t in zip(heights, times)]


def test_f9_verdicts_need_the_stability_edge_and_passed_peaks():
    """F9's claim per pair, judged only where the larger eta's mean peak reaches 0.8 * 2/eta and every peak was
    passed (synthetic peaks; THEORY.md section 8)."""
    from simulations.jastrzebski import _compare
    from pde_sgd.verdicts import DOES_NOT_HOLD, HOLDS, REGIME_NOT_REACHED, UNRESOLVED
    low = _runs(0.1, 32, [4.0, 4.2, 4.1], [8.0, 9.0, 8.5])
    # eta = 1 peaks at 1.9 >= 0.8 * 2 = 1.6, lower and earlier than eta = 0.1: holds
    at_edge = _runs(1.0, 32, [1.9, 1.85, 1.95], [2.0, 2.2, 2.1])
    assert _compare(low + at_edge, (1.0, 32), (0.1, 32), "height")["verdict"].outcome == HOLDS
    assert _compare(low + at_edge, (1.0, 32), (0.1, 32), "time")["verdict"].outcome == HOLDS
    # the same effect with eta = 0.3 peaking at 1.9 < 0.8 * 2/0.3: eta cannot cap it, regime not reached
    below = _runs(0.3, 32, [1.9, 1.85, 1.95], [2.0, 2.2, 2.1])
    v = _compare(low + below, (0.3, 32), (0.1, 32), "height")["verdict"]
    assert v.outcome == REGIME_NOT_REACHED and v.failed[0].name == "lambda_max / (2/eta)"
    # a peak not passed blocks the verdict too
    unpassed = _runs(1.0, 32, [1.9, 1.85, 1.95], [2.0, 2.2, 2.1], passed=False)
    v = _compare(low + unpassed, (1.0, 32), (0.1, 32), "height")["verdict"]
    assert v.outcome == REGIME_NOT_REACHED and "not passed" in v.failed[0].name
    # higher peaks for the larger eta at the edge: does not hold; overlapping seeds: unresolved
    high = _runs(0.1, 32, [1.0, 1.1, 1.05], [8.0, 9.0, 8.5])
    assert _compare(high + at_edge, (1.0, 32), (0.1, 32), "height")["verdict"].outcome == DOES_NOT_HOLD
    close = _runs(0.1, 32, [1.8, 2.0, 1.9], [8.0, 9.0, 8.5])
    c = _compare(close + at_edge, (1.0, 32), (0.1, 32), "height")
    assert c["verdict"].outcome == UNRESOLVED
    assert c["diff"] == pytest.approx(np.mean([1.9, 1.85, 1.95]) - 1.9)
    assert c["se"] == pytest.approx(np.sqrt(np.var([1.9, 1.85, 1.95], ddof=1) / 3 + np.var([1.8, 2.0, 1.9], ddof=1) / 3))
