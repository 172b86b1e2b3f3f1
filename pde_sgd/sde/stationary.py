"""Does an SDE ensemble sample a given stationary density? Burn-in, autocorrelation, mixing, moments, histogram.

The samples are x (n_times, n_paths, dim) saved at equal time steps (the layout of ``simulate_sgd(...)["x"]``)
and the density rho is a field on a :class:`~pde_sgd.Grid` (e.g. ``FokkerPlanck.steady_state()`` or
``fokker_planck.exact.gaussian_density``). :func:`compare_stationary` runs, in order:

1. **Burn-in** by MSER-5 (White 1997): the saves are grouped in batches of 5 and, for a series of batch means
   Y_1..Y_n, the truncation d* = argmin_d MSER(d), MSER(d) = sum_{i>d} (Y_i - mean_{i>d} Y)^2 / (n - d)^2
   (the squared standard error of the truncated mean, up to a factor), searched over d <= n - 5. It is applied
   to the ensemble means of every coordinate and of its square (first and second moments) and the largest d*
   is the burn-in. A minimiser past half the run means the run has not settled: *not stationary*.
2. **Integrated autocorrelation time** of each coordinate (in saves), tau = 1 + 2 sum_{t=1}^{M} rho(t), with
   Sokal's automatic window: the smallest M with M >= c tau(M) (c = 5). rho is the autocovariance averaged
   over paths, every path centred by the *ensemble* mean (so paths stuck in different wells keep rho near 1
   instead of hiding behind their own means), over its value at lag 0. No such M shorter than the run means
   tau is not measurable from it. Effective sample size ESS = n_paths n_kept / max_i tau_i.
3. **Mixing**: the ensemble has mixed when every coordinate's window was found, the kept run spans at least
   ``min_tau_multiple`` (20) autocorrelation times, and the split-R-hat (Gelman-Rubin over both halves of every
   path; about 1 + tau / n_kept for stationary paths) is at most ``max_rhat`` (1.1). A slowly mixing ensemble
   is reported as such and never passes: its samples are not independent enough to test anything.
4. **Moments**: sample mean and covariance against the density's (midpoint rule on the grid), each difference
   divided by its autocorrelation-aware standard error sqrt(var(y) tau_y / (n_paths n_kept)) (y the coordinate
   or the centred product series, tau_y its own Sokal estimate); they agree when max |z| <= k.
5. **Histogram**: the L1 distance sum_b |h_b - p_b| between the sample frequencies and the density's
   probabilities over blocks of grid cells plus one bin for everything outside the box, against its null
   distribution: the same distance for ESS samples drawn exactly from p (multinomial), quantile 1 - alpha.
   Using the slowest coordinate's tau for every bin is exact for linear (OU) drifts, whose slowest mode is
   linear, and an approximation otherwise.

The verdict ``passed`` is stationary and mixed and both comparisons within their tolerances; ``message`` says
which part failed and what to do.
"""
from __future__ import annotations

import math

import numpy as np

from ..grid import Grid, require_grid
from ..results import Result
from ..validation import as_generator, finite_array, positive, positive_int

MSER_BATCH = 5


def _autocorrelation(x: np.ndarray) -> np.ndarray:
    """rho(t), t = 0..n-1, of series x (n_times, n_paths) centred by their common mean, averaged over paths."""
    n = x.shape[0]
    y = x - x.mean()
    nfft = 1 << int(math.ceil(math.log2(2 * n)))
    f = np.fft.rfft(y, nfft, axis=0)
    c = np.fft.irfft(np.abs(f) ** 2, nfft, axis=0)[:n].mean(axis=1)
    return c / c[0] if c[0] > 0 else np.r_[1.0, np.zeros(n - 1)]


def integrated_autocorrelation_time(x, *, c: float = 5.0) -> tuple[float, int, bool]:
    """tau = 1 + 2 sum_{t=1}^{M} rho(t) of series x (n_times,) or (n_times, n_paths), in units of the step.

    M is Sokal's automatic window, the smallest lag with M >= c tau(M). Returns (tau, M, found): ``found`` is
    False when no lag shorter than the series satisfies the rule (then M = n - 1 and tau is a lower bound).
    """
    x = finite_array("x", x)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"x must have shape (n_times >= 2,) or (n_times, n_paths), got {x.shape}")
    c = positive("c", c)
    taus = 2.0 * np.cumsum(_autocorrelation(x)) - 1.0  # taus[M] = 1 + 2 sum_{t=1}^M rho(t)
    ok = np.arange(taus.size) >= c * taus
    if ok.any():
        m = int(np.argmax(ok))
        return float(taus[m]), m, True
    return float(taus[-1]), taus.size - 1, False


def effective_sample_size(x, *, c: float = 5.0) -> float:
    """n_times n_paths / tau for series x (n_times,) or (n_times, n_paths) (:func:`integrated_autocorrelation_time`)."""
    x = finite_array("x", x)
    tau = integrated_autocorrelation_time(x, c=c)[0]
    return float(x.size / max(tau, 1e-300))


def mser_truncation(series, *, batch: int = MSER_BATCH) -> int:
    """MSER-``batch`` truncation point (in samples, a multiple of ``batch``) of a series (n,), n >= 5 * batch.

    Minimises MSER(d) = sum_{i>d} (Y_i - mean_{i>d} Y)^2 / (n_b - d)^2 over the batch means Y of the series,
    for d <= n_b - 5.
    """
    y = finite_array("series", series, ndim=1)
    batch = positive_int("batch", batch)
    n_b = y.size // batch
    if n_b < 5:
        raise ValueError(f"series must hold at least 5 batches of {batch} samples, got {y.size} samples")
    Y = y[: n_b * batch].reshape(n_b, batch).mean(axis=1)[::-1]   # reversed: suffix sums become prefix sums
    k = np.arange(1, n_b + 1)
    s1, s2 = np.cumsum(Y), np.cumsum(Y * Y)
    sse = np.maximum(s2 - s1 * s1 / k, 0.0)                          # sum of squares of the last k batches
    mser = (sse / k ** 2)[::-1]                                       # index d: the n_b - d batches after d
    return int(np.argmin(mser[: n_b - 4])) * batch


def split_rhat(x) -> float:
    """Split-R-hat of series x (n_times, n_paths): Gelman-Rubin over the 2 n_paths half-paths.

    sqrt(((n - 1)/n W + B/n) / W), W the mean within-half variance and B/n the variance of the half means; close
    to 1 when every path has explored the same distribution.
    """
    x = finite_array("x", x, ndim=2)
    n = x.shape[0] // 2
    if n < 2:
        raise ValueError(f"x needs at least 4 times for split-R-hat, got {x.shape[0]}")
    halves = np.concatenate([x[:n], x[x.shape[0] - n:]], axis=1)
    W = halves.var(axis=0, ddof=1).mean()
    B_n = halves.mean(axis=0).var(ddof=1)
    if W <= 0:
        return 1.0 if B_n == 0 else math.inf
    return float(math.sqrt(((n - 1) / n * W + B_n) / W))


def density_moments(grid: Grid, rho: np.ndarray) -> dict[str, np.ndarray]:
    """Mean and covariance of a density on a grid (midpoint rule)."""
    p = rho / rho.sum()
    pts = grid.points()
    w = p.ravel()
    mean = w @ pts
    dev = pts - mean
    return {"mean": mean, "cov": (dev * w[:, None]).T @ dev}


def _sample_moments(x: np.ndarray, tau: np.ndarray, c: float) -> dict[str, np.ndarray]:
    """Mean and covariance of samples (n_times, n_paths, d) with autocorrelation-aware standard errors; ``tau``
    (d,) are the coordinates' integrated autocorrelation times (Sokal window ``c``, as for the products)."""
    d, N = x.shape[2], x.shape[0] * x.shape[1]
    mean, mean_se = x.mean(axis=(0, 1)), np.sqrt(x.var(axis=(0, 1)) * tau / N)
    cov, cov_se = np.empty((d, d)), np.empty((d, d))
    dev = x - mean
    for i in range(d):
        for j in range(i, d):
            y = dev[..., i] * dev[..., j]
            cov[i, j] = cov[j, i] = y.mean()
            cov_se[i, j] = cov_se[j, i] = math.sqrt(y.var() * integrated_autocorrelation_time(y, c=c)[0] / N)
    return {"mean": mean, "mean_se": mean_se, "cov": cov, "cov_se": cov_se}


def _block_edges(grid: Grid, bin_cells: tuple[int, ...]) -> list[np.ndarray]:
    return [lo + h * np.r_[np.arange(0, n, a), n] for lo, h, n, a in zip(grid.lower, grid.spacing, grid.shape,
                                                                           bin_cells)]


def histogram_distance(points, grid: Grid, rho, *, bin_cells: int | tuple[int, ...] = 1,
                       n_eff: float | None = None, alpha: float = 1e-3, n_null: int = 1000,
                       seed: int = 0) -> dict:
    """L1 distance between the histogram of ``points`` (N, d) and the density ``rho`` on ``grid``, with its null.

    Bins are blocks of ``bin_cells`` grid cells per axis plus one bin for everything outside the box. The null
    is the distance of ``n_eff`` (default N) samples drawn exactly from the binned density (multinomial,
    ``n_null`` draws, seeded). Returns ``l1``, ``quantile`` (1 - alpha of the null), ``null`` (the draws),
    ``hist`` and ``prob`` (the binned frequencies and probabilities, outside bin last) and ``outside`` (the
    fraction of points outside the box).
    """
    grid = require_grid(grid)
    pts = finite_array("points", points, ndim=2)
    if pts.shape[1] != grid.ndim or pts.shape[0] < 1:
        raise ValueError(f"points must have shape (N >= 1, {grid.ndim}), got {pts.shape}")
    rho = _density("rho", grid, rho)
    cells, alpha, n_null, rng = _histogram_options(grid, bin_cells, alpha, n_null, seed)
    n_eff = pts.shape[0] if n_eff is None else positive("n_eff", n_eff)
    p = rho * grid.cell_volume
    for ax, a in enumerate(cells):
        p = np.add.reduceat(p, np.arange(0, grid.shape[ax], a), axis=ax)
    p = p.ravel()
    p = np.append(p, max(1.0 - p.sum(), 0.0))
    p /= p.sum()
    h = np.histogramdd(pts, bins=_block_edges(grid, cells))[0].ravel() / pts.shape[0]
    h = np.append(h, 1.0 - h.sum())
    m = max(int(round(n_eff)), 1)
    null = np.abs(rng.multinomial(m, p, size=n_null) / m - p).sum(axis=1)
    return {"l1": float(np.abs(h - p).sum()), "quantile": float(np.quantile(null, 1 - alpha)), "null": null,
            "hist": h, "prob": p, "outside": float(h[-1])}


def _histogram_options(grid: Grid, bin_cells, alpha: float, n_null: int,
                       seed) -> tuple[tuple[int, ...], float, int, np.random.Generator]:
    """Validated (bin_cells per axis, alpha in (0, 1), n_null >= 100, generator from seed)."""
    cells = (bin_cells,) * grid.ndim if np.isscalar(bin_cells) else tuple(bin_cells)
    if len(cells) != grid.ndim:
        raise ValueError(f"bin_cells must be one int or one per axis ({grid.ndim}), got {bin_cells!r}")
    cells = tuple(positive_int("bin_cells", a) for a in cells)
    alpha = positive("alpha", alpha)
    if alpha >= 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    return cells, alpha, positive_int("n_null", n_null, minimum=100), as_generator(seed)


def _density(name: str, grid: Grid, rho) -> np.ndarray:
    """A density field on ``grid``: finite, non-negative (roundoff-level negatives clipped), positive mass."""
    rho = grid.check_field(name, rho)
    top = float(np.max(np.abs(rho)))
    if rho.min() < -1e-8 * top:
        raise ValueError(f"{name} must be >= 0 (a density); its minimum is {rho.min():.3g}")
    rho = np.clip(rho, 0.0, None)
    if top == 0:
        raise ValueError(f"{name} must have positive mass, got all zeros")
    return rho / (rho.sum() * grid.cell_volume)


def _samples(samples, grid: Grid, times) -> tuple[np.ndarray, np.ndarray | None]:
    if isinstance(samples, Result):
        times = samples["times"] if times is None and "times" in samples else times
        samples = samples["x"]
    x = finite_array("samples", samples)
    if x.ndim == 2 and grid.ndim == 1:
        x = x[..., None]
    if x.ndim != 3 or x.shape[2] != grid.ndim:
        raise ValueError(f"samples must have shape (n_times, n_paths, {grid.ndim}) like simulate_sgd's 'x', "
                         f"got {x.shape}")
    if x.shape[0] < 10 * MSER_BATCH:
        raise ValueError(f"samples must hold at least {10 * MSER_BATCH} saved times, got {x.shape[0]}")
    if times is not None:
        times = finite_array("times", times, shape=(x.shape[0],))
        if np.any(np.diff(times) <= 0) or not np.allclose(np.diff(times), times[1] - times[0], rtol=1e-6):
            raise ValueError("times must be increasing and equally spaced (saves at a fixed interval)")
    return x, times


def detect_burn_in(x, *, batch: int = MSER_BATCH) -> tuple[int, bool]:
    """Burn-in (number of leading saves to drop) of samples x (n_times, n_paths, d) and whether the run settled.

    The largest MSER truncation over the ensemble means of every coordinate and of its square; the run has
    settled (second value True) when that truncation lies in the first half of the run.
    """
    x = finite_array("x", x, ndim=3)
    series = [x[..., i].mean(axis=1) for i in range(x.shape[2])] + [(x[..., i] ** 2).mean(axis=1)
                                                                      for i in range(x.shape[2])]
    d = max(mser_truncation(s, batch=batch) for s in series)
    return d, d <= x.shape[0] // 2


def compare_stationary(samples, grid: Grid, density, *, times=None, burn_in: int | None = None, k: float = 4.0,
                       alpha: float = 1e-3, bin_cells: int | tuple[int, ...] | None = None, c: float = 5.0,
                       min_tau_multiple: float = 20.0, max_rhat: float = 1.1, n_null: int = 1000,
                       seed: int = 0) -> Result:
    """Compare an SDE ensemble with a stationary density on a grid (module docstring, steps 1-5).

    Parameters
    ----------
    samples : (n_times, n_paths, dim) array saved at equal steps, or a Result with ``x`` (and ``times``), e.g.
        from :func:`pde_sgd.sde.simulate_sgd`; (n_times, n_paths) is accepted on a 1-D grid. n_times >= 50.
    grid, density : the density (grid.shape, >= 0; normalised here) and its grid, dim = grid.ndim.
    times : save times (n_times,), equally spaced (default: the Result's); only used to report times.
    burn_in : saves to drop; None detects it (MSER-5).
    k : moment tolerance in standard errors; alpha : level of the histogram null (quantile 1 - alpha).
    bin_cells : grid cells per histogram bin and axis (default: about 20 bins per axis).
    c, min_tau_multiple, max_rhat : Sokal's window constant and the mixing criteria.
    n_null, seed : draws of the histogram null and their seed.

    Returns
    -------
    Result ``"sde.stationary_comparison"`` with arrays ``tau`` (dim,), ``hist``, ``prob`` and ``l1_null``, and
    params ``passed``, ``message``, ``stationary``, ``mixed``, ``burn_in`` (saves) and ``burn_in_time``,
    ``n_kept``, ``tau_max``, ``window``, ``ess``, ``rhat``, ``moments`` (sample mean/cov with SEs, the density's,
    z-scores), ``max_z``, ``l1``, ``l1_quantile``, ``outside``.
    """
    grid = require_grid(grid)
    rho = _density("density", grid, density)
    x, times = _samples(samples, grid, times)
    k, c = positive("k", k), positive("c", c)
    cells = tuple(max(1, n // 20) for n in grid.shape) if bin_cells is None else bin_cells
    cells, alpha, n_null, _ = _histogram_options(grid, cells, alpha, n_null, seed)
    min_tau_multiple, max_rhat = positive("min_tau_multiple", min_tau_multiple), positive("max_rhat", max_rhat)
    if max_rhat < 1:
        raise ValueError(f"max_rhat must be >= 1, got {max_rhat}")
    n_times, n_paths, dim = x.shape
    if burn_in is None:
        burn, stationary = detect_burn_in(x)
    else:
        burn = positive_int("burn_in", burn_in, minimum=0)
        if burn > n_times - 4 * MSER_BATCH:
            raise ValueError(f"burn_in must leave at least {4 * MSER_BATCH} saves: in [0, {n_times - 20}], got {burn}")
        stationary = True
    kept = x[burn:]
    n_kept = kept.shape[0]
    acts = [integrated_autocorrelation_time(kept[..., i], c=c) for i in range(dim)]
    tau = np.array([a[0] for a in acts])
    found = all(a[2] for a in acts)
    tau_max = float(tau.max())
    ess = n_kept * n_paths / tau_max
    rhat = max(split_rhat(kept[..., i]) for i in range(dim))
    mixed = found and n_kept >= min_tau_multiple * tau_max and rhat <= max_rhat

    sm, dm = _sample_moments(kept, tau, c), density_moments(grid, rho)
    z_mean = (sm["mean"] - dm["mean"]) / sm["mean_se"]
    iu = np.triu_indices(dim)
    z_cov = ((sm["cov"] - dm["cov"]) / sm["cov_se"])[iu]
    max_z = float(np.max(np.abs(np.r_[z_mean, z_cov])))
    hd = histogram_distance(kept.reshape(-1, dim), grid, rho, bin_cells=cells, n_eff=ess, alpha=alpha,
                            n_null=n_null, seed=seed)
    moments_ok, hist_ok = max_z <= k, hd["l1"] <= hd["quantile"]
    passed = bool(stationary and mixed and moments_ok and hist_ok)

    step = None if times is None else float(times[1] - times[0])
    t_of = (lambda s: f"{s} saves") if step is None else (lambda s: f"{s} saves (time {s * step:.4g})")
    if not stationary:
        message = (f"not stationary: the transient (MSER-5) lasts {t_of(burn)}, past half the run of "
                   f"{n_times} saves; run longer")
    elif not mixed:
        why = [] if found else ["the autocorrelation never decays within the run (no Sokal window)"]
        if found and n_kept < min_tau_multiple * tau_max:
            why.append(f"the kept run ({n_kept} saves) is shorter than {min_tau_multiple:g} x tau = "
                       f"{min_tau_multiple * tau_max:.4g} saves")
        if rhat > max_rhat:
            why.append(f"split-R-hat {rhat:.3g} > {max_rhat:g} (paths disagree with each other)")
        message = (f"not mixed: {'; '.join(why)}; tau {'=' if found else '>='} {t_of(round(tau_max))}. The paths "
                   f"have not explored the density, so this ensemble cannot test it: run longer, or start the paths "
                   f"spread over the density")
    else:
        verdict = "pass" if passed else "fail"
        message = (f"{verdict}: moments max |z| = {max_z:.3g} ({'<=' if moments_ok else '>'} {k:g}), histogram L1 "
                   f"{hd['l1']:.4g} ({'<=' if hist_ok else '>'} null {1 - alpha:g}-quantile {hd['quantile']:.4g}); "
                   f"burn-in {t_of(burn)}, tau {tau_max:.3g} saves, ESS {ess:.4g}, split-R-hat {rhat:.3g}")
    params = {"passed": passed, "message": message, "stationary": bool(stationary), "mixed": bool(mixed),
              "burn_in": int(burn), "burn_in_time": None if step is None else burn * step,
              "burn_in_detected": burn_in is None, "n_kept": n_kept, "n_paths": n_paths,
              "tau_max": tau_max, "window_found": found, "windows": [a[1] for a in acts], "ess": ess,
              "rhat": rhat, "max_z": max_z, "k": k, "moments_ok": bool(moments_ok),
              "moments": {"sample": sm, "density": dm, "z_mean": z_mean, "z_cov": z_cov},
              "l1": hd["l1"], "l1_quantile": hd["quantile"], "alpha": alpha, "histogram_ok": bool(hist_ok),
              "outside": hd["outside"], "bin_cells": list(cells),
              "c": c, "min_tau_multiple": min_tau_multiple, "max_rhat": max_rhat, "seed": seed,
              "grid": grid}
    return Result("sde.stationary_comparison", {"tau": tau, "hist": hd["hist"], "prob": hd["prob"],
                                                "l1_null": hd["null"]}, params)
