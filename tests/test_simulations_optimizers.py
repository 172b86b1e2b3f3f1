"""F12 (simulations.optimizers): the lr is selected on validation, never on test; the verdicts' wiring (sign,
2 SE, the "~" margin, the trained and inside-grid preconditions); the validation split of the training digits."""
import numpy as np
import pytest

from pde_sgd import Result
from pde_sgd.verdicts import DOES_NOT_HOLD, HOLDS, REGIME_NOT_REACHED, UNRESOLVED
from simulations.optimizers import CLAIMS, OPTIMIZERS, compare, select_lr, settings, summarize, vsgd_sign_ratio

LRS = settings(False)["lrs"]          # (0.01, 0.1, 1.0): the equal lr 0.01 is index 0
SEEDS = (0.0, 0.002)                  # seed offsets: SE of one optimizer's mean 0.001, of a difference 0.0014


def _fake_results(val, test, train=0.02):
    """{("mlp", optimizer): [[Result per seed] per lr]} with final errors val[o][k] + offset (likewise test)."""
    def run(v, t):
        return [Result("training.run", {"val_error": np.array([0.9, v + s]), "test_error": np.array([0.9, t + s]),
                                        "train_error": np.array([0.9, train])}, {}) for s in SEEDS]
    return {("mlp", o): [run(v, t) for v, t in zip(val[o], test[o])] for o in OPTIMIZERS}


def _verdicts(summary, setting):
    return {f"{a} {rel} {b}": v["outcome"] for (a, rel, b), v in zip(CLAIMS, summary.params["verdicts"]["mlp"][setting])}


def test_the_lr_is_selected_on_validation_error_where_validation_and_test_disagree():
    # validation best at lr 0.1 (index 1), test best at lr 1 (index 2): the selection must follow validation
    val = {o: (0.30, 0.10, 0.20) for o in OPTIMIZERS}
    test = {o: (0.30, 0.20, 0.05) for o in OPTIMIZERS}
    s = summarize(_fake_results(val, test), full=False)
    assert (s["selected"] == 1).all()
    assert select_lr(np.array([[0.3, 0.3], [0.1, 0.1], [0.2, 0.2]])) == 1
    table_test = s["test_mean"][0, :, 1]                       # reported at the selected lr: 0.20 + mean offset
    np.testing.assert_allclose(table_test, 0.201)


def test_best_of_grid_at_a_grid_end_is_regime_not_reached_and_inside_it_is_judged():
    # parle clearly better than elastic-sgd, but parle's validation optimum is the grid's last lr
    val = {o: (0.30, 0.10, 0.20) for o in OPTIMIZERS} | {"parle": (0.30, 0.20, 0.10)}
    test = {o: (0.30, 0.20, 0.30) for o in OPTIMIZERS} | {"parle": (0.30, 0.20, 0.05)}
    out = _verdicts(summarize(_fake_results(val, test), full=False), "best of grid")
    assert out["parle < elastic-sgd"] == REGIME_NOT_REACHED
    val["parle"] = (0.30, 0.05, 0.20)
    test["parle"] = (0.30, 0.05, 0.30)
    assert _verdicts(summarize(_fake_results(val, test), full=False), "best of grid")["parle < elastic-sgd"] == HOLDS


def test_equal_lr_verdicts_use_the_equal_lr_and_the_trained_precondition():
    val = {o: (0.10, 0.20, 0.30) for o in OPTIMIZERS}
    test = {o: (0.20, 0.20, 0.20) for o in OPTIMIZERS} | {"vsgd": (0.30, 0.05, 0.05)}  # vsgd worse only at 0.01
    out = _verdicts(summarize(_fake_results(val, test), full=False), "equal lr")
    assert out["vsgd < adam"] == DOES_NOT_HOLD
    assert out["entropy-sgd ~ sgd"] == HOLDS
    out = _verdicts(summarize(_fake_results(val, test, train=0.5), full=False), "equal lr")
    assert set(out.values()) == {REGIME_NOT_REACHED}             # train accuracy 0.5 < 0.9: not trained


def test_compare_sign_two_standard_errors_and_the_similarity_margin():
    low, high, acc = np.array([0.100, 0.102]), np.array([0.200, 0.202]), {"a": 0.99, "b": 0.99}
    assert compare(("a", "<", "b"), {"a": low, "b": high}, acc).outcome == HOLDS
    assert compare(("a", "<", "b"), {"a": high, "b": low}, acc).outcome == DOES_NOT_HOLD
    # gap 0.002, SE of the difference sqrt(2) 0.001 = 0.0014: 1.4 SE -> unresolved
    assert compare(("a", "<", "b"), {"a": low, "b": low + 0.002}, acc).outcome == UNRESOLVED
    # "~": |gap| - 0.005 = -0.004 < -2 SE -> holds; a 0.1 gap -> does not hold
    assert compare(("a", "~", "b"), {"a": low, "b": low + 0.001}, acc).outcome == HOLDS
    assert compare(("a", "~", "b"), {"a": low, "b": high}, acc).outcome == DOES_NOT_HOLD
    assert compare(("a", "<", "b"), {"a": low, "b": high}, {"a": 0.5, "b": 0.99}).outcome == REGIME_NOT_REACHED
    with pytest.raises(ValueError, match="2 seeds"):
        compare(("a", "<", "b"), {"a": low[:1], "b": high[:1]}, acc)


def _rows(d):
    return {r.tobytes() for r in d.X.reshape(d.n, -1).numpy()}


def test_validation_split_is_held_out_of_the_training_digits_and_never_meets_the_test_set():
    from pde_sgd.training import TrainConfig
    from pde_sgd.training.run import split_digits
    tr0, va0, te0 = split_digits(TrainConfig())
    tr, va, te = split_digits(TrainConfig(val_fraction=0.2))
    assert va0 is None and (tr.n, va.n, te.n) == (1150, 288, 359)
    assert _rows(te) == _rows(te0)                                 # the test set does not move
    assert not (_rows(va) & _rows(te)) and not (_rows(va) & _rows(tr))
    assert _rows(va) | _rows(tr) == _rows(tr0)                     # validation comes out of the training digits
    assert "val_fraction" not in TrainConfig().to_dict()           # old runs keep their stored configuration
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="val_fraction"):
            TrainConfig(val_fraction=bad)


def test_a_run_with_a_validation_split_records_validation_curves(tmp_path):
    from pde_sgd.training import TrainConfig, train
    r = train(TrainConfig(optim="adam", lr=0.01, epochs=1, val_fraction=0.2), tmp_path / "run")
    assert r.params["n_val"] == 288 and r.params["n_train"] == 1150
    assert r["val_error"].shape == r["test_error"].shape == (2,)
    assert r["val_error"][-1] < 0.5                                # one epoch of Adam learns: the curve is live


def test_vsgd_sign_ratio_after_one_step_matches_the_model_equations():
    # VSGD's equations (THEORY.md section 7) at t = 1 from mu = B = 0, in numpy: s = (2 ps, 2 K_g ps) / (2a - 1),
    # mu_1 = g s_g / (s_g + s_ghat), Sigma_1 = s_g s_ghat / (s_g + s_ghat), Bhat as given (rate 1 at t = 1);
    # then Sigma = s_g s_ghat / (s_g + s_ghat) with s = B / (2a), and the ratio |mu| / sqrt(Sigma + mu^2)
    import torch

    from pde_sgd.optim import VSGD
    g = np.array([1.0, -2.0, 0.5, 3.0, -0.1])
    p = torch.nn.Parameter(torch.zeros(5, dtype=torch.float64))
    opt = VSGD([p], lr=0.1)
    p.grad = torch.tensor(g)
    opt.step()
    ps, kg = 1e-8, 30.0
    two_a = 2 * ps + 1 + 1e-4
    sg, sgh = 2 * ps / (two_a - 1), 2 * kg * ps / (two_a - 1)
    mu, sig1 = g * sg / (sg + sgh), sg * sgh / (sg + sgh)
    bg, bgh = 2 * ps + sig1 + mu ** 2, 2 * kg * ps + sig1 + (mu - g) ** 2
    sigma = (bg / two_a) * (bgh / two_a) / ((bg + bgh) / two_a)
    assert vsgd_sign_ratio(opt) == pytest.approx(np.median(np.abs(mu) / np.sqrt(sigma + mu ** 2)), rel=1e-9)
