"""Rank of the gradient-noise matrix D at scale: a digits MLP with P >= 1e5 parameters trained on N << P
samples; the spectrum of D from the N x N Gram matrix of per-sample gradients along training, with the rank at
the float32 and float64 tolerances and the participation ratio and stable rank (pde_sgd.networks.noise_rank).
"""
from __future__ import annotations

import numpy as np

from pde_sgd import Result
from pde_sgd.sweeps import Sweep

HIDDEN = (1024, 64)   # 64 -> 1024 -> 64 -> 10 tanh MLP: P = 132,810


def rank_point(*, n_samples: int, n_steps: int, fractions: tuple[float, ...] = (0.0, 0.25, 1.0), eta: float = 0.1,
               batch_size: int = 16, hidden: tuple[int, ...] = HIDDEN, seed: int = 0, device: str = "auto") -> Result:
    """Train the MLP with plain SGD on ``n_samples`` digits and capture the spectrum of D (over those samples)
    at the given fractions of training, from float64 and from float32 per-sample gradients."""
    import torch
    from pde_sgd.networks import build_model, digits, torch_threads, train
    from pde_sgd.networks.noise_rank import noise_eigenvalues, spectrum_measures
    at = sorted({int(round(f * n_steps)) for f in fractions})
    with torch_threads(1):
        data = digits(n_samples, seed=seed, device=device)
        model = build_model("mlp", data, seed=seed, hidden=tuple(hidden), weight_decay=0.0, device=device)
        theta, done = model.theta(), 0
        eig64, eig32, loss, acc, measures = [], [], [], [], []
        for step in at:
            theta = train(model, data, eta=eta, batch_size=batch_size, n_steps=step - done, seed=seed + step,
                          theta0=theta) if step > done else theta
            done = step
            eig64.append(noise_eigenvalues(model, theta, data.X, data.y))
            eig32.append(noise_eigenvalues(model, theta.float(), data.X.float(), data.y))
            measures.append({"float64_grads": spectrum_measures(eig64[-1], model.n_params, data.n),
                             "float32_grads": spectrum_measures(eig32[-1], model.n_params, data.n)})
            with torch.no_grad():
                loss.append(float(model.loss(theta, data.X, data.y)))
            acc.append(model.accuracy(theta, data))
    arrays = {"steps": np.array(at), "eigenvalues_float64": np.array(eig64), "eigenvalues_float32": np.array(eig32),
              "loss": np.array(loss), "accuracy": np.array(acc)}
    params = {"n_samples": n_samples, "n_params": model.n_params, "hidden": list(hidden), "eta": eta,
              "batch_size": batch_size, "n_steps": n_steps, "seed": seed, "device": str(data.X.device),
              "measures": measures, "data": "scikit-learn digits (seeded subset), tanh MLP, no weight decay"}
    return Result("noise_rank.along_training", arrays, params)


def rank_points(full: bool = False) -> list[dict]:
    """Several N at fixed P (so P / N varies), each trained and captured along training."""
    ns, steps = ((32, 64, 128, 256, 512), 2000) if full else ((32, 96), 200)
    return [{"n_samples": n, "n_steps": steps, "seed": 0} for n in ns]


def rank_summary(results: list[Result], target: float = 0.0034) -> dict:
    """At the end of training, per N: the rank fractions at each tolerance, and the N at which a full-rank D
    (rank N - 1, the float64-tolerance case) would give the rank fraction ``target`` (the paper's 0.34%)."""
    P = results[0].params["n_params"]
    rows = [{"n_samples": r.params["n_samples"], **r.params["measures"][-1]["float64_grads"],
             "rank_float32_of_float32_grads": r.params["measures"][-1]["float32_grads"]["rank_float32"]}
            for r in results]
    return {"n_params": P, "rows": rows, "n_for_target_full_rank": int(round(target * P)) + 1,
            "target": target}


def rank_sweep(full: bool = False) -> Sweep:
    return Sweep("d_rank_at_scale", rank_point, rank_points(full),
                 "rank, participation ratio and stable rank of D for a P = 132,810 MLP on N << P digits")


SWEEPS = {"d_rank_at_scale": rank_sweep}
