"""F12: the seeds' optimizers on the digits MLP and CNN, each at its own best learning rate and at one equal one.

Each run is :func:`pde_sgd.training.train`, one point of the sweep :func:`f12_sweep` (an interrupted ``make figures``
resumes with the runs not yet stored; ``pde-sgd sweep f12_optimizers --backend dask`` spreads them), single-threaded
torch on the CPU, float32, batch B = 32. The 1438 training digits are split once (seed 0, the same for every
run) into 1150 for training and 288 for VALIDATION (``val_fraction`` 0.2); the 359 test digits are never used
to choose anything. Hyper-parameters other than the learning rate are the command line's defaults (Entropy-SGD
gamma 1e-4, noise 1e-4; Parle/Elastic-SGD rho 0.01, 3 replicas, Parle gamma 0.01; SGD Nesterov momentum 0.9;
VSGD's K_g 30, ps 1e-8) except L (3 quick, 5 full: the reference's 20 would cost 20 gradient evaluations per step).

Learning rates: ONE grid shared by every optimizer. Full: 10^-3.5 .. 10^0.5 in half decades (9 values), so that
each author's default (Adam 1e-3, VSGD 0.1 and its MNIST demo's 0.01, SGD/Elastic-SGD/Parle 0.1, Entropy-SGD 1)
lies strictly inside it. Each optimizer's lr is the grid point of least mean final validation error over seeds
(:func:`select_lr`); the table reports the test error there ("best of grid") and at the equal lr 0.01 for all
("equal lr"; with B = 32 this is also the VSGD authors' MNIST demo setting, lr 0.01, B 32).

Claims (Chaudhari et al., LeNet/MNIST 0.44 < 0.48 < 0.49 ~ 0.50 %; Chen et al., VSGD more accurate than Adam):
Parle < Elastic-SGD < Entropy-SGD ~ SGD and VSGD < Adam in final test error. Each is judged with
:func:`pde_sgd.verdicts.judge_effect` on the difference of seed means, SE = sqrt(s_a^2 / n + s_b^2 / n) over
the n seeds, 2 SE: "a < b" on err_a - err_b (expected negative); "a ~ b" on |err_a - err_b| - 0.5 points
(expected negative: HOLDS when the gap is below half a point beyond 2 SE). Preconditions: both runs trained
(mean final train accuracy >= 0.9) and, best of grid, both selected lrs strictly inside the grid (else
REGIME NOT REACHED: the grid does not bracket the optimum).

Settings. Quick (CI): MLP only, lrs (0.01, 0.1, 1), 2 seeds, 2 epochs: 36 runs, about 10 s of CPU here, no
more than the former quick setting (2 models x 6 optimizers x 3 seeds x 2 epochs); its best-of-grid verdicts
are REGIME NOT REACHED wherever an optimizer's best lr is 0.01 or 1, the rest UNRESOLVED (2 seeds), and at the
equal lr most runs have not trained in 2 epochs (REGIME NOT REACHED). Full (``make figures-full``): MLP and CNN,
the 9-lr grid, 3 seeds, 20 epochs: 324 runs, run on this 2-core machine in 824 s of process CPU time, 0.23
CPU-hours (one torch thread; per run MLP 0.43 s SGD to 4.2 s Parle, CNN 1.1 s SGD to 11.7 s Parle).

Full setting as measured here (``python -m simulations.optimizers --full``, 3 seeds, test error mean ± SE %):
VSGD vs Adam at each one's lr chosen on validation: MLP 2.60 ± 0.33 (lr 0.0316) vs 3.44 ± 0.19 (lr 0.01),
HOLDS at 2.2 SE (one of 16 verdicts, so marginal); CNN 3.99 ± 0.19 vs 3.44 ± 0.25 (both lr 0.0316), UNRESOLVED
(1.8 SE). At the equal lr 0.01 (the authors' demo setting, B 32): MLP 3.44 ± 0.25 vs 3.44 ± 0.19, CNN
4.74 ± 0.70 vs 4.46 ± 0.43, both UNRESOLVED. VSGD's step is not a sign step here: after 5 epochs (MLP, one
thread) the median over parameters of |mu| / sqrt(Sigma + mu^2) (:func:`vsgd_sign_ratio`; 1 for a sign step) is
0.034, 0.041, 0.081 for seeds 0, 1, 2 at lr 0.1 and 0.14, 0.19, 0.14 at lr 0.01.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from pde_sgd import Result
from pde_sgd.sweeps import Sweep
from pde_sgd.verdicts import Verdict, at_least, inside_grid, judge_effect, summary_table

OUT = Path(__file__).resolve().parent / "out"
OPTIMIZERS = ("sgd", "entropy-sgd", "elastic-sgd", "parle", "vsgd", "adam")
EQUAL_LR = 1e-2                 # one lr for all; with B = 32 the VSGD authors' MNIST demo (lr 0.01, B 32)
BATCH_SIZE = 32
VAL_FRACTION = 0.2
MIN_TRAIN_ACCURACY = 0.9        # "trained": mean final train accuracy of the compared runs
SIMILAR_MARGIN = 0.005          # "a ~ b": |test error gap| below half a percentage point
FULL_LRS = tuple(float(v) for v in np.round(10.0 ** np.arange(-3.5, 0.51, 0.5), 6))
CLAIMS = (("parle", "<", "elastic-sgd"), ("elastic-sgd", "<", "entropy-sgd"), ("entropy-sgd", "~", "sgd"),
          ("vsgd", "<", "adam"))


def settings(full: bool) -> dict:
    """The experiment's grid: models, shared lrs, seeds, epochs and L."""
    if full:
        return {"models": ("mlp", "cnn"), "lrs": FULL_LRS, "seeds": (0, 1, 2), "epochs": 20, "L": 5}
    return {"models": ("mlp",), "lrs": (0.01, 0.1, 1.0), "seeds": (0, 1), "epochs": 2, "L": 3}


def f12_point(*, model: str, optim: str, lr: float, seed: int, epochs: int, L: int) -> Result:
    """One F12 run: :func:`pde_sgd.training.train` of ``model`` with ``optim`` at ``lr`` (digits, batch
    BATCH_SIZE, validation split VAL_FRACTION, one torch thread) in a temporary folder; its Result (errors per
    epoch on the train, validation and test splits). Ctrl-C stops it (KeyboardInterrupt)."""
    import tempfile

    from pde_sgd.training import TrainConfig, train
    cfg = TrainConfig(model=model, optim=optim, lr=lr, epochs=epochs, L=L, seed=seed, batch_size=BATCH_SIZE,
                      val_fraction=VAL_FRACTION)
    with tempfile.TemporaryDirectory() as tmp:
        result = train(cfg, Path(tmp) / "run")
    if result is None:          # the trainer stopped on Ctrl-C
        raise KeyboardInterrupt
    return result


def f12_sweep(full: bool = False) -> Sweep:
    """Every (model, optimizer, lr, seed) run of :func:`settings` as a sweep (``pde-sgd sweep f12_optimizers``
    runs it on a Dask cluster; finished runs are reused from the store)."""
    s = settings(full)
    points = [{"model": m, "optim": o, "lr": lr, "seed": seed, "epochs": s["epochs"], "L": s["L"]}
              for m in s["models"] for o in OPTIMIZERS for lr in s["lrs"] for seed in s["seeds"]]
    return Sweep("f12_optimizers", f12_point, points,
                 "F12: the seeds' optimizers on digits over one shared lr grid, each run with a validation split")


def optimizer_runs(full: bool = False, out: Path = OUT) -> dict[tuple[str, str], list[list[Result]]]:
    """{(model, optimizer): [[Result per seed] per lr]} from :func:`f12_sweep` (store ``out/sweeps/f12_optimizers``;
    RuntimeError with the first traceback if a run failed)."""
    from simulations.sweep_results import sweep_results
    s, sweep = settings(full), f12_sweep(full)
    run = {tuple(p[k] for k in ("model", "optim", "lr", "seed")): r
           for p, r in zip(sweep.points, sweep_results(sweep, store_root=Path(out) / "sweeps"))}
    return {(m, o): [[run[(m, o, lr, seed)] for seed in s["seeds"]] for lr in s["lrs"]]
            for m in s["models"] for o in OPTIMIZERS}


SWEEPS = {"f12_optimizers": f12_sweep}


def final_errors(results: dict[tuple[str, str], list[list[Result]]], split: str) -> dict[tuple[str, str], np.ndarray]:
    """Final ``split`` ("train", "val" or "test") error, an (n_lr, n_seeds) array per (model, optimizer)."""
    return {k: np.array([[r[f"{split}_error"][-1] for r in by_seed] for by_seed in by_lr])
            for k, by_lr in results.items()}


def select_lr(val_error: np.ndarray) -> int:
    """Index of the lr of least mean validation error over seeds (``val_error`` (n_lr, n_seeds); the first of ties)."""
    val_error = np.asarray(val_error, dtype=float)
    if val_error.ndim != 2 or val_error.shape[1] < 1:
        raise ValueError(f"val_error must be (n_lr, n_seeds), got shape {val_error.shape}")
    return int(np.argmin(val_error.mean(axis=1)))


def _mean_se(e: np.ndarray) -> tuple[float, float]:
    """Mean and standard error over seeds (ValueError for fewer than 2 seeds: no spread, no verdict)."""
    e = np.asarray(e, dtype=float)
    if e.size < 2:
        raise ValueError(f"a verdict needs at least 2 seeds, got {e.size}")
    return float(e.mean()), float(e.std(ddof=1) / np.sqrt(e.size))


def compare(claim: tuple[str, str, str], test: dict[str, np.ndarray], train_acc: dict[str, float],
            *, extra=()) -> Verdict:
    """The verdict on ``claim`` (a, "<" or "~", b) from each optimizer's final test errors over seeds.

    ``test[name]``: (n_seeds,) test errors at the compared lr; ``train_acc[name]``: mean final train accuracy
    there (precondition >= MIN_TRAIN_ACCURACY); ``extra``: further preconditions (the grid check).
    """
    a, rel, b = claim
    (ma, sa), (mb, sb) = _mean_se(test[a]), _mean_se(test[b])
    gap, se = ma - mb, float(np.hypot(sa, sb))
    pre = [at_least(f"{n} train accuracy", train_acc[n], MIN_TRAIN_ACCURACY) for n in (a, b)] + list(extra)
    if rel == "<":
        return judge_effect(f"{a} < {b} (test error; effect = err({a}) - err({b}))", gap, se,
                            expected="negative", preconditions=pre)
    if rel == "~":
        return judge_effect(f"{a} ~ {b} (|err({a}) - err({b})| < {SIMILAR_MARGIN:g}; effect = |gap| - "
                            f"{SIMILAR_MARGIN:g})", abs(gap) - SIMILAR_MARGIN, se,
                            expected="negative", preconditions=pre)
    raise ValueError(f"claim relation must be '<' or '~', got {rel!r}")


def judge_claims(val: dict[str, np.ndarray], test: dict[str, np.ndarray], train: dict[str, np.ndarray],
                 lrs: tuple[float, ...]) -> dict[str, list[Verdict]]:
    """{"best of grid": [...], "equal lr": [...]}: each claim judged at each optimizer's lr selected on
    validation (with the inside-grid preconditions) and at EQUAL_LR for all. Arrays (n_lr, n_seeds) by name."""
    n = len(lrs)
    if EQUAL_LR not in lrs:
        raise ValueError(f"lrs must contain the equal lr {EQUAL_LR:g}, got {lrs}")
    eq = list(lrs).index(EQUAL_LR)
    sel = {o: select_lr(val[o]) for o in val}
    out: dict[str, list[Verdict]] = {"best of grid": [], "equal lr": []}
    for claim in CLAIMS:
        a, _, b = claim
        grid = [inside_grid(sel[o], n, name=f"{o} selected lr {lrs[sel[o]]:.3g}") for o in (a, b)]
        out["best of grid"].append(compare(claim, {o: test[o][sel[o]] for o in (a, b)},
                                           {o: 1 - train[o][sel[o]].mean() for o in (a, b)}, extra=grid))
        out["equal lr"].append(compare(claim, {o: test[o][eq] for o in (a, b)},
                                       {o: 1 - train[o][eq].mean() for o in (a, b)}))
    return out


def vsgd_sign_ratio(opt) -> float:
    """Median over all parameters of |mu| / sqrt(Sigma + mu^2) in a :class:`pde_sgd.optim.VSGD`'s state, with
    Sigma = s_g s_ghat / (s_g + s_ghat), s = B / (2a) from its current B_g, B_ghat (the next step's variance):
    VSGD's step is lr times this ratio per element, so a sign step would give 1."""
    import torch
    two_a = {id(p): 2.0 * g["ps"] + 1.0 + 1e-4 for g in opt.param_groups for p in g["params"]}
    ratios = []
    for p, st in opt.state.items():
        bg, bhg, mu = st["bg"], st["bhg"], st["mu"]
        sigma = bg * bhg / ((bg + bhg) * two_a[id(p)])
        ratios.append((mu.abs() / (sigma + mu ** 2).sqrt()).flatten())
    if not ratios:
        raise ValueError("opt has no state: take at least one step first")
    return float(torch.cat(ratios).double().median())


def vsgd_sign_ratio_after_training(*, lr: float = 0.1, epochs: int = 5, seed: int = 0) -> float:
    """:func:`vsgd_sign_ratio` of VSGD after ``epochs`` on the digits MLP (F12's split, in a temporary folder)."""
    import tempfile

    from pde_sgd.networks import torch_threads
    from pde_sgd.training import TrainConfig
    from pde_sgd.training.run import Trainer
    cfg = TrainConfig(model="mlp", optim="vsgd", lr=lr, epochs=epochs, seed=seed, batch_size=BATCH_SIZE,
                      val_fraction=VAL_FRACTION)
    with tempfile.TemporaryDirectory() as tmp, torch_threads(1):
        trainer = Trainer(cfg, Path(tmp), progress=False)
        trainer.run()
        return vsgd_sign_ratio(trainer.opt)


def summarize(results: dict[tuple[str, str], list[list[Result]]], full: bool) -> Result:
    """Errors per (model, optimizer, lr) (mean and SE over seeds), the selected lrs and the verdicts, as a
    Result ``f12.summary``: arrays ``{val,test,train}_{mean,se}`` (n_models, n_optimizers, n_lr), ``selected``
    (n_models, n_optimizers) grid indices, ``lrs``; params ``verdicts[model][setting]`` (Verdict dicts)."""
    s = settings(full)
    models, lrs = s["models"], tuple(s["lrs"])
    err = {split: final_errors(results, split) for split in ("train", "val", "test")}
    arrays: dict[str, np.ndarray] = {"lrs": np.array(lrs)}
    for split, e in err.items():
        stack = np.array([[e[(m, o)] for o in OPTIMIZERS] for m in models])       # (models, opt, lr, seeds)
        arrays[f"{split}_mean"] = stack.mean(-1)
        arrays[f"{split}_se"] = stack.std(-1, ddof=1) / np.sqrt(stack.shape[-1])
    arrays["selected"] = np.array([[select_lr(err["val"][(m, o)]) for o in OPTIMIZERS] for m in models])
    verdicts = {m: {k: [v.to_dict() for v in vs] for k, vs in
                    judge_claims(*({o: err[sp][(m, o)] for o in OPTIMIZERS} for sp in ("val", "test", "train")),
                                 lrs).items()} for m in models}
    return Result("f12.summary", arrays,
                  {"models": list(models), "optimizers": list(OPTIMIZERS), "equal_lr": EQUAL_LR,
                   "settings": {**s, "full": full, "batch_size": BATCH_SIZE, "val_fraction": VAL_FRACTION},
                   "verdicts": verdicts})


def _verdicts(summary: Result, model: str, setting: str) -> list[Verdict]:
    from pde_sgd.verdicts import Precondition
    return [Verdict(d["claim"], d["outcome"], d["evidence"], tuple(Precondition(**p) for p in d["preconditions"]))
            for d in summary.params["verdicts"][model][setting]]


def table(summary: Result) -> str:
    """Per model: each optimizer's selected lr, its validation and test error there and the test error at the
    equal lr (mean ± SE over seeds, %), then the verdicts (Markdown)."""
    p, lrs = summary.params, summary["lrs"]
    eq = int(np.flatnonzero(np.isclose(lrs, p["equal_lr"]))[0])
    lines = []
    for i, m in enumerate(p["models"]):
        lines += [f"### {m}", "", "| optimizer | selected lr (validation) | validation error (%) | test error at "
                  f"selected lr (%) | test error at lr {p['equal_lr']:g} (%) |", "|---|---|---|---|---|"]
        for j, o in enumerate(p["optimizers"]):
            k = int(summary["selected"][i, j])
            cell = lambda split, at: (f"{100 * summary[f'{split}_mean'][i, j, at]:.2f} ± "  # noqa: E731
                                      f"{100 * summary[f'{split}_se'][i, j, at]:.2f}")
            lines.append(f"| {o} | {lrs[k]:.3g} | {cell('val', k)} | {cell('test', k)} | {cell('test', eq)} |")
        for setting in ("best of grid", "equal lr"):
            lines += ["", f"{m}, {setting}:", "", summary_table(_verdicts(summary, m, setting))]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys
    full = "--full" in sys.argv
    summary = summarize(optimizer_runs(full=full), full)
    summary.save(OUT / f"f12_summary_{'full' if full else 'quick'}")
    print(table(summary))
    for lr in (0.1, EQUAL_LR):
        print(f"VSGD lr {lr:g}, 5 epochs, MLP, seeds 0-2: median |mu| / sqrt(Sigma + mu^2) = "
              + ", ".join(f"{vsgd_sign_ratio_after_training(lr=lr, seed=s):.3g}" for s in (0, 1, 2)))
