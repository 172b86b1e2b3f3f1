"""Jastrzebski et al. (pde_sgd.networks.sharpness, simulations/jastrzebski.py): peak extraction, Nudged SGD
wiring, and the "larger eta: earlier peak" claim at small scale."""
import numpy as np
import pytest
import torch

from pde_sgd.networks import build_model, dense_hessian, digits, torch_threads, train
from pde_sgd.networks.sharpness import endpoint_sharpness, peak, plateaued, train_nudged


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
        run = train_nudged(model, data, gamma=1.0, eta=0.3, batch_size=8, max_epochs=3, patience=10, seed=5)
        b = train(model, data, eta=0.3, batch_size=8, n_steps=24, seed=5)        # 3 epochs of 64 // 8 steps
    torch.testing.assert_close(run["theta"], b, rtol=0, atol=1e-13)
    assert not torch.equal(run["theta"], model.theta())    # it moved, and the model itself was not modified
    assert run["epochs"] == 3 and run["loss"].size == 4 and not run["reached"] and run["decay_epochs"].size == 0
    assert run["loss"][-1] == pytest.approx(float(model.loss(b, data.X, data.y)), rel=1e-12)


def _one_step(model, data, gamma, eta, hessian_data):
    """theta0 - eta (g + (gamma - 1) v v^T g): g the full-data gradient, v the top eigenvector of the dense
    Hessian of the loss on ``hessian_data``."""
    theta0 = model.theta()
    v = torch.linalg.eigh(dense_hessian(model, theta0, hessian_data.X, hessian_data.y))[1][:, -1]
    g = torch.func.grad(model.loss)(theta0, data.X, data.y)
    return theta0 - eta * (g + (gamma - 1) * v * (v @ g)), eta * g


@pytest.mark.parametrize("use_subset", [False, True])
def test_nudged_step_scales_the_top_direction_of_the_chosen_hessian(tiny, use_subset):
    """One epoch of one full batch (B = N): the step along the top eigenvector is scaled by gamma, the
    eigenvector coming from the fixed subset when one is given (not from the batch), else from the batch."""
    model, data = tiny
    eta, gamma = 0.2, 0.1
    with torch_threads(1):
        sub = data.subset(16, 1)
        expected, step = _one_step(model, data, gamma, eta, sub if use_subset else data)
        other, _ = _one_step(model, data, gamma, eta, data if use_subset else sub)
        run = train_nudged(model, data, gamma=gamma, eta=eta, batch_size=data.n, max_epochs=1, k=1,
                           hessian_data=sub if use_subset else None, n_iter=model.n_params, seed=3)
    got = run["theta"]
    assert torch.linalg.norm(got - expected) < 1e-9 * torch.linalg.norm(step)
    assert torch.linalg.norm(other - expected) > 1e-3 * torch.linalg.norm(step)   # the two Hessians differ
    assert torch.linalg.norm(model.theta() - step - expected) > 1e-3 * torch.linalg.norm(step)  # nudge visible


def test_plateau_rule_on_a_synthetic_loss_sequence():
    """min(last p) > (1 - drop) min(before): with p = 3, drop = 1%."""
    seq = [1.0, 0.8, 0.7, 0.695, 0.694, 0.6935]
    # 4 records: 0.695 vs 0.99 * 1; 5: 0.694 vs 0.99 * 0.8; 6: 0.6935 > 0.99 * 0.7 = 0.693
    assert [plateaued(seq[:n], patience=3, min_drop=0.01) for n in range(1, 7)] == [False] * 5 + [True]
    assert not plateaued(0.98 ** np.arange(10), patience=3, min_drop=0.01)      # 2% per epoch: still falling
    assert plateaued(0.998 ** np.arange(10), patience=3, min_drop=0.01)         # 0.6% in 3 epochs
    assert plateaued([1.0, 1.1, 1.2, 1.3], patience=3)                           # rising
    for bad, match in (({"patience": 0}, "patience"), ({"min_drop": 1.0}, "min_drop")):
        with pytest.raises(ValueError, match=match):
            plateaued(seq, **bad)


def test_nudged_decays_eta_where_the_rule_fires_and_stops_at_the_target(tiny):
    model, data = tiny
    with torch_threads(1):
        run = train_nudged(model, data, gamma=0.5, eta=0.5, batch_size=16, max_epochs=30, k=2, patience=2,
                           min_drop=0.05, decay=0.1, hessian_data=data.subset(8, 0), n_iter=10, seed=1)
    loss, etas, decays = run["loss"], run["eta"], list(run["decay_epochs"])
    assert len(decays) == 2 and run["epochs"] == 30 and not run["reached"]       # max_decays = 2
    since, fired = 0, []                              # the rule replayed on the recorded losses
    for e in range(1, loss.size):
        tail = loss[since:e + 1]
        if len(fired) < 2 and tail.size > 2 and tail[-2:].min() > 0.95 * tail[:-2].min():
            fired.append(e)
            since = e
    assert decays == fired
    np.testing.assert_allclose(etas, [0.5 * 0.1 ** sum(d < e for d in decays) for e in range(1, 31)], rtol=1e-12)
    kw = dict(gamma=0.5, eta=0.5, batch_size=16, k=2, hessian_data=data.subset(8, 0), n_iter=10, seed=1,
              patience=2, min_drop=0.05)
    target = float(loss[4]) * (1 + 1e-9)
    first = int(np.argmax(loss[1:] <= target)) + 1                     # the first epoch at or below it
    with torch_threads(1):
        stop = train_nudged(model, data, max_epochs=30, target_loss=target, **kw)
        base = train_nudged(model, data, max_epochs=decays[0], **kw)  # ends at the first decay
        snap = train_nudged(model, data, max_epochs=30, snapshot_epoch=decays[0], max_decays=1, **kw)
    assert stop["reached"] and stop["epochs"] == first and stop["loss"][-1] <= target
    assert list(base["decay_epochs"]) == decays[:1] and torch.equal(base["theta"], snap["theta_snapshot"])
    assert list(snap["decay_epochs"]) == decays[:1] and not torch.equal(snap["theta"], snap["theta_snapshot"])
    with pytest.raises(ValueError, match="decay"):
        train_nudged(model, data, gamma=0.5, eta=0.5, batch_size=16, max_epochs=1, decay=2.0)


def test_endpoint_sharpness_matches_dense_hessian(tiny):
    model, data = tiny
    with torch_threads(1):
        sh = endpoint_sharpness(model, model.theta(), data, k=3, n_iter=model.n_params)
        lam = torch.linalg.eigvalsh(dense_hessian(model, model.theta(), data.X, data.y)).flip(0)[:3].numpy()
    np.testing.assert_allclose(sh["eigenvalues"], lam, rtol=1e-9)
    assert sh["frobenius_top_k"] == pytest.approx(np.sqrt(np.sum(lam ** 2)))


def _runs(eta, B, heights, times, passed=True, final_loss=0.5, epochs=20):
    from pde_sgd import Result
    return [Result("jastrzebski.f9", {"loss": np.array([2.3, final_loss])},
                   {"eta": eta, "batch_size": B, "epochs": epochs,
                    "peak": {"height": h, "time": t, "time_resolution": 0.01,
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
    assert v.outcome == REGIME_NOT_REACHED and v.failed[0].name == "λ_max / (2/η)"
    # a peak not passed blocks the verdict too
    unpassed = _runs(1.0, 32, [1.9, 1.85, 1.95], [2.0, 2.2, 2.1], passed=False)
    v = _compare(low + unpassed, (1.0, 32), (0.1, 32), "height")["verdict"]
    assert v.outcome == REGIME_NOT_REACHED and "not passed" in v.failed[0].name
    # so does a run that never trained (final loss above chance, ln 10 = 2.303), naming the worst loss
    untrained = _runs(1.0, 32, [1.9, 1.85, 1.95], [2.0, 2.2, 2.1], final_loss=4.7)
    v = _compare(low + untrained, (1.0, 32), (0.1, 32), "height")["verdict"]
    assert v.outcome == REGIME_NOT_REACHED and [p.name for p in v.failed] == ["final train loss (largest run)"]
    assert v.failed[0].measured == pytest.approx(4.7)
    # a time compared with a run stopped (at 5 epochs) before the other's peaks (8-9 epochs): not judged; the
    # height still is
    short = _runs(1.0, 32, [1.9, 1.85, 1.95], [2.0, 2.2, 2.1], epochs=5)
    v = _compare(low + short, (1.0, 32), (0.1, 32), "time")["verdict"]
    assert v.outcome == REGIME_NOT_REACHED and [p.name for p in v.failed] == ["latest peak time / shorter run (epochs)"]
    assert v.failed[0].measured == pytest.approx(9.0 / 5)
    assert _compare(low + short, (1.0, 32), (0.1, 32), "height")["verdict"].outcome == HOLDS
    # higher peaks for the larger eta at the edge: does not hold; overlapping seeds: unresolved
    high = _runs(0.1, 32, [1.0, 1.1, 1.05], [8.0, 9.0, 8.5])
    assert _compare(high + at_edge, (1.0, 32), (0.1, 32), "height")["verdict"].outcome == DOES_NOT_HOLD
    close = _runs(0.1, 32, [1.8, 2.0, 1.9], [8.0, 9.0, 8.5])
    c = _compare(close + at_edge, (1.0, 32), (0.1, 32), "height")
    assert c["verdict"].outcome == UNRESOLVED
    assert c["diff"] == pytest.approx(np.mean([1.9, 1.85, 1.95]) - 1.9)
    assert c["se"] == pytest.approx(np.sqrt(np.var([1.9, 1.85, 1.95], ddof=1) / 3 + np.var([1.8, 2.0, 1.9], ddof=1) / 3))


def _nudged_runs(gamma, frob, acc, loss=0.01, change_at_2=0.03, target=0.06):
    from pde_sgd import Result
    alphas = np.array([0.25, 0.5, 1.0, 2.0, 4.0])
    return [Result("jastrzebski.nudged", {"frobenius_top_k": np.float64(f), "test_accuracy": np.float64(a),
                                          "train_loss": np.float64(loss), "overshoot_alphas": alphas,
                                          "overshoot_change": np.array([-0.01, -0.01, 0.0, change_at_2, 0.1])},
                   {"gamma": gamma, "seed": s, "target_loss": target})
            for s, (f, a) in enumerate(zip(frob, acc))]


def test_nudged_verdicts_need_the_overshoot_and_the_loss_target():
    """Synthetic Table-1 results: sharper at gamma = 0.1 with equal accuracy, wider and worse at gamma = 10."""
    from simulations.jastrzebski import nudged_claims
    from pde_sgd.verdicts import DOES_NOT_HOLD, HOLDS, REGIME_NOT_REACHED, UNRESOLVED
    ref = _nudged_runs(1.0, [10.0, 11.0, 12.0], [0.80, 0.805, 0.795])
    sharp = _nudged_runs(0.1, [30.0, 33.0, 36.0], [0.805, 0.80, 0.81])
    wide = _nudged_runs(10.0, [5.0, 5.5, 6.0], [0.70, 0.71, 0.69])
    c = nudged_claims(ref + sharp + wide)
    assert {k: v["verdict"].outcome for k, v in c.items()} == {
        "frobenius_top_k γ = 0.1": HOLDS, "test_accuracy γ = 0.1": HOLDS,
        "frobenius_top_k γ = 10": HOLDS, "test_accuracy γ = 10": HOLDS}
    f = c["frobenius_top_k γ = 0.1"]
    assert f["diff"] == pytest.approx(22.0) and f["se"] == pytest.approx(np.sqrt(9 / 3 + 1 / 3))
    # accuracy 3.5 points below at gamma = 0.1 (outside the 1-point margin): does not hold
    worse = _nudged_runs(0.1, [30.0, 33.0, 36.0], [0.76, 0.765, 0.77])
    assert nudged_claims(ref + worse)["test_accuracy γ = 0.1"]["verdict"].outcome == DOES_NOT_HOLD
    same = _nudged_runs(10.0, [9.0, 11.0, 13.0], [0.80, 0.81, 0.79])
    assert nudged_claims(ref + same)["frobenius_top_k γ = 10"]["verdict"].outcome == UNRESOLVED
    # no overshoot at alpha = 2 in the gamma = 1 runs: regime not reached, naming it with its value
    flat = _nudged_runs(1.0, [10.0, 11.0, 12.0], [0.80, 0.81, 0.79], change_at_2=0.001)
    v = nudged_claims(flat + sharp)["frobenius_top_k γ = 0.1"]["verdict"]
    assert v.outcome == REGIME_NOT_REACHED and v.failed[0].name == "loss change at α = 2"
    assert v.failed[0].measured == pytest.approx(0.001)
    # one run short of the loss target
    short = sharp[:2] + _nudged_runs(0.1, [36.0], [0.81], loss=0.2)
    v = nudged_claims(ref + short)["frobenius_top_k γ = 0.1"]["verdict"]
    assert v.outcome == REGIME_NOT_REACHED and [p.name for p in v.failed] == ["final train loss"]
    assert v.failed[0].measured == pytest.approx(0.2)
    with pytest.raises(ValueError, match="gamma = 1"):
        nudged_claims(sharp)
    with pytest.raises(ValueError, match="2 seeds"):
        nudged_claims(ref + sharp[:1])


def test_f9_claims_pair_the_scans_at_the_given_reference():
    """The eta scan at B = b_ref and the B scan at eta = eta_ref, neighbouring pairs: larger eta against
    smaller, smaller B against larger (the CNN's scans run at eta_ref = 0.3)."""
    from simulations.jastrzebski import f9_claims
    runs = [r for eta, B in ((0.1, 32), (0.3, 32), (1.0, 32), (0.3, 8), (0.3, 128), (1.0, 128))
            for r in _runs(eta, B, [2.0, 2.1], [1.0, 1.1])]
    pairs = {(v["a"], v["b"]) for v in f9_claims(runs, eta_ref=0.3, b_ref=32).values()}
    assert pairs == {((0.3, 32), (0.1, 32)), ((1.0, 32), (0.3, 32)), ((0.3, 8), (0.3, 32)), ((0.3, 32), (0.3, 128))}
    default = {(v["a"], v["b"]) for v in f9_claims(runs).values()}      # eta_ref = 1: B 32 vs 128 at eta 1
    assert ((1.0, 32), (1.0, 128)) in default and ((0.3, 8), (0.3, 32)) not in default


def test_f9_full_grids_meet_the_issue_and_keep_the_mlp_keys():
    """>= 4 eta, >= 3 B, >= 5 seeds per model; the MLP points carry no ``model`` (f9_point's default), so their
    stored keys are those of the runs made before the CNN existed."""
    from simulations.jastrzebski import f9_cnn_points, f9_point, f9_points
    for points, model in ((f9_points(True), None), (f9_cnn_points(True), "cnn1d")):
        assert {p.get("model") for p in points} == {model}
        configs = {(p["eta"], p["batch_size"]) for p in points}
        assert len({e for e, _ in configs}) >= 4 and len({b for _, b in configs}) >= 3
        assert all(sum((p["eta"], p["batch_size"]) == c for p in points) >= 5 for c in configs)
    with pytest.raises(ValueError, match="model"):
        f9_point(eta=1.0, batch_size=32, epochs=1, n_records=3, seed=0, model="cnn")
