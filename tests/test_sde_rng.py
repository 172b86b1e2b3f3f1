"""The counter-based ziggurat normals of pde_sgd.sde.rng are standard normal, independent across paths."""
import numpy as np
from numba import njit, prange
from scipy import stats

from pde_sgd.sde.rng import fill_normals, path_keys


@njit(parallel=True)
def _draw(keys, m, start):
    out = np.empty((keys.shape[0], m))
    for p in prange(keys.shape[0]):
        fill_normals(keys[p], start, out[p])
    return out


def test_normals_are_standard_normal_and_independent():
    z = _draw(path_keys(3, 500), 2000, 0)
    x = z.ravel()
    n = x.size
    # mean, variance, skewness, excess kurtosis of N(0,1) samples have SEs 1, sqrt 2, sqrt 6, sqrt 24 over sqrt n
    assert abs(x.mean()) < 4 / np.sqrt(n)
    assert abs(x.var() - 1) < 4 * np.sqrt(2 / n)
    assert abs(stats.skew(x)) < 4 * np.sqrt(6 / n)
    assert abs(stats.kurtosis(x)) < 4 * np.sqrt(24 / n)
    assert stats.kstest(x, "norm").pvalue > 1e-3
    # the ziggurat tail beyond r = 3.4426 has the exact Gaussian mass (binomial SE)
    p = 2 * stats.norm.sf(3.442619855899)
    assert abs(np.mean(np.abs(x) > 3.442619855899) - p) < 4 * np.sqrt(p / n)
    # streams of different paths and successive normals of one path are uncorrelated (SE 1/sqrt(m))
    c_paths = np.corrcoef(z[:-1].ravel(), z[1:].ravel())[0, 1]
    c_lag = np.corrcoef(z[:, :-1].ravel(), z[:, 1:].ravel())[0, 1]
    assert abs(c_paths) < 4 / np.sqrt(z[:-1].size) and abs(c_lag) < 4 / np.sqrt(z[:, :-1].size)


def test_normals_are_addressable():
    keys = path_keys(9, 4)
    full = _draw(keys, 50, 0)
    assert np.array_equal(_draw(keys, 20, 30), full[:, 30:50])
    assert np.array_equal(path_keys(9, 2), keys[:2])
