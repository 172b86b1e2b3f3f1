"""Reproducibility by seed (any thread count) and bad-input errors of the SDE entry points (issue 4)."""
import math

import numba
import numpy as np
import pytest
from numba import cfunc

from pde_sgd import Grid, jitfuncs, landscapes
from pde_sgd.sde import fields, simulate_sgd

L2 = landscapes.double_well(2)
D2 = np.array([[1.0, 0.4], [0.4, 0.3]])


def _run(seed, n_paths=64, **kw):
    kw.setdefault("scheme", "milstein")
    grid = Grid([-3, -3], [3, 3], [12, 12])
    Dfield = np.broadcast_to(D2, grid.shape + (2, 2)) * (1 + 0.5 * np.cos(grid.coords[0]))[..., None, None]
    return simulate_sgd(L2, Dfield, 3.0, [0.5, 0.5], dt=0.01, n_steps=100, n_paths=n_paths, seed=seed, grid=grid,
                        n_saves=10, **kw)["x"]


def test_same_seed_same_paths_for_any_thread_count():
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        a = _run(7)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)  # all threads (2 on CI)
        b = _run(7)
    finally:
        numba.set_num_threads(old)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, _run(8))
    # path p does not depend on how many paths run beside it
    assert np.array_equal(_run(7, n_paths=16), a[:, :16])


@cfunc(fields.DIFFUSION_SIG, cache=True)
def _not_psd(x, t, out):
    out[0, 0], out[0, 1], out[1, 0], out[1, 1] = 1.0, 2.0, 2.0, 1.0


@cfunc(fields.DIFFUSION_SIG, cache=True)
def _indefinite_tiny_pivot(x, t, out):  # eigenvalues -0.207, 1.207: a skipped pivot must not hide this
    out[0, 0], out[0, 1], out[1, 0], out[1, 1] = 1e-16, 0.5, 0.5, 1.0


@cfunc(fields.DIFFUSION_SIG, cache=True)
def _not_symmetric(x, t, out):
    out[0, 0], out[0, 1], out[1, 0], out[1, 1] = 1.0, 5.0, 0.0, 1.0


@cfunc(fields.DIFFUSION_SIG, cache=True)
def _nan_where_x_positive(x, t, out):
    out[0, 0], out[0, 1], out[1, 0], out[1, 1] = 1.0, 0.0, 0.0, 1.0
    if x[0] > 0.0:
        out[1, 1] = np.nan


@cfunc(fields.DIFFUSION_SIG, cache=True)
def _indefinite_right_of_0_15(x, t, out):  # fine at x0 = (0.1, 0.2), not PSD at Milstein's support points
    out[0, 0], out[0, 1], out[1, 0], out[1, 1] = 1.0, 0.0, 0.0, (-1.0 if x[0] > 0.15 else 1.0)


def test_milstein_checks_D_at_its_support_points():
    # one step from x0: Euler evaluates D only at x0 (fine); Milstein also at ybar = x + b dt + sigma_j sqrt(dt),
    # here x0 + (~0.1, 0) with sigma = 1, dt = 0.01, where D is indefinite: that must raise, not be ignored.
    simulate_sgd(L2, _indefinite_right_of_0_15, 2.0, [0.1, 0.2], dt=0.01, n_steps=1, n_paths=4, seed=0, scheme="euler")
    with pytest.raises(ValueError, match="D\\(x\\) is not positive semi-definite at x=\\[0.2"):
        simulate_sgd(L2, _indefinite_right_of_0_15, 2.0, [0.1, 0.2], dt=0.01, n_steps=1, n_paths=4, seed=0,
                     scheme="milstein")


@cfunc(fields.DRIFT_SIG, cache=True)
def _explosive(x, t, out):
    out[0] = x[0] ** 3
    out[1] = 0.0


@pytest.mark.parametrize("kw, match", [
    (dict(dt=0.0), "dt"),
    (dict(dt=-1.0), "dt"),
    (dict(dt=5.0), "stability"),
    (dict(D=np.array([[1.0, 2.0], [2.0, 1.0]])), "positive semi-definite"),
    (dict(D=np.array([[1.0, 0.5], [0.0, 1.0]])), "symmetric"),
    (dict(D=np.eye(3)), "shape"),
    (dict(D=-1.0), "D"),
    (dict(D=_not_psd), "D\\(x\\) is not positive semi-definite"),
    (dict(D=_indefinite_tiny_pivot), "D\\(x\\) is not positive semi-definite"),
    (dict(D=_not_symmetric), "D\\(x\\) is not symmetric"),
    (dict(D=_nan_where_x_positive), "D\\(x\\) is non-finite .* at x=\\[0.1, 0.2\\]"),
    (dict(D=_nan_where_x_positive, scheme="milstein"), "D\\(x\\) is non-finite"),
    (dict(x0=[0.0, 0.0, 0.0]), "x0"),
    (dict(x0=[np.nan, 0.0]), "NaN"),
    (dict(x0=np.zeros((3, 2))), "x0"),
    (dict(n_paths=0), "n_paths"),
    (dict(beta=0.0), "beta"),
    (dict(beta=None), "beta"),
    (dict(seed=-1), "seed"),
    (dict(scheme="rk4"), "scheme"),
    (dict(n_saves=3), "n_saves"),
    (dict(n_saves=0), "n_saves"),
    (dict(landscape=_explosive, x0=[3.0, 0.0], dt=0.1), "non-finite"),
    (dict(landscape=landscapes.double_well(3)), "dim"),
])
def test_bad_input_raises_value_error(kw, match):
    args = dict(landscape=L2, D=D2, beta=2.0, x0=[0.1, 0.2], dt=0.01, n_steps=10, n_paths=4, seed=0)
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        simulate_sgd(args.pop("landscape"), args.pop("D"), args.pop("beta"), args.pop("x0"), dt=args.pop("dt"),
                     n_steps=args.pop("n_steps"), n_paths=args.pop("n_paths"), seed=args.pop("seed"), **args)


@pytest.mark.parametrize("A, ok", [
    ([[1e-16, 0.5], [0.5, 1.0]], False),  # indefinite, first pivot below tol: was accepted as diag(0, 1)
    ([[1.0, 5.0], [0.0, 1.0]], False),  # not symmetric: was factorised from the lower triangle only
    ([[1.0, np.nan], [np.nan, 1.0]], False),
    ([[0.0, 0.0], [0.0, 1.0]], True),  # semi-definite: zero column
    ([[1e-16, 1e-8], [1e-8, 1.0]], True),  # v v^T, v = (1e-8, 1): PSD with a pivot below tol
    ([[1.0, 1.0], [1.0, 1.0]], True),  # rank one, second pivot 0
])
def test_chol_psd_accepts_exactly_the_psd_matrices(A, ok):
    A = np.array(A)
    L = np.empty((2, 2))
    code = fields.chol_psd(A, L)
    assert (code == fields.D_OK) == ok
    if ok:
        np.testing.assert_allclose(L @ L.T, A, atol=1e-7)


@numba.njit
def _njit_D(x, t, out):
    out[0, 0], out[0, 1], out[1, 0], out[1, 1] = 1.0, 0.0, 0.0, 1.0 + 0.5 * math.sin(x[0])


def test_njit_callables_compiled_once():
    # an @njit D (or drift) is wrapped into a cfunc once per process, not recompiled on every simulate_sgd call
    a = simulate_sgd(L2, _njit_D, 2.0, [0.1, 0.2], dt=0.01, n_steps=5, n_paths=4, seed=0)
    n_cached = len(jitfuncs._CFUNCS)
    c1 = jitfuncs.as_cfunc("D", _njit_D, fields.DIFFUSION_SIG)
    b = simulate_sgd(L2, _njit_D, 2.0, [0.1, 0.2], dt=0.01, n_steps=5, n_paths=4, seed=0)  # the memo, not a clock, shows no recompile
    assert jitfuncs.as_cfunc("D", _njit_D, fields.DIFFUSION_SIG) is c1
    assert len(jitfuncs._CFUNCS) == n_cached
    assert np.array_equal(a["x"], b["x"])


def test_field_shape_and_beta_from_eta():
    grid = Grid([-1, -1], [1, 1], [4, 5])
    with pytest.raises(ValueError, match="shape"):
        simulate_sgd(L2, np.ones((4, 4, 2, 2)), 1.0, [0, 0], dt=0.01, n_steps=1, n_paths=1, seed=0, grid=grid)
    with pytest.raises(ValueError, match="either beta"):
        simulate_sgd(L2, 1.0, 1.0, [0, 0], dt=0.01, n_steps=1, n_paths=1, seed=0, eta=0.1, batch_size=4)
    r = simulate_sgd(L2, 1.0, None, [0, 0], dt=0.01, n_steps=1, n_paths=1, seed=0, eta=0.1, batch_size=4)
    assert r.params["beta"] == pytest.approx(80.0)


def test_runs_too_large_are_refused_before_they_start(monkeypatch):
    """Memory and work are estimated first: a MemoryError or ValueError naming the parameter and the estimate,
    not a raw numpy MemoryError or a run that never ends; a long run that fits goes ahead with its estimate."""
    from pde_sgd.driver import output_times
    from pde_sgd.sde import sgd

    run = dict(dt=0.01, seed=0)
    with pytest.raises(MemoryError, match=r"n_paths=1000000000000 .* estimated .* GB"):
        simulate_sgd(L2, 1.0, 2.0, [0.5, 0.0], n_steps=10, n_paths=10**12, **run)
    with pytest.raises(MemoryError, match=r"n_saves=1000000000000000: .* GB"):
        simulate_sgd(L2, 1.0, 2.0, [0.5, 0.0], T=1.0, n_saves=10**15, n_paths=4, **run)
    with pytest.raises(MemoryError, match=r"n_saves=1000000000000000"):
        output_times(T=1.0, n_saves=10**15)
    with pytest.raises(ValueError, match=r"n_steps=1000000000000 x n_paths=10000 .* estimated .* days"):
        simulate_sgd(L2, 1.0, 2.0, [0.5, 0.0], n_steps=10**12, n_paths=10**4, **run)
    monkeypatch.setattr(sgd, "run_paths", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("started")))
    with pytest.warns(RuntimeWarning, match=r"n_steps=10000000000 x n_paths=100 .* estimated .* hours"):
        with pytest.raises(RuntimeError, match="started"):
            simulate_sgd(L2, 1.0, 2.0, [0.5, 0.0], n_steps=10**10, n_paths=100, threads=1, **run)


@pytest.mark.parametrize("M", [[[1.0, 0.0], [0.0, -1.0]], [[1.0, 2.0], [2.0, 1.0]], [[1.0, 0.0], [0.0, 0.0]],
                               [[0.0, 1.0], [-1.0, 0.0]]])
def test_precondition_must_be_positive_definite(M):
    with pytest.raises(ValueError, match="precondition must be positive definite"):
        simulate_sgd(L2, 1.0, 2.0, [0.5, 0.0], dt=0.01, n_steps=2, n_paths=2, seed=0, precondition=M)


def test_precondition_with_an_antisymmetric_part_is_accepted():
    # M = D + Q (A-type form): only the symmetric part must be positive definite
    r = simulate_sgd(L2, 1.0, 2.0, [0.5, 0.0], dt=0.01, n_steps=2, n_paths=2, seed=0,
                     precondition=[[1.0, 3.0], [-3.0, 1.0]])
    assert np.all(np.isfinite(r["x"]))
