"""Smith & Le experiments (THEORY.md sections 5 and 7): F7 (evidence of logistic regression across the L2
strength, informative vs random labels) and F8 (test accuracy against batch size, B_opt against eps, N, 1/(1-m)).

Every point function takes keyword parameters only and returns one :class:`pde_sgd.Result` (seeded: same point,
same result).
"""
from __future__ import annotations

import numpy as np

from pde_sgd import Result


def f7_point(*, lam: float, random_labels: bool, label_seed: int = 0, n_train: int = 200, n_features: int = 400,
             seed: int = 0) -> Result:
    """One F7 point: L2 logistic regression on two-class digits (0-4 vs 5-9) with n_features random ReLU
    features + bias (P = n_features + 1 >= N = n_train), fitted exactly (Newton); train/test accuracy, mean
    margin, mean cross-entropy, and the log evidence ratio E(w0) (exact Hessian) with E / N."""
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
    margin_ratio: mean training margin true / random (mean over random seeds) at the smallest lambda;
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
            "margin_ratio": float(true[0]["train_margin"]) / float(np.mean([float(r["train_margin"]) for r in rand_lo])),
            "true_test_accuracy_min_lam": float(true[0]["test_accuracy"]),
            "random_train_accuracy_min_lam": float(min(float(r["train_accuracy"]) for r in rand_lo)),
            "random_test_accuracy_min_lam": float(np.mean([float(r["test_accuracy"]) for r in rand_lo]))}


def f7_results(full: bool = False) -> list[Result]:
    """Every F7 point of :func:`f7_points`."""
    return [f7_point(**p) for p in f7_points(full)]
