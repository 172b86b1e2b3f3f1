"""SDE experiments behind figures F5 (synthetic part), F10, F11, the SDE-vs-Fokker-Planck and limit-cycle figures.

Every function takes ``seed`` and ``full`` (publication setting; the quick one stays well under a minute on one
core), returns :class:`pde_sgd.Result` objects and, with ``out`` set, saves them there (``.npz`` + ``.json``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from numba import cfunc

from pde_sgd import Grid, Result, landscapes
from pde_sgd.fokker_planck import FokkerPlanck
from pde_sgd.sde import fields, simulate_sgd
from pde_sgd.sde.control import feynman_kac_value, hjb_value, simulate_controlled
from pde_sgd.sde.elastic_sgd import elastic_sgd
from pde_sgd.sde.homogenized import homogenized
from pde_sgd.sde.spectral import autocorrelation, ou_spectral_density, power_spectrum, rotation_frequency

OUT = Path(__file__).resolve().parent / "out"
J2 = np.array([[0.0, -1.0], [1.0, 0.0]])


def _save(result: Result, out: Path | None, name: str) -> Result:
    if out is not None:
        result.save(Path(out) / name)
    return result


def homogenization(seed: int = 0, full: bool = False, out: Path | None = OUT) -> Result:
    """F10: Entropy-SGD (1 replica) and Elastic-SGD (2, 8, 32 replicas) for eps in {1e-1, 1e-2, 1e-3} on the
    tilted 1-D double well against the homogenized X(s); sup-errors (mean over paths, with SE) per eps (the quick
    setting stops at eps = 3e-3)."""
    L, x0, gamma, beta, T = landscapes.double_well(1, tilt=0.1), [1.8], 0.5, 10.0, 1.5
    eps_list = [1e-1, 3e-2, 1e-2, 3e-3] + ([1e-3, 3e-4] if full else [])  # eps = 1e-3 alone is 70% of the work
    replicas = [1, 2, 8, 32]
    n_paths = 64 if full else 12
    H = homogenized(L, beta, x0, gamma=gamma, T=T, n_saves=150)
    err = np.empty((len(replicas), len(eps_list)))
    se = np.empty_like(err)
    paths = np.empty((len(replicas), len(eps_list), H["x"].shape[0]))
    for i, n_rep in enumerate(replicas):
        for j, eps in enumerate(eps_list):
            r = elastic_sgd(L, beta, x0, gamma=gamma, eps=eps, T=T, dt=0.01 * eps, n_paths=n_paths,
                            seed=seed + 100 * i + j, n_replicas=n_rep,
                            n_saves=150)
            e = np.abs(r["x"] - H["x"]).max(axis=(0, 2))
            err[i, j], se[i, j] = e.mean(), e.std(ddof=1) / np.sqrt(e.size)
            paths[i, j] = r["x"][:, 0, 0]
    slopes = np.array([np.polyfit(np.log(eps_list), np.log(err[i]), 1)[0] for i in range(len(replicas))])
    res = Result("sim.sde.homogenization", {"times": H["times"], "X": H["x"][:, 0, 0], "eps": np.array(eps_list),
                                            "replicas": np.array(replicas), "sup_error": err, "sup_error_se": se,
                                            "paths": paths, "slopes": slopes},
                 {"landscape": L.to_dict(), "x0": x0, "gamma": gamma, "beta": beta, "T": T, "n_paths": n_paths,
                  "seed": seed, "full": full})
    return _save(res, out, "sde_homogenization")


def stochastic_control(seed: int = 0, full: bool = False, out: Path | None = OUT) -> Result:
    """F11: 1-D double well from x0 = -1, terminal cost V = (x - 1)^2, beta = 4, T = 2: the HJB value, the
    optimal feedback, and V(x(T)) under SGD and under optimally controlled SGD (common noise)."""
    L, V = landscapes.double_well(1), landscapes.quadratic([[2.0]], [1.0])
    beta, T, x0 = 4.0, 2.0, -1.0
    grid = Grid(-4.0, 4.0, 800 if full else 200)
    hjb = hjb_value(L, V, beta, T=T, grid=grid, n_steps=800 if full else 200)
    n = 100_000 if full else 8_000
    run = simulate_controlled(L, hjb, V, x0, n_steps=2000, n_paths=n, seed=seed)
    fk, fk_se = feynman_kac_value(run["V_sgd"], beta)
    res = Result("sim.sde.control", {"x": hjb["x"], "hjb_times": hjb["times"], "u": hjb["u"], "alpha": hjb["alpha"],
                                     "V_sgd": run["V_sgd"], "V_controlled": run["V_controlled"],
                                     "control_cost": run["control_cost"], "J": run["J"]},
                 dict(run.params, feynman_kac=fk, feynman_kac_se=fk_se, full=full))
    return _save(res, out, "sde_control")


def linear_limit_cycle(seed: int = 0, full: bool = False, out: Path | None = OUT) -> Result:
    """F5 (synthetic) and limit cycles: dX = -(D + Q) U X dt + sqrt(2/beta D) dW, U = I, beta = 1, for
    (a) anisotropic D = diag(1, 0.2) with Q = pi J (F = (D + Q) U has complex eigenvalues), and
    (b) isotropic D = I, Q = 0 (gradient flow). Spectra of positions and increments, autocorrelations,
    the exact OU spectral density and the predicted frequency |Im lambda(F)| / 2 pi."""
    dt, n_paths = 0.01, 16 if full else 8
    n_steps = 160_000 if full else 40_000
    cases = {"anisotropic": (np.diag([1.0, 0.2]), np.pi * J2), "isotropic": (np.eye(2), np.zeros((2, 2)))}
    arrays = {}
    for k, (name, (D, Q)) in enumerate(cases.items()):
        F = D + Q
        r = simulate_sgd(landscapes.quadratic(np.eye(2)), D, 1.0, [0.0, 0.0], dt=dt, n_steps=n_steps,
                         n_paths=n_paths, seed=seed + k,
                         precondition=F, n_saves=n_steps)
        x = r["x"][1000:]
        freqs, P, _ = power_spectrum(x[:, :, 0], dt, segment=4096 if full else 2048)
        _, Pinc, _ = power_spectrum(x[:, :, 0], dt, segment=4096 if full else 2048, increments=True)
        lags, acf, band = autocorrelation(x[:, :, 0], 400)
        arrays.update({f"{name}_traj": x[:3000, 0], f"{name}_P": P, f"{name}_P_increments": Pinc,
                       f"{name}_P_exact": ou_spectral_density(F, D, 1.0, freqs)[:, 0, 0], f"{name}_acf": acf,
                       f"{name}_F": F, f"{name}_band": np.array(band)})
        arrays[f"{name}_nu_pred"] = np.array(rotation_frequency(F))
    arrays.update({"freqs": freqs, "lags": lags * dt})
    res = Result("sim.sde.limit_cycle", arrays, {"dt": dt, "n_paths": n_paths, "n_steps": n_steps, "seed": seed,
                                                 "full": full})
    return _save(res, out, "sde_limit_cycle")


A_POW = 2.0


@cfunc(fields.DIFFUSION_SIG, cache=True)
def _d_power(x, t, out):
    out[0, 0] = 1.0 + A_POW * 0.25 * (x[0] * x[0] - 1.0) ** 2


def sde_vs_fokker_planck(seed: int = 0, full: bool = False, out: Path | None = OUT) -> Result:
    """SDE histograms next to the Fokker-Planck steady state and exp(-beta f): the 2-D double well with
    anisotropic D = [[1, 0.4], [0.4, 0.5]], and the 1-D double well with D(x) = 1 + 2 f(x), beta = 3."""
    L2, L1, beta = landscapes.double_well(2), landscapes.double_well(1), 3.0
    n = 100_000 if full else 8_000
    D = np.array([[1.0, 0.4], [0.4, 0.5]])
    g2 = Grid([-2.5, -2.5], [2.5, 2.5], [60, 60])
    x2 = simulate_sgd(L2, D, beta, [0.0, 0.0], dt=0.005, n_steps=1600, n_paths=n, seed=seed, scheme="milstein")["x"][-1]
    edges = [np.linspace(-2.5, 2.5, 31)] * 2
    hist2, _ = np.histogramdd(x2, bins=edges, density=True)
    g1 = Grid(-2.5, 2.5, 200)
    x1 = simulate_sgd(L1, _d_power, beta, [0.0], dt=0.004, n_steps=2000, n_paths=n, seed=seed + 1,
                      scheme="milstein")["x"][-1, :, 0]
    hist1, e1 = np.histogram(x1, bins=np.linspace(-2.5, 2.5, 51), density=True)
    f1 = L1.on_grid(g1)
    gibbs1 = np.exp(-beta * f1)
    f2 = L2.on_grid(g2)
    gibbs2 = np.exp(-beta * (f2 - f2.min()))
    res = Result("sim.sde.vs_fp", {
        "x2": g2.axes[0], "hist2": hist2, "edges2": edges[0],
        "fp2": FokkerPlanck(L2, g2, D, beta).steady_state(), "gibbs2": gibbs2 / (gibbs2.sum() * g2.cell_volume),
        "x1": g1.axes[0], "hist1": hist1, "edges1": e1,
        "fp1": FokkerPlanck(L1, g1, (1.0 + A_POW * f1)[:, None, None], beta).steady_state(),
        "gibbs1": gibbs1 / (gibbs1.sum() * g1.cell_volume)},
        {"beta": beta, "D": D.tolist(), "a": A_POW, "n_paths": n, "seed": seed, "full": full})
    return _save(res, out, "sde_vs_fp")
