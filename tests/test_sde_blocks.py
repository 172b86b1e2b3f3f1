"""The block (structure-of-arrays) ensemble kernel: against a plain numpy Euler-Maruyama loop on the same normals,
and the same paths bit for bit whatever the thread count, the chunk of paths or the block a path falls in."""
import numpy as np
import pytest
from numba import njit

from pde_sgd import Grid, landscapes
from pde_sgd.sde import simulate_sgd
from pde_sgd.sde.kernels import LANES
from pde_sgd.sde.rng import normal, path_keys

TILT, BETA, DT = 0.1, 2.0, 0.01
GRID = Grid([-3, -2], [3, 2], [24, 16])  # unequal axes: a transpose of the field would show


def _field_matrix(x1, x2):
    """A rotating anisotropic SPD D(x) (eigenvalues 1 and 0.3 + 0.5 sin^2 x_1)."""
    th = 0.7 * x1 + 0.4 * x2
    c, s, lam = np.cos(th), np.sin(th), 0.3 + 0.5 * np.sin(x1) ** 2
    return np.array([[c * c + lam * s * s, c * s * (1 - lam)], [c * s * (1 - lam), s * s + lam * c * c]])


def _field_values():
    X1, X2 = GRID.coords
    return np.moveaxis(_field_matrix(X1, X2), (0, 1), (-2, -1)).copy()


@njit
def _callable_D(x, t, out):
    th = 0.7 * x[0] + 0.4 * x[1]
    c, s, lam = np.cos(th), np.sin(th), 0.3 + 0.5 * np.sin(x[0]) ** 2 + 0.1 * t
    out[0, 0], out[0, 1] = c * c + lam * s * s, c * s * (1 - lam)
    out[1, 0], out[1, 1] = c * s * (1 - lam), s * s + lam * c * c


def _bilinear(vals, x):
    """Independent bilinear interpolation of cell-centred values at a point inside the centres' hull."""
    centres = (GRID.coords[0][:, 0], GRID.coords[1][0, :])
    (i, u), (j, v) = [(k := int(np.searchsorted(c, xa)) - 1, (xa - c[k]) / (c[k + 1] - c[k]))
                      for c, xa in zip(centres, x)]
    return ((1 - u) * (1 - v) * vals[i, j] + (1 - u) * v * vals[i, j + 1] + u * (1 - v) * vals[i + 1, j]
            + u * v * vals[i + 1, j + 1])


def _numpy_callable(x, t):
    out = np.empty((2, 2))
    _callable_D(np.asarray(x, dtype=float), t, out)
    return out


def _reference(factor_at, x0, n_paths, n_steps, seed):
    """Euler-Maruyama in numpy, X' = X - grad f(X) dt + sqrt(2 / beta) S(X, t) sqrt(dt) z, on the paths' normals z
    (:func:`pde_sgd.sde.rng.normal`, two per step), for the tilted double well."""
    keys = path_keys(seed, n_paths)
    out = np.empty((n_paths, 2))
    for p in range(n_paths):
        x = np.array(x0, dtype=float)
        for k in range(n_steps):
            z = np.array([normal(keys[p], 2 * k), normal(keys[p], 2 * k + 1)])
            g = np.array([x[0] * (x[0] ** 2 - 1) + TILT, x[1]])
            x = x - g * DT + np.sqrt(2 / BETA) * (factor_at(x, k * DT) @ z) * np.sqrt(DT)
        out[p] = x
    return out


A = np.array([[1.0, 0.3], [0.3, 0.5]])


def _eigen_factor(M):  # a constant D's factor: V sqrt(Lambda) from its eigen-decomposition
    lam, V = np.linalg.eigh(M)
    return V * np.sqrt(lam)


@pytest.mark.parametrize("mode", ["constant", "field", "callable"])
def test_kernel_matches_a_numpy_euler_maruyama_loop(mode):
    """A few paths and steps against the numpy loop (Cholesky of D(x) for fields and callables): a wrong
    interpolation corner, a transposed factor or a wrong noise scale would differ by far more than 1e-12."""
    D, factor_at = {"constant": (A, lambda x, t: _eigen_factor(A)),
                    "field": (_field_values(), lambda x, t: np.linalg.cholesky(_bilinear(_field_values(), x))),
                    "callable": (_callable_D, lambda x, t: np.linalg.cholesky(_numpy_callable(x, t)))}[mode]
    got = simulate_sgd(landscapes.double_well(2, tilt=TILT), D, BETA, [0.4, -0.2], dt=DT, n_steps=12, n_paths=5,
                       seed=3, grid=GRID if mode == "field" else None)["x"][-1]
    np.testing.assert_allclose(got, _reference(factor_at, [0.4, -0.2], 5, 12, 3), rtol=0, atol=1e-12)


@pytest.mark.parametrize("D, scheme", [("field", "euler"), ("field", "milstein"), ("callable", "milstein"),
                                       ("constant", "euler")])
def test_paths_do_not_depend_on_threads_chunks_or_blocks(D, scheme):
    n = 2 * LANES + 23  # two full blocks and a partial one
    grid = GRID if D == "field" else None
    D = {"field": _field_values(), "callable": _callable_D, "constant": A}[D]
    run = dict(dt=DT, n_steps=15, n_saves=3, n_paths=n, seed=7, grid=grid, scheme=scheme, noise_substeps=2)
    L = landscapes.double_well(2, tilt=TILT)
    x0 = np.random.default_rng(0).uniform(-1, 1, (n, 2))
    full = simulate_sgd(L, D, BETA, x0, threads=1, **run)["x"]
    np.testing.assert_array_equal(simulate_sgd(L, D, BETA, x0, threads=2, **run)["x"], full)
    for a, b in [(0, 1), (3, LANES + 5), (LANES - 1, n)]:  # chunks that shift every path's lane and block
        part = simulate_sgd(L, D, BETA, x0, paths=(a, b), threads=2, **run)["x"]
        np.testing.assert_array_equal(part, full[:, a:b])


def test_cfunc_and_njit_callables_give_the_same_paths():
    """A callable D (and drift) given as a numba.cfunc runs lane by lane through copies, as an @njit function
    inlined on strided lanes (jitfuncs.lanes_cfunc): the same arithmetic, so the same paths bit for bit."""
    from numba import cfunc

    from pde_sgd.diffusion import DIFFUSION_SIG
    from pde_sgd.drift import DRIFT_SIG

    @njit
    def drift(x, t, out):
        out[0], out[1] = -x[0] * (x[0] ** 2 - 1) - TILT, -x[1] + 0.3 * np.sin(t)

    run = dict(dt=DT, n_steps=10, n_saves=2, n_paths=LANES + 9, seed=4, scheme="milstein")
    a = simulate_sgd(drift, _callable_D, BETA, [0.3, 0.1], **run)["x"]
    b = simulate_sgd(cfunc(DRIFT_SIG)(drift.py_func), cfunc(DIFFUSION_SIG)(_callable_D.py_func), BETA, [0.3, 0.1],
                     **run)["x"]
    np.testing.assert_array_equal(a, b)
    assert np.all(np.isfinite(a)) and np.ptp(a[-1], axis=0).min() > 0  # paths moved apart: a real comparison


def test_singular_field_falls_back_to_the_full_factor_with_the_same_paths():
    """D = diag(1, s(x_1)) with s = 0 for x_1 <= 0: lanes there have a zero pivot, which the 2-D fast-path variant
    cannot factor, so the call is rerun with the full PSD Cholesky. The paths must equal the numpy loop with the
    exact factor diag(1, sqrt(s)) (a dropped noise component or a wrong rerun would differ by far more than 1e-12),
    whatever the thread count or the chunk of paths."""
    X1, _ = GRID.coords
    vals = np.zeros(GRID.shape + (2, 2))
    vals[..., 0, 0], vals[..., 1, 1] = 1.0, 0.5 * np.maximum(X1, 0.0)
    factor_at = lambda x, t: np.diag(np.sqrt(np.diag(_bilinear(vals, x))))  # noqa: E731
    L = landscapes.double_well(2, tilt=TILT)
    run = dict(dt=DT, n_steps=12, n_paths=6, seed=5, grid=GRID)
    got = simulate_sgd(L, vals, BETA, [-0.3, 0.2], threads=1, **run)["x"]
    np.testing.assert_allclose(got[-1], _reference(factor_at, [-0.3, 0.2], 6, 12, 5), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(simulate_sgd(L, vals, BETA, [-0.3, 0.2], threads=2, **run)["x"], got)
    np.testing.assert_array_equal(simulate_sgd(L, vals, BETA, [-0.3, 0.2], paths=(2, 5), **run)["x"], got[:, 2:5])
