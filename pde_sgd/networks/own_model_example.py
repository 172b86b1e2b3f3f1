"""Your own model, loss and data through pde_sgd: a worked example (docs: "Your own model").

An MLP regression (4 inputs, tanh hidden layer, 2 outputs) with a Huber loss, fed by a ``DataLoader``:

1. wrap the module and the loss: ``FlatModel(module, weight_decay, loss=nn.HuberLoss(reduction="none"))``;
2. read the loader once: ``as_dataset(loader, n=..., seed=...)`` (deterministic for the seed);
3. train briefly with SGD (:func:`~pde_sgd.networks.train`), then at the end point compute the spectrum of the
   gradient-noise matrix D (:func:`~pde_sgd.networks.diffusion_factor`), the Hessian's top eigenvalues, trace
   and spectral density (:func:`~pde_sgd.networks.hessian_top`, :func:`~pde_sgd.networks.hessian_trace`,
   :func:`~pde_sgd.networks.hessian_density`), and the theory check
   (:func:`~pde_sgd.networks.check_theory`).

Run it with ``python -m pde_sgd.networks.own_model_example`` (about ten seconds on one CPU core); ``run()``
returns every result, which the test suite checks against dense references.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from .data import torch_threads
from .hessian import hessian_top
from .hessian_tools import hessian_density, hessian_trace
from .models import FlatModel
from .per_sample import diffusion_factor
from .sources import as_dataset
from .theory_check import check_theory
from .training import train


def make_problem(n: int = 512, *, hidden: int = 16, seed: int = 0) -> tuple[nn.Module, DataLoader]:
    """A float64 MLP 4 -> hidden -> 2 and a shuffling DataLoader over n noisy samples of y = sin(2 x[:2])."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 4, generator=g, dtype=torch.float64)
    y = torch.sin(2 * X[:, :2]) + 0.2 * torch.randn(n, 2, generator=g, dtype=torch.float64)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = nn.Sequential(nn.Linear(4, hidden), nn.Tanh(), nn.Linear(hidden, 2)).double()
    return module, DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True)


def run(n: int = 512, *, hidden: int = 16, eta: float = 0.05, batch_size: int = 16, n_steps: int = 2000,
        seed: int = 0) -> dict:
    """The whole example; returns the model, data, end point and every result by name."""
    module, loader = make_problem(n, hidden=hidden, seed=seed)
    model = FlatModel(module, 1e-4, loss=nn.HuberLoss(reduction="none", delta=0.5))
    data = as_dataset(loader, n=n, seed=seed)
    with torch_threads(1):
        theta = train(model, data, eta=eta, batch_size=batch_size, n_steps=n_steps, seed=seed)
        return {"model": model, "data": data, "theta": theta,
                "D": diffusion_factor(model, theta, data),
                "hessian_top": hessian_top(model, theta, data, k=3, seed=seed),
                "hessian_trace": hessian_trace(model, theta, data, n_probes=200, seed=seed),
                "hessian_density": hessian_density(model, theta, data, n_runs=8, n_iter=40, seed=seed),
                "theory": check_theory(model, data, theta, eta=eta, batch_size=batch_size, k=3, t_total=2.0,
                                       seed=seed)}


def main() -> None:
    out = run()
    s, th = out["D"].stats(), out["theory"].params
    print(f"P = {out['model'].n_params}, N = {out['data'].n}")
    print(f"D: lambda_max {s['lambda_max']:.4g}, trace {s['trace']:.4g}, rank {s['rank']} of {s['n_params']}")
    print(f"Hessian: top {out['hessian_top']['eigenvalues']}, trace {out['hessian_trace'].params['trace']:.4g} "
          f"+- {out['hessian_trace'].params['se']:.2g}")
    cov = th["covariance"]
    print("minibatch covariance / (D/B) along D's top directions: "
          + ", ".join(f"{r:.3f} +- {e:.3f}" for r, e in zip(cov["ratio"], cov["ratio_se"])))
    print(f"noise scale tr(D)/|g|^2 = {th['noise_scale']['value']:.4g} +- {th['noise_scale']['se']:.2g}")
    ex = th["excess"]
    print(f"excess loss: SGD {ex['sgd']:.3g} +- {ex['sgd_se']:.2g}, SDE {ex['sde']:.3g} +- {ex['sde_se']:.2g} "
          f"(z = {ex['z']:.2f}); agree: {th['agree']}")


if __name__ == "__main__":
    main()
