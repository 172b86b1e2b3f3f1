"""Experiments on small real networks behind figures F5, F6, F9 and the network slice (seeded, saving Results).

Every function takes ``seed`` and ``full`` (publication setting; the quick one stays well under a minute on one
core), runs single-threaded torch (fastest for these tiny models), returns :class:`pde_sgd.Result` objects and,
with ``out`` set, saves them there (``.npz`` + ``.json``). Data: scikit-learn's bundled digits (no download).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pde_sgd import Grid, Result, beta_from_sgd
from pde_sgd.networks import build_model, capture_along_training, digits, sgd_iterates, torch_threads, track_hessian, train
from pde_sgd.networks.coupling import full_space_coupling, slice_coupling
from pde_sgd.networks.slice import make_slice, suggest_extent

OUT = Path(__file__).resolve().parent / "out"


def _save(results: list[Result], out: Path | None, names: list[str]) -> None:
    if out is not None:
        for r, n in zip(results, names):
            r.save(Path(out) / n)


def diffusion_spectra(seed: int = 0, full: bool = False, out: Path | None = OUT) -> dict[str, list[Result]]:
    """F6: capture D at 20/40/100% of SGD training of the digits MLP and CNN (all 1797 samples; the quick setting
    trains 300 steps on a seeded subset of 600)."""
    steps = 6000 if full else 300
    eta, B = 0.1, 32
    res = {}
    with torch_threads(1):
        data = digits(None if full else 600, seed=seed, device="auto")  # quick: a seeded subset of 600 digits
        for name, kw in (("mlp", {"hidden": (32,)}), ("cnn", {"channels": (4, 8)})):
            model = build_model(name, data, seed=seed, **kw)
            res[name] = capture_along_training(model, data, eta=eta, batch_size=B, n_steps=steps,
                                               fractions=(0.2, 0.4, 1.0), seed=seed, k_hessian=2, n_store=8,
                                               hessian_samples=256)
            _save(res[name], out, [f"f6_{name}_step{r.params['step']}" for r in res[name]])
    return res


F9_CONFIGS = ((0.02, 16), (0.1, 16), (0.1, 128), (0.4, 16))


def hessian_along_training(seed: int = 0, full: bool = False, out: Path | None = OUT) -> list[Result]:
    """F9: top-2 Hessian eigenvalues (Lanczos, on a fixed 256-sample subset) along SGD runs of the digits MLP
    for several (eta, B), recorded at log-spaced steps."""
    epochs = 30 if full else 4
    n_rec = 40 if full else 11
    results = []
    with torch_threads(1):
        data = digits(seed=seed, device="auto")
        for eta, B in F9_CONFIGS:
            model = build_model("mlp", data, seed=seed, hidden=(32,))
            n_steps = int(epochs * data.n / B)
            rec = np.unique(np.geomspace(1, n_steps, n_rec).round().astype(int))
            results.append(track_hessian(model, data, eta=eta, batch_size=B, n_steps=n_steps,
                                         record_steps=np.concatenate([[0], rec]), k=2, hessian_samples=256,
                                         n_iter=40 if full else 24, seed=seed))
    _save(results, out, [f"f9_eta{e}_B{b}" for e, b in F9_CONFIGS])
    return results


def long_sgd_run(seed: int = 0, full: bool = False, out: Path | None = OUT) -> Result:
    """F5: a long SGD run of the digits MLP after training: weights of 32 random coordinates at every step,
    the mini-batch gradient norm at every step and the full-data gradient norm every 10 steps; with the Welch
    spectrum of the weight increments and the autocorrelation of the weights (99% white-noise band) from
    :mod:`pde_sgd.sde.spectral` (time unit: one SGD step)."""
    burn, n = (4000, 60000) if full else (800, 3000)
    eta, B = 0.1, 16
    with torch_threads(1):
        data = digits(seed=seed, device="auto")
        model = build_model("mlp", data, seed=seed, hidden=(16,))
        theta = train(model, data, eta=eta, batch_size=B, n_steps=burn, seed=seed)
        coords = torch.as_tensor(np.random.default_rng(seed).choice(model.n_params, 32, replace=False))
        w, gnorm, full_norm = [], [], []
        full_grad = torch.func.grad(model.loss)
        for t, th, g in sgd_iterates(model, theta, data, eta=eta, batch_size=B, n_steps=n, seed=seed + 1):
            w.append(th[coords].cpu().numpy())
            if g is not None:
                gnorm.append(float(g.norm()))
            if t % 10 == 0:
                full_norm.append(float(full_grad(th, data.X, data.y).norm()))
    from pde_sgd.sde.spectral import autocorrelation, power_spectrum
    w = np.array(w)
    freqs, power, n_per = power_spectrum(w, 1.0, segment=4096 if full else 1024, increments=True)
    lags, acf_mean, band = autocorrelation(w, 2000 if full else 600)
    acf_each = np.stack([autocorrelation(w[:, i], len(lags) - 1)[1] for i in range(4)])
    res = Result("networks.long_run", {"weights": w, "batch_grad_norm": np.array(gnorm),
                                       "full_grad_norm": np.array(full_norm), "coords": coords.numpy(),
                                       "freqs": freqs, "power": power, "lags": lags, "acf_mean": acf_mean,
                                       "acf_each": acf_each},
                 {"model": model.config, "eta": eta, "batch_size": B, "burn": burn, "n_steps": n, "seed": seed,
                  "full_grad_every": 10, "acf_band_99": band, "n_periodograms": n_per})
    _save([res], out, ["f5_long_run"])
    return res


SLICE_ETA, SLICE_B = 0.05, 1
FULL_PAIRS = ((0.05, 2), (0.1, 4), (0.05, 8))  # the first two share eta N / B, the third has a 4x smaller one


def network_coupling(seed: int = 0, full: bool = False, out: Path | None = OUT) -> dict[str, Result]:
    """The slice of a trained digits MLP along its top-2 Hessian eigenvectors: f and D(x) on a grid, then
    Fokker-Planck / torchsde / restricted SGD at (eta, B) = (0.05, 1); and the full-space comparison of SGD
    with the low-rank-noise SDE for the (eta, B) pairs of FULL_PAIRS."""
    n_grid, chains = (49, 256) if full else (15, 24)
    with torch_threads(1):
        data = digits(seed=seed, device="auto")
        model = build_model("mlp", data, seed=seed, hidden=(16,))
        theta = train(model, data, eta=0.2, batch_size=32, n_steps=4000 if full else 600, seed=seed)
        sl, info = make_slice(model, theta, data, "hessian", seed=seed)
        ext = suggest_extent(info["H_eigenvalues"], info["D0"], beta_from_sgd(SLICE_ETA, SLICE_B), n_std=8.0)
        fields = sl.on_grid(Grid(-ext, ext, (n_grid, n_grid)))
        fields.params.update(H_eigenvalues=info["H_eigenvalues"], D0=info["D0"])
        coupling = slice_coupling(sl, fields, eta=SLICE_ETA, batch_size=SLICE_B, n_chains=chains,
                                  t_burn=3.0, t_sample=60.0 if full else 8.0, seed=seed)
        fullspace = full_space_coupling(model, theta, data, FULL_PAIRS, t_total=40.0 if full else 3.0,
                                        n_chains=8 if full else 4, n_factor=128 if full else 16,
                                        n_saves=100 if full else 25, seed=seed)
    res = {"fields": fields, "coupling": coupling, "full": fullspace}
    _save(list(res.values()), out, ["slice_fields", "slice_coupling", "full_coupling"])
    return res
