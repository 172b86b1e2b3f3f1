"""The kernel helpers against independent references where the other tests compare the code with itself: the
SplitMix64 words against the published test vector, Brownian increments made of several noise substeps, a D
field met outside the hull of its cell centres, and a 3-D D(x) (the general PSD Cholesky, not the 2-D fast path)."""
import numpy as np
import pytest
from numba import njit

from pde_sgd import Grid, landscapes
from pde_sgd.sde import simulate_sgd
from pde_sgd.sde.rng import normal, path_keys, raw_word

BETA, DT = 2.0, 0.01


def test_raw_words_are_splitmix64():
    # SplitMix64 seeded with 0 (Vigna's reference code): its first outputs
    expected = [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]
    assert [int(raw_word(np.uint64(0), n)) for n in range(3)] == expected


def _euler(grad, factor_at, x0, n_paths, n_steps, seed, substeps=1):
    """Euler-Maruyama in numpy, X' = X - grad f(X) dt + sqrt(2 / beta) S(X) dW with dW_j = sqrt(dt / s) sum_r
    z[(k s + r) m + j] (substep r of step k uses the m normals after those of the substeps before)."""
    keys = path_keys(seed, n_paths)
    m = len(x0)
    out = np.empty((n_paths, m))
    for p in range(n_paths):
        x = np.array(x0, dtype=float)
        for k in range(n_steps):
            z = np.array([normal(keys[p], k * m * substeps + i) for i in range(m * substeps)]).reshape(substeps, m)
            dW = np.sqrt(DT / substeps) * z.sum(axis=0)
            x = x - grad(x) * DT + np.sqrt(2 / BETA) * factor_at(x) @ dW
        out[p] = x
    return out


def _clamped_bilinear(grid, vals, x):
    """Bilinear interpolation of cell-centred values, held constant beyond the first and last centres."""
    idx, wts = [], []
    for a, xa in enumerate(x):
        c = grid.axes[a]
        xa = min(max(xa, c[0]), c[-1])
        i = min(int(np.searchsorted(c, xa, side="right")) - 1, len(c) - 2)
        idx.append(i)
        wts.append((xa - c[i]) / (c[i + 1] - c[i]))
    (i, u), (j, v) = zip(idx, wts)
    return ((1 - u) * (1 - v) * vals[i, j] + (1 - u) * v * vals[i, j + 1] + u * (1 - v) * vals[i + 1, j]
            + u * v * vals[i + 1, j + 1])


@pytest.mark.parametrize("substeps", [1, 3])
def test_field_beyond_the_centres_and_noise_substeps(substeps):
    """Paths started near the box's upper corner spend steps beyond the last cell centres (held constant there);
    with substeps > 1 each increment is a sum of finer normals in a fixed layout."""
    grid = Grid([-1.0, -2.0], [1.0, 1.0], [5, 7])  # unequal axes and spacings
    X1, X2 = grid.coords
    vals = np.zeros(grid.shape + (2, 2))
    vals[..., 0, 0], vals[..., 1, 1] = 1 + 0.5 * X1 + 0.1 * X2, 0.6 + 0.3 * np.sin(2 * X2)
    vals[..., 0, 1] = vals[..., 1, 0] = 0.2 * X1 * X2
    L = landscapes.quadratic(np.diag([0.5, 0.8]))
    x0 = [0.85, 0.8]  # the last centres are at 0.8 and 0.786
    got = simulate_sgd(L, vals, BETA, x0, dt=DT, n_steps=15, n_paths=6, seed=4, grid=grid,
                       noise_substeps=substeps)["x"][-1]
    ref = _euler(lambda x: np.diag([0.5, 0.8]) @ x, lambda x: np.linalg.cholesky(_clamped_bilinear(grid, vals, x)),
                 x0, 6, 15, 4, substeps)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)


@njit
def _D3(x, t, out):
    out[:, :] = 0.0
    out[0, 0], out[1, 1], out[2, 2] = 1.0 + 0.5 * np.sin(x[0]), 0.8, 0.5 + 0.2 * np.cos(x[2])
    out[0, 1] = out[1, 0] = 0.3
    out[1, 2] = out[2, 1] = -0.2 + 0.1 * x[1]


def test_three_dimensional_callable_D_uses_the_cholesky_factor():
    x0 = [0.3, -0.2, 0.5]
    got = simulate_sgd(landscapes.quadratic(np.eye(3)), _D3, BETA, x0, dt=DT, n_steps=12, n_paths=4, seed=2)["x"]

    def factor(x):
        out = np.empty((3, 3))
        _D3(np.asarray(x, dtype=float), 0.0, out)
        return np.linalg.cholesky(out)

    np.testing.assert_allclose(got[-1], _euler(lambda x: x, factor, x0, 4, 12, 2), rtol=0, atol=1e-12)


def test_non_symmetric_precondition_multiplies_the_gradient():
    """Drift -M grad f with M = D + Q (Q antisymmetric): M^T instead of M would turn the rotation around."""
    M = np.array([[1.0, 0.7], [-0.7, 0.5]])
    A = np.array([[2.0, 0.3], [0.3, 1.0]])
    x0 = [0.6, -0.4]
    got = simulate_sgd(landscapes.quadratic(A), 0.3, BETA, x0, dt=DT, n_steps=10, n_paths=3, seed=6,
                       precondition=M)["x"][-1]
    ref = _euler(lambda x: M @ A @ x, lambda x: np.sqrt(0.3) * np.eye(2), x0, 3, 10, 6)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)
