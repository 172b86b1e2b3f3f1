"""Smith & Le experiments (THEORY.md sections 5 and 7): F7 (evidence of logistic regression across the L2
strength, informative vs random labels) and F8 (test accuracy against batch size, B_opt against eps, N, 1/(1-m)).

Every point function takes keyword parameters only and returns one :class:`pde_sgd.Result` (seeded: same point,
same result).
"""
from __future__ import annotations

import numpy as np

from pde_sgd import Result
from pde_sgd.sweeps import Sweep


def f7_point(*, lam: float, random_labels: bool, label_seed: int = 0, n_train: int = 200, n_features: int = 400,
             seed: int = 0) -> Result:
    """One F7 point: L2 logistic regression on two-class digits (0-4 vs 5-9) with n_features random ReLU
    features + bias (P = n_features + 1 >= N = n_train), fitted exactly (Newton); train/test accuracy, mean
    margins (geometric and functional), mean cross-entropy, and the log evidence ratio E(w0) (exact Hessian) with E / N."""
    from pde_sgd.networks import evidence as ev
    d = ev.two_class_digits(n_train, n_features, seed=seed, random_labels=random_labels, label_seed=label_seed)
    w0 = ev.fit(d["Phi_train"], d["y_train"], lam)
    E, lam_i = ev.log_evidence_ratio(w0, d["Phi_train"], d["y_train"], lam)
    arrays = {f"train_{k}": np.float64(v) for k, v in ev.metrics(w0, d["Phi_train"], d["y_train"]).items()}
    arrays.update({f"test_{k}": np.float64(v) for k, v in ev.metrics(w0, d["Phi_test"], d["y_test"]).items()})
    arrays.update(log_evidence=np.float64(E), log_evidence_per_sample=np.float64(E / n_train),
                  weight_norm=np.float64(np.linalg.norm(w0)), hessian_eigenvalues=lam_i[::-1])
    params = {"lam": lam, "random_labels": random_labels, "label_seed": label_seed, "n_train": n_train,
              "n_features": n_features, "n_params": n_features + 1, "n_test": int(d["y_test"].size), "seed": seed,
              "task": "digits 0-4 vs 5-9, balanced training set, random ReLU features + bias"}
    return Result("smith_le.f7", arrays, params)


def f7_points(full: bool = False) -> list[dict]:
    """The F7 grid: lambda on a log grid, true labels and (several seeds of) random labels."""
    lams = np.logspace(-3, 3, 25 if full else 13).tolist()
    n_train, n_features, n_rand = (800, 1000, 5) if full else (200, 400, 3)
    pts = [{"lam": lam, "random_labels": False, "label_seed": 0} for lam in lams]
    pts += [{"lam": lam, "random_labels": True, "label_seed": s} for s in range(n_rand) for lam in lams]
    return [{**p, "n_train": n_train, "n_features": n_features, "seed": 0} for p in pts]


def f7_summary(results: list[Result]) -> dict:
    """The section-3 claims measured on a set of F7 results (one lambda grid, true and random labels).

    lam_evidence_min / lam_test_ce_min: the grid lambdas minimising E (true labels) and the test cross-entropy;
    offset_decades: log10 of their ratio; random_E_min: the smallest E over every random-label point;
    margin_ratio: mean training geometric margin (distance to the boundary, the paper's margin) true / random
    (mean over random seeds) at the smallest lambda;
    random_train_accuracy_min_lam: the random-label training accuracy at the smallest lambda (worst seed).
    """
    true = sorted((r for r in results if not r.params["random_labels"]), key=lambda r: r.params["lam"])
    rand = [r for r in results if r.params["random_labels"]]
    lams = np.array([r.params["lam"] for r in true])
    E = np.array([float(r["log_evidence"]) for r in true])
    ce = np.array([float(r["test_cross_entropy"]) for r in true])
    lam_lo = lams[0]
    rand_lo = [r for r in rand if r.params["lam"] == lam_lo]
    return {"lam_evidence_min": float(lams[E.argmin()]), "lam_test_ce_min": float(lams[ce.argmin()]),
            "offset_decades": float(np.log10(lams[E.argmin()] / lams[ce.argmin()])),
            "grid_step_decades": float(np.log10(lams[1] / lams[0])),
            "random_E_min": float(min(float(r["log_evidence"]) for r in rand)),
            "margin_ratio": float(true[0]["train_geometric_margin"])
                            / float(np.mean([float(r["train_geometric_margin"]) for r in rand_lo])),
            "true_test_accuracy_min_lam": float(true[0]["test_accuracy"]),
            "random_train_accuracy_min_lam": float(min(float(r["train_accuracy"]) for r in rand_lo)),
            "random_test_accuracy_min_lam": float(np.mean([float(r["test_accuracy"]) for r in rand_lo]))}


def f7_sweep(full: bool = False) -> Sweep:
    return Sweep("f7_evidence", f7_point, f7_points(full),
                 "Smith & Le sec. 3: L2 logistic regression on digits, true vs random labels, across lambda")


# ---------------------------------------------------------------- F8: optimal batch size
F8_REF = {"eps": 0.1, "momentum": 0.9, "n_train": 1000}   # the fixed values of the parameters not scanned


def f8_data(n_train: int, *, augmented: bool, seed: int = 0, device: str = "auto"):
    """Train/test split of the digits (float32, (N, 64) pixels in [0, 1]): the test set is 797 images never
    trained on; the training set is ``n_train`` of the other 1000 images, or (``augmented``) ``n_train`` drawn
    (seeded) from a pool of 5000 = those 1000 and their four one-pixel shifts (up/down/left/right, zero fill)."""
    import torch
    from pde_sgd.networks import Dataset, digits, resolve_device
    d = digits(seed=0, device="cpu", dtype="float32")
    perm = torch.as_tensor(np.random.default_rng(0).permutation(d.n))
    Xp, yp = d.X[perm[:1000]], d.y[perm[:1000]]
    if augmented:
        shifts = [torch.nn.functional.pad(Xp, pad)[..., r0:r0 + 8, c0:c0 + 8]
                  for pad, r0, c0 in (((0, 0, 1, 0), 0, 0), ((0, 0, 0, 1), 1, 0), ((1, 0, 0, 0), 0, 0), ((0, 1, 0, 0), 0, 1))]
        Xp, yp = torch.cat([Xp, *shifts]), yp.repeat(5)
    if not 1 <= n_train <= len(yp):
        raise ValueError(f"n_train must be in [1, {len(yp)}] ({'augmented pool' if augmented else 'digits'}), got {n_train}")
    pick = torch.as_tensor(np.random.default_rng(seed).permutation(len(yp))[:n_train]) if augmented else torch.arange(n_train)
    dev = resolve_device(device)
    tag = "digits + 1-pixel shifts (pool of 5000)" if augmented else "digits"
    train = Dataset(Xp[pick].reshape(n_train, -1).to(dev), yp[pick].to(dev), 10, tag,
                    {"n": n_train, "augmented": augmented, "seed": seed})
    test = Dataset(d.X[perm[1000:]].reshape(797, -1).to(dev), d.y[perm[1000:]].to(dev), 10, "digits", {"n": 797})
    return train, test


def f8_point(*, scan: str, batch_size: int, eps: float, momentum: float, n_train: int, n_seeds: int,
             steps_ref: int, hidden: int, device: str = "auto") -> Result:
    """One point of a test-accuracy-against-B curve: ``n_seeds`` one-hidden-layer ReLU networks trained at once
    (SGD + momentum, constant eps, no regularisation) for steps_ref (1 - m) / eps steps (a fixed training time
    in units of the effective step eps / (1 - m)), data from :func:`f8_data` (augmented for the N scan)."""
    from pde_sgd import noise_scale
    from pde_sgd.networks import torch_threads
    from pde_sgd.networks.batch_size import train_relu_models
    n_steps = max(int(round(steps_ref * (1 - momentum) / eps)), 1)
    with torch_threads(1):
        train, test = f8_data(n_train, augmented=scan == "N", device=device)
        out = train_relu_models(train, test, batch_size=batch_size, lrs=np.full(n_seeds, eps),
                                momenta=np.full(n_seeds, momentum), n_steps=n_steps, seeds=np.arange(n_seeds),
                                hidden=hidden)
    params = {"scan": scan, "batch_size": batch_size, "eps": eps, "momentum": momentum, "n_train": n_train,
              "n_seeds": n_seeds, "steps_ref": steps_ref, "n_steps": n_steps, "hidden": hidden,
              "noise_scale": noise_scale(eps, n_train, batch_size, momentum) if batch_size < n_train else 0.0,
              "data": train.name, "device": str(train.X.device)}
    return Result("smith_le.f8", out, params)


def f8_points(full: bool = False) -> list[dict]:
    """Three scans around F8_REF (each a family of curves over B): eps, N (augmented pool), momentum."""
    if full:
        Bs, seeds, steps, hidden = [2, 4, 8, 16, 32, 64, 128, 256], 5, 1000, 256
        scans = {"eps": [0.025, 0.05, 0.1, 0.2, 0.4], "N": [250, 500, 1000, 2000, 4000],
                 "momentum": [0.8, 0.9, 0.95, 0.975]}
    else:
        Bs, seeds, steps, hidden = [4, 16, 64, 128], 2, 200, 64
        scans = {"eps": [0.05, 0.4], "N": [250, 1000], "momentum": [0.9, 0.975]}
    pts = []
    for scan, values in scans.items():
        for v in values:
            p = {**F8_REF, {"eps": "eps", "N": "n_train", "momentum": "momentum"}[scan]: v}
            if scan == "momentum":
                p["eps"] = 0.05
            pts += [{"scan": scan, "batch_size": B, **p, "n_seeds": seeds, "steps_ref": steps, "hidden": hidden}
                    for B in Bs if B <= p["n_train"]]
    return pts


N_LINEAR_REGIME = 20000   # Smith & Le fig. 6b: B_opt is proportional to N only from about here on


def f8_analysis(results: list[Result]) -> dict:
    """Per scan: each curve's B grid, mean and standard error of the test accuracy over seeds, the mean train
    accuracy, B_opt with its bracket and its bootstrap distribution over seeds; the weighted log-log slope of
    B_opt against eps, N or 1/(1-m) (predicted: 1) and its verdict (:mod:`pde_sgd.verdicts`).

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
            curves.append({"x": x, "B": B, "mean": mean, "sem": sem, "train_accuracy": train, "B_opt": b_opt,
                           "lo": lo, "hi": hi, "at_grid_end": b_opt in (B[0], B[-1]), "bootstrap": boot,
                           "preconditions": [trainable_at(min(train[i], train[max(i - 1, 0)]),
                                                          where=f"B_opt and its left neighbour (x = {x:g})"),
                                             inside_grid(i, B.size, name=f"B_opt (x = {x:g})")]})
        fit = loglog_slope([c["x"] for c in curves], [c["B_opt"] for c in curves], [c["lo"] for c in curves],
                           [c["hi"] for c in curves]) if len(curves) >= 2 else None
        if fit is not None:
            pre = [p for c in curves for p in c["preconditions"]]
            if scan == "N":
                pre.append(at_least("largest N", max(c["x"] for c in curves), N_LINEAR_REGIME))
            fit["verdict"] = judge_slope(claim[scan], fit["slope"], fit["ci95"], preconditions=pre)
        out[scan] = {"curves": curves, "fit": fit}
    return out


def f8_sweep(full: bool = False) -> Sweep:
    return Sweep("f8_batch_size", f8_point, f8_points(full),
                 "Smith & Le secs. 4-5: test accuracy against batch size, scans of eps, N and momentum")


SWEEPS = {"f7_evidence": f7_sweep, "f8_batch_size": f8_sweep}
