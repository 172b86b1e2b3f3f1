"""Captured network noise meets the continuous-time theory: Fokker-Planck, SDE (torchsde) and actual SGD.

On a 2-D slice (:mod:`.slice`) with f(x) and the projected D(x) on a grid, :func:`slice_coupling` computes

* the Fokker-Planck steady state rho_ss of rho_t = div(grad f rho + beta^-1 div(D rho)) with the real D(x)
  (:class:`pde_sgd.fokker_planck.FokkerPlanck`), its potential Phi = -beta^-1 log rho_ss and how far Phi is
  from f;
* the SGD SDE dx = -grad f dt + sqrt(2 beta^-1 D(x)) dW (Ito) run through ``torchsde`` (Euler-Maruyama) by
  :mod:`pde_sgd.sde.torch_bridge`, with grad f and D multilinearly interpolated between the cell centres and
  held constant outside the box (the convention of the Numba engine :mod:`pde_sgd.sde.fields` too);
* SGD restricted to the slice on the actual network, x_{t+1} = x_t - eta B^T g_batch(theta0 + B x_t);

with beta^-1 = eta / (2 b) and SDE time t = eta * (SGD steps). Stationary statistics are compared through
chain means: each independent path/chain gives one time average, and the standard error of a statistic is
the standard deviation of its per-chain values over sqrt(n_chains).

:func:`full_space_coupling` runs, in the full parameter space, the SDE d theta = -grad f dt +
sqrt(2 beta^-1) L dW with L (P, m) the low-rank factor of D captured at the anchor (D ~ L L^T), against SGD on
the same network, for several (eta, B) pairs, comparing the spread of the loss.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.func import grad, vmap
from tqdm.auto import tqdm

from ..grid import Grid
from ..results import Result
from ..sde.stationary import density_moments
from ..units import beta_from_sgd, noise_scale
from ..validation import finite_array, positive, positive_int
from .data import Dataset
from .models import FlatModel
from .per_sample import diffusion_factor
from .slice import LossSlice


# --- statistics over chains -------------------------------------------------------------------------------
def chain_moments(samples: np.ndarray, box: tuple | None = None) -> dict[str, np.ndarray]:
    """Mean and covariance of samples (n_times, n_chains, d), with standard errors from the spread of the
    per-chain values (chains independent; each chain's time average counts as one sample).

    ``box = (lower, upper)`` keeps only the samples inside the box (to compare with a density on a grid over
    that box, which has no mass outside it).
    """
    s = finite_array("samples", samples, ndim=3)
    n_chains = s.shape[1]
    if n_chains < 2:
        raise ValueError("need at least 2 independent chains for standard errors")
    if box is not None:
        inside = np.all((s >= np.asarray(box[0])) & (s <= np.asarray(box[1])), axis=-1)
        s = np.where(inside[..., None], s, np.nan)
        if np.any(inside.sum(0) < 2):
            raise ValueError("every chain needs at least 2 samples inside the box")
    m_c = np.nanmean(s, 0)  # (chains, d)
    dev = s - np.nanmean(s, (0, 1))
    c_c = np.nanmean(dev[..., :, None] * dev[..., None, :], 0)
    return {"mean": m_c.mean(0), "mean_se": m_c.std(0, ddof=1) / np.sqrt(n_chains),
            "cov": c_c.mean(0), "cov_se": c_c.std(0, ddof=1) / np.sqrt(n_chains)}


def compare_moments(a: dict, b: dict) -> dict[str, float]:
    """Largest |z| of the differences of means and covariance entries (SEs added in quadrature; a density
    without SE counts as exact), and the largest relative difference of the variances."""
    z_mean = np.abs(a["mean"] - b["mean"]) / np.sqrt(a.get("mean_se", 0) ** 2 + b.get("mean_se", 0) ** 2)
    iu = np.triu_indices(len(a["mean"]))
    z_cov = (np.abs(a["cov"] - b["cov"]) / np.sqrt(a.get("cov_se", 0) ** 2 + b.get("cov_se", 0) ** 2))[iu]
    rel_var = np.abs(np.diag(a["cov"]) / np.diag(b["cov"]) - 1)
    return {"max_z_mean": float(z_mean.max()), "max_z_cov": float(z_cov.max()), "max_rel_var": float(rel_var.max())}


def phi_vs_f(grid: Grid, f: np.ndarray, phi: np.ndarray, rho: np.ndarray, mass: float = 0.99) -> dict[str, float]:
    """How far the steady-state potential Phi is from f, on the cells holding ``mass`` of rho_ss.

    Both are shifted by their rho-weighted means there. Returns the weighted RMS of Phi - f, the same relative
    to the weighted RMS variation of f (0: Phi = f + const; 1: as large as f's own variation), the sup
    distance, and the distance between the minimisers of f and Phi on the grid.
    """
    f, rho = grid.check_field("f", f), grid.check_field("rho", rho)
    phi = np.asarray(phi, dtype=float)  # may be +inf where rho_ss vanishes (outside the cells compared)
    if phi.shape != grid.shape:
        raise ValueError(f"phi must have shape {grid.shape}, got {phi.shape}")
    rho = np.maximum(rho, 0.0)  # cross-diffusion undershoots carry no mass
    if not rho.sum() > 0:
        raise ValueError("rho must have positive mass")
    order = np.argsort(rho.ravel())[::-1]
    keep = order[: int(np.searchsorted(np.cumsum(rho.ravel()[order]) / rho.sum(), mass)) + 1]
    w = rho.ravel()[keep] / rho.ravel()[keep].sum()
    fv, pv = f.ravel()[keep], phi.ravel()[keep]
    diff = (pv - w @ pv) - (fv - w @ fv)
    f_rms = float(np.sqrt(w @ (fv - w @ fv) ** 2))
    if not f_rms > 0:
        raise ValueError(f"f is constant on the cells holding {mass} of rho's mass: relative_rms (Phi - f "
                         f"relative to f's variation) is undefined")
    pts = grid.points()
    return {"rms": float(np.sqrt(w @ diff ** 2)), "relative_rms": float(np.sqrt(w @ diff ** 2)) / f_rms,
            "sup": float(np.abs(diff).max()), "f_rms": f_rms,
            "argmin_distance": float(np.linalg.norm(pts[np.argmin(f)] - pts[np.argmin(phi)]))}


# --- the runs ---------------------------------------------------------------------------------------------
def sde_paths(sde, x0: np.ndarray, T: float, dt: float, n_saves: int, seed: int) -> np.ndarray:
    """Euler-Maruyama paths of a :func:`pde_sgd.sde.torch_bridge.make_sde` module from x0 (n_paths, d) at
    n_saves + 1 equally spaced times in [0, T], shape (n_saves + 1, n_paths, d) (:func:`torch_bridge.run`)."""
    from ..sde.torch_bridge import run
    x0 = finite_array("x0", x0, ndim=2)
    return run(sde, x0, T=T, dt=dt, n_paths=x0.shape[0], seed=seed, n_saves=n_saves)["x"]


def torchsde_stationary(sde, x0: np.ndarray, *, dt: float, t_burn: float, t_sample: float, n_saves: int,
                        seed: int) -> np.ndarray:
    """:func:`sde_paths` from x0 (n_paths, d); the states at ``n_saves`` equally spaced times in
    (t_burn', t_burn' + t_sample], t_burn' >= t_burn, shape (n_saves, n_paths, d)."""
    t_sample = positive("t_sample", t_sample)
    t_burn = positive("t_burn", t_burn, allow_zero=True)
    n_saves = positive_int("n_saves", n_saves)
    n_burn = int(np.ceil(n_saves * t_burn / t_sample))
    x = sde_paths(sde, x0, n_burn * t_sample / n_saves + t_sample, dt, n_burn + n_saves, seed)
    return x[n_burn + 1:]


def slice_sgd(sl: LossSlice, x0: np.ndarray, *, eta: float, batch_size: int, n_steps: int, burn: int,
              save_every: int, seed: int, progress: bool = False) -> np.ndarray:
    """Independent SGD chains restricted to the slice, from x0 (n_chains, 2); iterates after ``burn`` steps at
    every ``save_every``-th step, shape (n_saves, n_chains, 2). Batches: b samples drawn with replacement per
    chain and step from a seeded torch Generator, so that the batch-gradient covariance is exactly D / b, the
    noise of the SDE at beta = 2 b / eta (without replacement it would be D / b (N - b) / (N - 1))."""
    eta, B = positive("eta", eta), positive_int("batch_size", batch_size)
    n_steps, burn, every = (positive_int(n, v, minimum=m) for n, v, m in
                            (("n_steps", n_steps, 1), ("burn", burn, 0), ("save_every", save_every, 1)))
    if burn >= n_steps:
        raise ValueError(f"burn must be < n_steps={n_steps}, got {burn}")
    x = torch.as_tensor(finite_array("x0", x0, ndim=2), dtype=sl.theta0.dtype, device=sl.theta0.device)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    N, c = sl.data.n, x.shape[0]
    out = []
    for t in tqdm(range(1, n_steps + 1), disable=not progress, desc="slice SGD", leave=False):
        idx = torch.randint(0, N, (c, B), generator=gen).to(x.device)
        x = x - eta * sl.batch_gradient(x, idx)
        if t > burn and (t - burn) % every == 0:
            out.append(x.cpu().numpy())
    return np.array(out)


def slice_coupling(sl: LossSlice, fields: Result, *, eta: float, batch_size: int, n_chains: int = 64,
                   t_burn: float = 5.0, t_sample: float = 40.0, sde_dt: float | None = None, seed: int = 0,
                   progress: bool = False) -> Result:
    """Fokker-Planck steady state, torchsde SDE and restricted SGD on the slice ``fields`` (from
    :meth:`LossSlice.on_grid`), at beta = 2 b / eta.

    The SDE runs ``n_chains`` paths with step ``sde_dt`` (default eta / 4); SGD runs ``n_chains`` chains of
    (t_burn + t_sample) / eta steps; both start at the anchor x = 0 and are sampled after t_burn.
    Returns Result ``"networks.slice_coupling"`` with the fields, ``rho_ss``, ``phi``, the SDE and SGD samples
    and a 2-D histogram of each, and params holding the Phi-vs-f distances and the moment comparisons (the SDE
    and SGD against rho_ss use only their samples inside the grid's box, where rho_ss lives; SDE against SGD
    uses all samples).
    """
    grid = fields.params["grid"]
    beta = beta_from_sgd(eta, batch_size)
    from ..fokker_planck import FokkerPlanck
    fp = FokkerPlanck(fields["f"], grid, fields["D"], beta)
    rho = fp.steady_state()
    phi = fp.potential(rho)
    dist = phi_vs_f(grid, fields["f"], phi, rho)
    dt = eta / 4 if sde_dt is None else positive("sde_dt", sde_dt)
    n_saves = 200
    from ..sde.torch_bridge import make_sde
    sde = make_sde(fields["grad_f"], fields["D"], beta, grid=grid, drift_grid=grid, device=str(sl.theta0.device))
    x0 = np.zeros((positive_int("n_chains", n_chains, minimum=2), 2))
    sde_x = torchsde_stationary(sde, x0, dt=dt, t_burn=t_burn, t_sample=t_sample, n_saves=n_saves, seed=seed)
    burn, n_steps = int(round(t_burn / eta)), int(round((t_burn + t_sample) / eta))
    every = max(1, (n_steps - burn) // n_saves)
    sgd_x = slice_sgd(sl, np.zeros((n_chains, 2)), eta=eta, batch_size=batch_size, n_steps=n_steps, burn=burn,
                      save_every=every, seed=seed, progress=progress)
    m_fp, m_sde, m_sgd = density_moments(grid, rho), chain_moments(sde_x), chain_moments(sgd_x)
    box = (grid.lower, grid.upper)
    m_sde_in, m_sgd_in = chain_moments(sde_x, box), chain_moments(sgd_x, box)
    edges = [np.linspace(lo, hi, n + 1) for lo, hi, n in zip(grid.lower, grid.upper, grid.shape)]
    hist = {name: np.histogram2d(s[..., 0].ravel(), s[..., 1].ravel(), bins=edges, density=True)[0]
            for name, s in (("sde", sde_x), ("sgd", sgd_x))}
    inside = {name: float(np.mean(np.all((s >= grid.lower) & (s <= grid.upper), axis=-1)))
              for name, s in (("sde", sde_x), ("sgd", sgd_x))}
    params = dict(fields.params, eta=eta, batch_size=batch_size, beta=beta, sde_dt=dt, n_chains=n_chains,
                  t_burn=t_burn, t_sample=t_sample, seed=seed, phi_vs_f=dist, fraction_inside_box=inside,
                  moments={"fp": m_fp, "sde": m_sde, "sgd": m_sgd, "sde_inside": m_sde_in, "sgd_inside": m_sgd_in},
                  sde_vs_sgd=compare_moments(m_sde, m_sgd), sde_vs_fp=compare_moments(m_sde_in, m_fp),
                  sgd_vs_fp=compare_moments(m_sgd_in, m_fp))
    arrays = {"f": fields["f"], "grad_f": fields["grad_f"], "D": fields["D"], "rho_ss": rho, "phi": phi,
              "sde_x": sde_x, "sgd_x": sgd_x, "sde_hist": hist["sde"], "sgd_hist": hist["sgd"]}
    return Result("networks.slice_coupling", arrays, params)


def _sgd_chains(model: FlatModel, theta0: torch.Tensor, data: Dataset, eta: float, B: int | None, n_steps: int,
                save_at: set[int], c: int, seed: int, progress: bool) -> np.ndarray:
    """Losses on ``data`` at the steps in ``save_at`` of ``c`` SGD chains from theta0 (B None: full-batch GD)."""
    theta = theta0.expand(c, -1).clone()
    gen = torch.Generator(device="cpu").manual_seed(seed)
    g_batch = vmap(grad(model.loss))
    g_full = vmap(grad(model.loss), in_dims=(0, None, None))
    f_loss = vmap(model.loss, in_dims=(0, None, None))
    rec = []
    for t in tqdm(range(1, n_steps + 1), disable=not progress, desc=f"SGD eta={eta} B={B}", leave=False):
        with torch.no_grad():
            if B is None:
                theta = theta - eta * g_full(theta, data.X, data.y)
            else:
                # with replacement: batch-gradient covariance D / B, as in the SDE (see slice_sgd)
                idx = torch.randint(0, data.n, (c, B), generator=gen).to(theta.device)
                theta = theta - eta * g_batch(theta, data.X[idx], data.y[idx])
            if t in save_at:
                rec.append(f_loss(theta, data.X, data.y).cpu().numpy())
    return np.array(rec)


def full_space_coupling(model: FlatModel, theta_star: torch.Tensor, data: Dataset,
                        pairs: Sequence[tuple[float, int]], *, t_total: float = 20.0, n_chains: int = 4,
                        n_factor: int = 64, n_saves: int = 50, seed: int = 0, progress: bool = False) -> Result:
    """SGD vs the low-rank-noise SDE in the full parameter space, for each (eta, B) in ``pairs``.

    All runs start at ``theta_star`` (e.g. a trained network) and last SDE time ``t_total`` (SGD: t_total / eta
    steps; SDE: Euler-Maruyama with dt = eta and the rank-``n_factor`` factor L of D captured at theta_star,
    D ~ L L^T, held fixed). Because theta_star need not be a minimum, the loss of each noisy run is compared
    with that of noise-free gradient descent from theta_star at the same times (same eta): the *excess loss*
    f(theta_t) - f(theta_t^GD) is the part the noise causes. It is recorded at ``n_saves`` times over the second
    half of the run. Returns Result ``"networks.full_coupling"`` with ``excess_sgd``/``excess_sde``
    (n_pairs, n_saves, n_chains) and ``loss_gd`` (n_pairs, n_saves), and params holding per pair the mean and
    standard deviation (spread) of the excess loss, their standard errors over chains, the noise scale
    eta N / B and the locally quadratic prediction E[excess] = beta^-1 tr(D) / 2.
    """
    from ..sde.torch_bridge import LowRank, make_sde
    pairs = [(positive("eta", e), positive_int("batch_size", b)) for e, b in pairs]
    if not pairs:
        raise ValueError("pairs must hold at least one (eta, batch_size)")
    if theta_star.dtype != torch.float64:
        raise ValueError(f"theta_star must be float64 (the torchsde bridge runs in float64), got {theta_star.dtype}")
    c = positive_int("n_chains", n_chains, minimum=2)
    n_saves = positive_int("n_saves", n_saves)
    Dfac = diffusion_factor(model, theta_star, data.X, data.y, n_vectors=n_factor)
    L = Dfac.factor()
    f_loss = vmap(model.loss, in_dims=(0, None, None))
    full_grad = vmap(grad(model.loss), in_dims=(0, None, None))
    ex_sgd, ex_sde, gd = [], [], []
    summary = []
    for k, (eta, B) in enumerate(pairs):
        every = max(1, int(round(t_total / eta)) // (2 * n_saves))  # save every `every` steps ...
        n_steps = 2 * n_saves * every                              # ... over the second half of the run
        steps = [n_saves * every + j * every for j in range(1, n_saves + 1)]
        ref = _sgd_chains(model, theta_star, data, eta, None, n_steps, set(steps), 1, seed, progress)[:, 0]
        loss_sgd = _sgd_chains(model, theta_star, data, eta, B, n_steps, set(steps), c, seed + k, progress)
        beta = beta_from_sgd(eta, B)
        sde = make_sde(lambda th: full_grad(th, data.X, data.y), LowRank(L.cpu().numpy()), beta,
                       dim=model.n_params, device=str(theta_star.device))
        x0 = np.broadcast_to(theta_star.cpu().numpy(), (c, model.n_params))
        xs = sde_paths(sde, x0, n_steps * eta, eta, 2 * n_saves, seed + 1000 + k)
        with torch.no_grad():
            loss_sde = np.stack([f_loss(torch.as_tensor(x, device=theta_star.device), data.X, data.y).cpu().numpy()
                                 for x in xs[n_saves + 1:]])
        gd.append(ref)
        ex_sgd.append(loss_sgd - ref[:, None])
        ex_sde.append(loss_sde - ref[:, None])
        row = {"eta": eta, "batch_size": B, "noise_scale": noise_scale(eta, data.n, B),
               "noise_scale_approx": eta * data.n / B, "beta": beta,
               "predicted_excess": Dfac.stats()["trace"] / (2 * beta)}
        for name, arr in (("sgd", ex_sgd[-1]), ("sde", ex_sde[-1])):
            per_chain_mean, per_chain_std = arr.mean(0), arr.std(0)
            row[name] = {"excess_mean": float(per_chain_mean.mean()),
                         "excess_mean_se": float(per_chain_mean.std(ddof=1) / np.sqrt(c)),
                         "spread": float(per_chain_std.mean()), "spread_se": float(per_chain_std.std(ddof=1) / np.sqrt(c))}
        summary.append(row)
    params = {"model": model.config, "data": {"name": data.name, **data.config}, "pairs": pairs,
              "t_total": t_total, "sde": "pde_sgd.sde.torch_bridge (torchsde Euler, dt = eta)", "n_chains": c,
              "n_factor": L.shape[1], "seed": seed,
              "factor_trace_fraction": float(Dfac.eigenvalues[:L.shape[1]].sum() / Dfac.eigenvalues.sum()),
              "summary": summary}
    return Result("networks.full_coupling", {"excess_sgd": np.array(ex_sgd), "excess_sde": np.array(ex_sde),
                                             "loss_gd": np.array(gd)}, params)
