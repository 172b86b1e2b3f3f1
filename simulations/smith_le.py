"""Smith & Le experiments (THEORY.md sections 5 and 7): F7 (evidence of logistic regression across the L2
strength, informative vs random labels) and F8 (test accuracy against batch size, B_opt against eps, N, 1/(1-m)).

Every point function takes keyword parameters only and returns one :class:`pde_sgd.Result` (seeded: same point,
same result).

Cost on this project's 2-core CPU machine, 1 thread (timed 2026-12-06): quick F7 ~6 s, quick F8 ~13 s. Full F7:
126 points of 0.7-2.1 s (N = 800, P = 1001; lambda = 1e-7 the slowest), about 0.05 CPU-hour. Full F8 (112 points
of 5 models of width 256, B_noise checkpoints at 0.1, 0.3 and 1 of each run): the 32 momentum points (10^4 steps
each) and 11 N-scan points took 1393 s of process CPU in one run; one point of 1000 steps takes 4.6-6.8 s, so
the other 69 points (eps and N scans, 7750 and 5000 steps per B) add about 0.2 CPU-hour: about 0.6 CPU-hour.
"""
from __future__ import annotations

import numpy as np

from pde_sgd import Result
from pde_sgd.sweeps import Sweep


def f7_point(*, lam: float, random_labels: bool, label_seed: int = 0, n_train: int = 200, n_features: int = 400,
             seed: int = 0) -> Result:
    """One F7 point: L2 logistic regression on two-class digits (0-4 vs 5-9) with n_features random ReLU
    features + bias (P = n_features + 1 >= N = n_train, numerical rank N: any labelling is separable; see
    :func:`pde_sgd.networks.evidence.two_class_digits`), fitted exactly (Newton; a RuntimeError, recorded by the
    sweep as a failed point, if it does not converge); train/test accuracy, mean margins (geometric = distance
    to the boundary, and functional), mean cross-entropy with its SE, the log evidence ratio E(w0) (exact
    Hessian) with E / N, and the training features' numerical rank."""
    from pde_sgd.networks import evidence as ev
    d = ev.two_class_digits(n_train, n_features, seed=seed, random_labels=random_labels, label_seed=label_seed)
    w0 = ev.fit(d["Phi_train"], d["y_train"], lam)
    E, lam_i = ev.log_evidence_ratio(w0, d["Phi_train"], d["y_train"], lam)
    arrays = {f"train_{k}": np.float64(v) for k, v in ev.metrics(w0, d["Phi_train"], d["y_train"]).items()}
    arrays.update({f"test_{k}": np.float64(v) for k, v in ev.metrics(w0, d["Phi_test"], d["y_test"]).items()})
    arrays.update(log_evidence=np.float64(E), log_evidence_per_sample=np.float64(E / n_train),
                  weight_norm=np.float64(np.linalg.norm(w0)), hessian_eigenvalues=lam_i[::-1],
                  feature_rank=np.int64(ev.numerical_rank(d["Phi_train"])))
    params = {"lam": lam, "random_labels": random_labels, "label_seed": label_seed, "n_train": n_train,
              "n_features": n_features, "n_params": n_features + 1, "n_test": int(d["y_test"].size), "seed": seed,
              "task": "digits 0-4 vs 5-9, balanced training set, random ReLU features max(0, a.x/2 + b) + bias"}
    return Result("smith_le.f7", arrays, params)


F7_WEAK_LAMBDA = 1e-6    # the grid must reach this far down to judge the weakly-regularised claims


def f7_points(full: bool = False) -> list[dict]:
    """The F7 grid: lambda from 1e-7 to 1e3 (half-decade steps in the full setting, decades in the quick one),
    true labels and (several seeds of) random labels."""
    lams = np.logspace(-7, 3, 21 if full else 11).tolist()
    n_train, n_features, n_rand = (800, 1000, 5) if full else (200, 400, 3)
    pts = [{"lam": lam, "random_labels": False, "label_seed": 0} for lam in lams]
    pts += [{"lam": lam, "random_labels": True, "label_seed": s} for s in range(n_rand) for lam in lams]
    return [{**p, "n_train": n_train, "n_features": n_features, "seed": 0} for p in pts]


def f7_summary(results: list[Result]) -> dict:
    """The section-3 quantities measured on a set of F7 results (one lambda grid, true and random labels).

    lam_evidence_min / lam_test_ce_min: the grid lambdas minimising E (true labels) and the test cross-entropy
    (i_evidence_min / i_test_ce_min their grid indices); offset_decades: log10 of their ratio; random_E_min: the
    smallest E over every random-label point; at the smallest lambda ("_min_lam"): the training geometric margin
    (distance to the boundary, the paper's margin) true / random (mean over random seeds) as margin_ratio and as
    a difference with its SE over random seeds, the functional margin ratio, train and test accuracies, the
    true-label E and test cross-entropy (with SE) beside the smallest test cross-entropy on the grid;
    feature_rank_min: the smallest numerical rank of the training features over all points.
    """
    true = sorted((r for r in results if not r.params["random_labels"]), key=lambda r: r.params["lam"])
    rand = [r for r in results if r.params["random_labels"]]
    lams = np.array([r.params["lam"] for r in true])
    E = np.array([float(r["log_evidence"]) for r in true])
    ce = np.array([float(r["test_cross_entropy"]) for r in true])
    lo = true[0]
    rand_lo = [r for r in rand if r.params["lam"] == lams[0]]
    geo_r = np.array([float(r["train_geometric_margin"]) for r in rand_lo])
    return {"lam_min": float(lams[0]), "lam_max": float(lams[-1]), "n_train": int(lo.params["n_train"]),
            "n_test": int(lo.params["n_test"]), "n_lams": int(lams.size),
            "feature_rank_min": int(min(int(r["feature_rank"]) for r in results)),
            "lam_evidence_min": float(lams[E.argmin()]), "lam_test_ce_min": float(lams[ce.argmin()]),
            "i_evidence_min": int(E.argmin()), "i_test_ce_min": int(ce.argmin()),
            "offset_decades": float(np.log10(lams[E.argmin()] / lams[ce.argmin()])),
            "grid_step_decades": float(np.log10(lams[1] / lams[0])),
            "random_E_min": float(min(float(r["log_evidence"]) for r in rand)),
            "margin_ratio": float(lo["train_geometric_margin"]) / float(geo_r.mean()),
            "margin_difference": float(lo["train_geometric_margin"]) - float(geo_r.mean()),
            "margin_difference_se": float(geo_r.std(ddof=1) / np.sqrt(geo_r.size)) if geo_r.size > 1 else 0.0,
            "functional_margin_ratio": float(lo["train_functional_margin"])
                                       / float(np.mean([float(r["train_functional_margin"]) for r in rand_lo])),
            "true_train_accuracy_min_lam": float(lo["train_accuracy"]),
            "true_test_accuracy_min_lam": float(lo["test_accuracy"]),
            "true_E_min_lam": float(E[0]), "true_E_per_sample_min_lam": float(E[0] / lo.params["n_train"]),
            "test_ce_min_lam": float(ce[0]), "test_ce_min_lam_se": float(lo["test_cross_entropy_se"]),
            "test_ce_min": float(ce.min()), "test_ce_min_se": float(true[ce.argmin()]["test_cross_entropy_se"]),
            "random_train_accuracy_min_lam": float(min(float(r["train_accuracy"]) for r in rand_lo)),
            "random_test_accuracy_min_lam": float(np.mean([float(r["test_accuracy"]) for r in rand_lo]))}


def _judge_exact(claim: str, ok: bool, evidence: str, preconditions):
    """A verdict on a claim about an exactly computed quantity (no sampling error: Newton's minimum, the Laplace
    E, a training accuracy): HOLDS or DOES NOT HOLD, or REGIME NOT REACHED if a precondition failed."""
    from pde_sgd.verdicts import DOES_NOT_HOLD, HOLDS, REGIME_NOT_REACHED, Verdict
    pre = tuple(preconditions)
    if any(not p.met for p in pre):
        return Verdict(claim, REGIME_NOT_REACHED, "not judged: " + "; ".join(str(p) for p in pre if not p.met)
                       + f" (measured {evidence})", pre)
    return Verdict(claim, HOLDS if ok else DOES_NOT_HOLD, evidence, pre)


def f7_verdicts(s: dict) -> dict:
    """One verdict per section-3 statement of Smith & Le (THEORY.md section 7), from :func:`f7_summary`.

    Preconditions: the features can separate any labelling (numerical rank >= N), the grid reaches the weakly
    regularised end (smallest lambda <= 1e-6) and, where a claim is about it, the strongly regularised one
    (largest lambda >= 100); the comparisons at the smallest lambda need the true-label (and random-label)
    training accuracy to be 1 (interpolation reached); the two minima of the evidence and test cross-entropy
    lie inside the grid. Sampling errors: the test accuracy's binomial SE, the test cross-entropy's SE over
    test samples, the margin's SE over random-label seeds.
    """
    from pde_sgd.verdicts import at_least, at_most, inside_grid, judge_effect
    rank = at_least("features' numerical rank / N", s["feature_rank_min"] / s["n_train"], 1.0)
    weak = at_most("smallest λ", s["lam_min"], F7_WEAK_LAMBDA)
    strong = at_least("largest λ", s["lam_max"], 100.0)
    fit_true = at_least("true-label train accuracy at smallest λ", s["true_train_accuracy_min_lam"], 1.0)
    fit_rand = at_least("random-label train accuracy at smallest λ (worst seed)",
                        s["random_train_accuracy_min_lam"], 1.0)
    acc = s["true_test_accuracy_min_lam"]
    d_ce = s["test_ce_min_lam"] - s["test_ce_min"]
    return {
        "memorises": _judge_exact(
            "weakly regularised, the model memorises random labels (train accuracy 1)",
            s["random_train_accuracy_min_lam"] == 1.0,
            f"random-label train accuracy {s['random_train_accuracy_min_lam']:.3f} (worst seed) at λ = "
            f"{s['lam_min']:.0e}", (rank, weak)),
        "generalises": judge_effect(
            "weakly regularised, the model generalises on true labels (test accuracy above chance 0.5)",
            acc - 0.5, np.sqrt(acc * (1 - acc) / s["n_test"]), expected="positive",
            preconditions=(rank, weak, fit_true)),
        "margin": judge_effect(
            f"the training mean margin is larger for true labels (paper ~1.5x; here {s['margin_ratio']:.2f}x)",
            s["margin_difference"], s["margin_difference_se"], expected="positive",
            preconditions=(rank, weak, fit_true, fit_rand)),
        "same_minimum": _judge_exact(
            "the log evidence and the test cross-entropy have their minimum at the same λ",
            abs(s["offset_decades"]) <= s["grid_step_decades"] + 1e-9,
            f"argmin E = {s['lam_evidence_min']:.3g}, argmin test CE = {s['lam_test_ce_min']:.3g} "
            f"({s['offset_decades']:+.2g} decades; grid step {s['grid_step_decades']:.2g})",
            (inside_grid(s["i_evidence_min"], s["n_lams"], name="argmin E"),
             inside_grid(s["i_test_ce_min"], s["n_lams"], name="argmin test CE"))),
        "random_E_positive": _judge_exact(
            "with random labels E > 0 (null model preferred) at every λ", s["random_E_min"] > 0,
            f"smallest random-label E = {s['random_E_min']:.4g}", (weak, strong)),
        "overconfident": judge_effect(
            "weakly regularised with true labels, the test cross-entropy rises above its minimum (over-confident)",
            d_ce, float(np.hypot(s["test_ce_min_lam_se"], s["test_ce_min_se"])), expected="positive",
            preconditions=(rank, weak, fit_true)),
        "true_E_positive": _judge_exact(
            "weakly regularised with true labels, E is large and positive",
            s["true_E_min_lam"] > 0,
            f"true-label E = {s['true_E_min_lam']:.4g} (E / N = {s['true_E_per_sample_min_lam']:.3g}) at λ = "
            f"{s['lam_min']:.0e}", (rank, weak, fit_true)),
    }


def f7_sweep(full: bool = False) -> Sweep:
    return Sweep("f7_evidence_fullrank", f7_point, f7_points(full),
                 "Smith & Le sec. 3: L2 logistic regression on digits (full-rank random ReLU features), true vs "
                 "random labels, lambda from 1e-7 to 1e3")


# ---------------------------------------------------------------- F8: optimal batch size
F8_REF = {"eps": 0.1, "momentum": 0.9, "n_train": 1000}   # the fixed values of the parameters not scanned


def f8_mnist1d(n_train: int, *, n_test: int = 1000, device: str = "auto"):
    """MNIST-1D for the N scan (float32, X flattened to (N, 40)): a fresh generation for each N (generator seed
    = N), its first ``n_train`` samples to train and the next ``n_test`` to test."""
    from pde_sgd.networks import Dataset
    from pde_sgd.networks.mnist1d import mnist1d
    train, test = mnist1d(n_train, n_test, seed=n_train, dtype="float32", device=device)
    return tuple(Dataset(d.X.reshape(d.X.shape[0], -1), d.y, d.n_classes, d.name, d.config) for d in (train, test))


def f8_n_steps(*, steps_ref: int, eps: float) -> int:
    """The number of SGD steps: steps_ref eps_ref / eps, eps_ref = F8_REF["eps"] (Smith & Le: 10^4 / eps at
    eps_ref = 1). The eps scan trains for a fixed time eps n_steps; the N and momentum scans, at fixed eps, for
    the same fixed number of steps whatever N or m (the paper fixes 10^4 steps in its momentum scan)."""
    return max(int(round(steps_ref * F8_REF["eps"] / eps)), 1)


def f8_data(n_train: int, *, device: str = "auto"):
    """Train/test split of the digits (float32, (N, 64) pixels in [0, 1]): the test set is 797 images never
    trained on; the training set is the first ``n_train`` of the other 1000 images (seeded permutation)."""
    import torch
    from pde_sgd.networks import Dataset, digits, resolve_device
    d = digits(seed=0, device="cpu", dtype="float32")
    perm = torch.as_tensor(np.random.default_rng(0).permutation(d.n))
    if not 1 <= n_train <= 1000:
        raise ValueError(f"n_train must be in [1, 1000] (digits outside the test set), got {n_train}")
    dev = resolve_device(device)
    train = Dataset(d.X[perm[:n_train]].reshape(n_train, -1).to(dev), d.y[perm[:n_train]].to(dev), 10, "digits",
                    {"n": n_train})
    test = Dataset(d.X[perm[1000:]].reshape(797, -1).to(dev), d.y[perm[1000:]].to(dev), 10, "digits", {"n": 797})
    return train, test


def f8_point(*, scan: str, batch_size: int, eps: float, momentum: float, n_train: int, n_seeds: int,
             steps_ref: int, hidden: int, noise_at: str = "1", device: str = "auto") -> Result:
    """One point of a test-accuracy-against-B curve: ``n_seeds`` one-hidden-layer ReLU networks trained at once
    (SGD + momentum, constant eps, no regularisation) for :func:`f8_n_steps` steps; digits (:func:`f8_data`)
    for the eps and momentum scans, fresh MNIST-1D samples (:func:`f8_mnist1d`) for the N scan. Each model's
    gradient noise scale B_noise = tr(Sigma) / |G|^2 (McCandlish et al. 2018; on 1000 training samples, with its
    jackknife SE) at the fractions of the run listed in ``noise_at`` (comma-separated, e.g. "0.1,0.3,1");
    Smith & Le's g = eps (N/B - 1) / (1 - m) in params. A diverged model is marked in ``diverged`` (accuracy 0,
    NaN loss and B_noise; see :func:`pde_sgd.networks.batch_size.train_relu_models`)."""
    from pde_sgd import noise_scale
    from pde_sgd.networks import torch_threads
    from pde_sgd.networks.batch_size import train_relu_models
    n_steps = f8_n_steps(steps_ref=steps_ref, eps=eps)
    with torch_threads(1):
        train, test = f8_mnist1d(n_train, device=device) if scan == "N" else f8_data(n_train, device=device)
        out = train_relu_models(train, test, batch_size=batch_size, lrs=np.full(n_seeds, eps),
                                momenta=np.full(n_seeds, momentum), n_steps=n_steps, seeds=np.arange(n_seeds),
                                hidden=hidden, noise_at=[float(f) for f in noise_at.split(",")])
    params = {"scan": scan, "noise_at": noise_at, "batch_size": batch_size, "eps": eps, "momentum": momentum,
              "n_train": n_train, "n_seeds": n_seeds, "steps_ref": steps_ref, "n_steps": n_steps, "hidden": hidden,
              "noise_scale": noise_scale(eps, n_train, batch_size, momentum) if batch_size < n_train else 0.0,
              "data": train.name, "device": str(train.X.device)}
    return Result("smith_le.f8", out, params)


MOMENTUM_EPS, F8_MOMENTUM_STEPS = 0.05, 10_000   # the momentum scan's eps, and its steps in the full setting


def f8_points(full: bool = False) -> list[dict]:
    """Three scans around F8_REF (each a family of curves over B): eps and momentum on digits, N on MNIST-1D
    (up to N = 20000 in the full setting, where Smith & Le's B_opt becomes proportional to N). The momentum
    scan runs at eps = MOMENTUM_EPS, in the full setting for F8_MOMENTUM_STEPS = 10^4 steps whatever m (as
    the paper)."""
    if full:   # the momentum scan: 10^4 steps as in the paper (steps_ref 5000 at eps 0.05)
        Bs, seeds, steps, hidden, noise_at = [2, 4, 8, 16, 32, 64, 128, 256], 5, 1000, 256, "0.1,0.3,1"
        scans = {"eps": [0.025, 0.05, 0.1, 0.2, 0.4], "N": [1250, 2500, 5000, 10000, 20000],
                 "momentum": [0.8, 0.9, 0.95, 0.975]}
    else:
        Bs, seeds, steps, hidden, noise_at = [4, 16, 64, 128], 2, 200, 64, "1"
        scans = {"eps": [0.05, 0.4], "N": [500, 2000], "momentum": [0.9, 0.975]}
    pts = []
    for scan, values in scans.items():
        for v in values:
            p = {**F8_REF, {"eps": "eps", "N": "n_train", "momentum": "momentum"}[scan]: v}
            if scan == "momentum":
                p["eps"] = MOMENTUM_EPS
            steps_ref = int(round(F8_MOMENTUM_STEPS * MOMENTUM_EPS / F8_REF["eps"])) if full and scan == "momentum" \
                else steps
            pts += [{"scan": scan, "batch_size": B, **p, "n_seeds": seeds, "steps_ref": steps_ref, "hidden": hidden,
                     "noise_at": noise_at}
                    for B in Bs if B <= p["n_train"]]
    return pts


N_LINEAR_REGIME = 20000   # Smith & Le fig. 6b: B_opt is proportional to N only from about here on


def _finite_mean(values) -> float:
    """The mean of the finite entries (a diverged model's B_noise is NaN); NaN if there are none."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def f8_analysis(results: list[Result]) -> dict:
    """Per scan: each curve's B grid, mean and standard error of the test accuracy over seeds, the mean train
    accuracy, the number of diverged models per B (they count with accuracy 0), B_opt with its bracket and its
    bootstrap distribution over seeds, the gradient noise scale B_noise at the end of training per B (mean over
    the seeds that did not diverge) and at B_opt, Smith & Le's g at B_opt; the log-log slope of
    B_noise at B_opt against x (B_noise_slope: does B_opt track it?); the weighted log-log slope of B_opt against eps, N or 1/(1-m) (predicted: 1) and its verdict (:mod:`pde_sgd.verdicts`).

    Preconditions of a slope verdict: every curve trains at its B_opt and at the B left of it (train accuracy
    >= 0.99; else the optimum marks where training breaks down), every B_opt lies inside the B grid, and for
    the N scan the largest N reaches the paper's linear regime (N >= 20000).
    """
    from pde_sgd.networks.batch_size import bootstrap_optimal_batch, loglog_slope, optimal_batch
    from pde_sgd.verdicts import at_least, inside_grid, judge_slope, trainable_at
    key = {"eps": lambda p: p["eps"], "N": lambda p: p["n_train"], "momentum": lambda p: 1 / (1 - p["momentum"])}
    claim = {"eps": "B_opt proportional to eps", "N": "B_opt proportional to N",
             "momentum": "B_opt proportional to 1/(1-m)"}
    out = {}
    for scan in ("eps", "N", "momentum"):
        rs = [r for r in results if r.params["scan"] == scan]
        curves = []
        for x in sorted({key[scan](r.params) for r in rs}):
            c = sorted((r for r in rs if key[scan](r.params) == x), key=lambda r: r.params["batch_size"])
            B = np.array([r.params["batch_size"] for r in c], dtype=float)
            acc = np.array([r["test_accuracy"] for r in c])
            train = np.array([np.mean(r["train_accuracy"]) for r in c])
            mean, sem = acc.mean(1), acc.std(1, ddof=1) / np.sqrt(acc.shape[1])
            b_opt, lo, hi = optimal_batch(B, mean)
            i = int(np.flatnonzero(B == b_opt)[0])
            boot = bootstrap_optimal_batch(B, acc) if acc.shape[1] >= 2 else None
            b_noise = np.array([_finite_mean(r["noise_scale"][int(np.argmax(r["noise_steps"]))])  # end of training,
                                for r in c])                                                    # seed mean
            diverged = np.array([int(np.sum(r.arrays.get("diverged", 0))) for r in c])
            curves.append({"x": x, "B": B, "mean": mean, "sem": sem, "train_accuracy": train, "B_opt": b_opt,
                           "B_noise": b_noise, "B_noise_at_B_opt": float(b_noise[i]), "diverged": diverged,
                           "g_at_B_opt": float(c[i].params["noise_scale"]),
                           "lo": lo, "hi": hi, "at_grid_end": b_opt in (B[0], B[-1]), "bootstrap": boot,
                           "preconditions": [trainable_at(min(train[i], train[max(i - 1, 0)]),
                                                          where=f"B_opt and its left neighbour (x = {x:g})"),
                                             inside_grid(i, B.size, name=f"B_opt (x = {x:g})")]})
        fit = loglog_slope([c["x"] for c in curves], [c["B_opt"] for c in curves], [c["lo"] for c in curves],
                           [c["hi"] for c in curves]) if len(curves) >= 2 else None
        if fit is not None:
            # does B_opt track McCandlish's B_noise? the log-log slope of B_noise (at B_opt) against x beside B_opt's
            xb = np.array([(c["x"], c["B_noise_at_B_opt"]) for c in curves if np.isfinite(c["B_noise_at_B_opt"])])
            fit["B_noise_slope"] = float(np.polyfit(*np.log(xb).T, 1)[0]) if len(xb) >= 2 else float("nan")
            pre = [p for c in curves for p in c["preconditions"]]
            if scan == "N":
                pre.append(at_least("largest N", max(c["x"] for c in curves), N_LINEAR_REGIME))
            fit["verdict"] = judge_slope(claim[scan], fit["slope"], fit["ci95"], preconditions=pre)
        out[scan] = {"curves": curves, "fit": fit}
    return out


def f8_sweep(full: bool = False) -> Sweep:
    return Sweep("f8_batch_size_mnist1d", f8_point, f8_points(full),
                 "Smith & Le secs. 4-5: test accuracy against batch size, scans of eps and momentum (digits, "
                 "steps 0.1 steps_ref / eps) and N (fresh MNIST-1D samples)",
                 allow_nonfinite=True)   # a diverged model: marked in `diverged`, its loss and B_noise NaN


SWEEPS = {"f7_evidence_fullrank": f7_sweep, "f8_batch_size_mnist1d": f8_sweep}
