"""Jastrzebski et al. experiments (THEORY.md sections 5 and 7) on the digits MLP (one tanh layer of 32,
weight decay 1e-3): F9, the top-2 Hessian eigenvalues along SGD for several (eta, B) and seeds, with the peak of
lambda_max per run; and Nudged SGD (step gamma * eta along the top-5 Hessian eigenvectors) with its endpoint
sharpness and test accuracy (their Table 1).
"""
from __future__ import annotations

import numpy as np

from pde_sgd import Result
from pde_sgd.sweeps import Sweep

ETA_REF, B_REF = 0.3, 32
F9_CONFIGS = ((0.1, 32), (0.3, 32), (1.0, 32), (0.3, 8), (0.3, 128))   # eta scan at B = 32, B scan at eta = 0.3
GAMMAS = (0.01, 0.1, 1.0, 10.0)


def f9_point(*, eta: float, batch_size: int, epochs: float, n_records: int, seed: int, hessian_samples: int = 256,
             n_iter: int = 24, device: str = "auto") -> Result:
    """One SGD run on all 1797 digits: lambda_1, lambda_2 (Lanczos on a fixed subset of ``hessian_samples``)
    at log-spaced steps, and the peak of lambda_max (running median of 3 records; time in epochs)."""
    from pde_sgd.networks import build_model, digits, torch_threads, track_hessian
    from pde_sgd.networks.sharpness import peak
    with torch_threads(1):
        data = digits(seed=0, device=device)
        model = build_model("mlp", data, seed=seed, hidden=(32,), device=device)
        n_steps = int(round(epochs * data.n / batch_size))
        rec = np.unique(np.geomspace(1, n_steps, n_records).round().astype(int))
        r = track_hessian(model, data, eta=eta, batch_size=batch_size, n_steps=n_steps,
                          record_steps=np.concatenate([[0], rec]), k=2, hessian_samples=hessian_samples,
                          n_iter=n_iter, seed=seed)
    r.arrays["epochs"] = r["steps"] * batch_size / data.n
    pk = peak(r["epochs"], r["eigenvalues"][:, 0])
    r.arrays["lambda_max_smoothed"] = pk.pop("smoothed")
    r.params.update(peak=pk, epochs=epochs)
    return r


def f9_points(full: bool = False) -> list[dict]:
    """Full: the five configurations, 5 seeds, 12 epochs, 40 records. Quick: the ends of each scan only
    ((0.1, 32) against (1.0, 32), (0.3, 8) against (0.3, 128)), 2 seeds, 10 records, a cheaper Hessian (96
    samples, 12 Lanczos steps), and per configuration about enough epochs to pass the peak (8, 3, 2, 12)."""
    if full:
        return [{"eta": e, "batch_size": b, "epochs": 12, "n_records": 40, "seed": s}
                for e, b in F9_CONFIGS for s in range(5)]
    return [{"eta": e, "batch_size": b, "epochs": ep, "n_records": 10, "seed": s, "hessian_samples": 96, "n_iter": 12}
            for e, b, ep in ((0.1, 32, 8), (1.0, 32, 3), (0.3, 8, 2), (0.3, 128, 12)) for s in range(2)]


def _compare(results: list[Result], a: tuple, b: tuple, key: str) -> dict:
    """mean_a - mean_b of the peak ``key`` over seeds, its standard error, and the verdict for "a is smaller".

    For the time, each run also carries the record grid's quantisation (uniform within +- time_resolution,
    variance time_resolution^2 / 3), added to the seeds' variance."""
    def runs(c):
        return [r.params["peak"] for r in results if (r.params["eta"], r.params["batch_size"]) == c]

    def var_of_mean(pk):
        v = np.array([q[key] for q in pk])
        quant = np.mean([q["time_resolution"] ** 2 / 3 for q in pk]) if key == "time" else 0.0
        return (v.var(ddof=1) + quant) / v.size, v
    (var_a, va), (var_b, vb) = var_of_mean(runs(a)), var_of_mean(runs(b))
    d = float(va.mean() - vb.mean())
    se = float(np.sqrt(var_a + var_b))
    verdict = "holds" if d < -2 * se else ("does not hold" if d > 2 * se else "not resolved (|diff| < 2 SE)")
    unpassed = sum(not r.params["peak"]["passed"] for r in results if (r.params["eta"], r.params["batch_size"]) in (a, b))
    return {"a": a, "b": b, "diff": d, "se": se, "verdict": verdict, "mean_a": float(va.mean()),
            "mean_b": float(vb.mean()), "n_a": int(va.size), "n_b": int(vb.size), "peaks_not_passed": unpassed}


def f9_claims(results: list[Result]) -> dict:
    """"Larger eta or smaller B: smaller, earlier peak", per neighbouring pair of the scans, with seeds' spread:
    holds if the difference is below -2 standard errors, does not hold above +2 SE, else not resolved."""
    configs = {(r.params["eta"], r.params["batch_size"]) for r in results}
    etas = sorted(c for c in configs if c[1] == B_REF)
    bs = sorted(c for c in configs if c[0] == ETA_REF)
    pairs = [(etas[i + 1], etas[i]) for i in range(len(etas) - 1)] + [(bs[i], bs[i + 1]) for i in range(len(bs) - 1)]
    return {f"{k}: {a} vs {b}": _compare(results, a, b, k) for a, b in pairs for k in ("height", "time")}


def _digits_split(n_test: int, device: str):
    """All 1797 digits split (seed 0) into a test set of ``n_test`` and a training set of the rest."""
    from pde_sgd.networks import Dataset, digits
    d = digits(seed=0, device=device)
    perm = np.random.default_rng(0).permutation(d.n)

    def part(idx, name):
        import torch
        i = torch.as_tensor(idx, device=d.X.device)
        return Dataset(d.X[i], d.y[i], d.n_classes, "digits", {"split": name, "n_test": n_test, "split_seed": 0})
    return part(perm[n_test:], "train"), part(perm[:n_test], "test")


def nudged_point(*, gamma: float, epochs: int, seed: int, eta: float = 0.05, batch_size: int = 32, k: int = 5,
                 n_test: int = 497, device: str = "auto") -> Result:
    """Nudged SGD on 1300 training digits (eta = 0.05 keeps gamma eta lambda_max < 2 at gamma = 10) (top-k eigenvectors of the mini-batch Hessian refreshed every epoch);
    at the end: top-k Hessian eigenvalues on the whole training set, spectral and top-k Frobenius norms,
    train loss and accuracy, test accuracy."""
    import torch
    from pde_sgd.networks import build_model, torch_threads
    from pde_sgd.networks.sharpness import endpoint_sharpness, train_nudged
    with torch_threads(1):
        train, test = _digits_split(n_test, device)
        model = build_model("mlp", train, seed=seed, hidden=(32,), device=device)
        n_steps = int(epochs * train.n / batch_size)
        theta = train_nudged(model, train, gamma=gamma, eta=eta, batch_size=batch_size, n_steps=n_steps, k=k,
                             seed=seed)
        sh = endpoint_sharpness(model, theta, train, k=k, n_iter=40, seed=seed)
        with torch.no_grad():
            loss = float(model.loss(theta, train.X, train.y))
        arrays = {"hessian_eigenvalues": sh["eigenvalues"], "spectral_norm": np.float64(sh["spectral_norm"]),
                  "frobenius_top_k": np.float64(sh["frobenius_top_k"]), "train_loss": np.float64(loss),
                  "train_accuracy": np.float64(model.accuracy(theta, train)),
                  "test_accuracy": np.float64(model.accuracy(theta, test))}
    params = {"gamma": gamma, "eta": eta, "batch_size": batch_size, "k": k, "epochs": epochs, "n_steps": n_steps,
              "seed": seed, "n_train": train.n, "n_test": test.n, "model": model.config}
    return Result("jastrzebski.nudged", arrays, params)


def nudged_points(full: bool = False) -> list[dict]:
    seeds, epochs = (range(5), 60) if full else (range(2), 10)
    return [{"gamma": g, "epochs": epochs, "seed": s} for g in GAMMAS for s in seeds]


def nudged_table(results: list[Result]) -> list[dict]:
    """Per gamma: mean and std over seeds of the spectral norm, top-k Frobenius norm and test accuracy."""
    rows = []
    for g in sorted({r.params["gamma"] for r in results}):
        rs = [r for r in results if r.params["gamma"] == g]
        row = {"gamma": g, "n_seeds": len(rs)}
        for key in ("spectral_norm", "frobenius_top_k", "test_accuracy", "train_loss"):
            v = np.array([float(r[key]) for r in rs])
            row[key], row[key + "_std"] = float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0
        rows.append(row)
    return rows


def f9_sweep(full: bool = False) -> Sweep:
    return Sweep("f9_hessian", f9_point, f9_points(full),
                 "Jastrzebski et al.: lambda_max, lambda_2 along SGD for several eta, B and seeds")


def nudged_sweep(full: bool = False) -> Sweep:
    return Sweep("f9_nudged", nudged_point, nudged_points(full),
                 "Jastrzebski et al. Table 1: Nudged SGD with gamma in {0.01, 0.1, 1, 10}")


SWEEPS = {"f9_hessian": f9_sweep, "f9_nudged": nudged_sweep}
