"""The exact separable sweeps (Cole-Hopf log-sum-exp, lower envelope of parabolas): the parallel line drivers
compute every line as the serial kernels do, and the entry points take them on large sweeps with several threads."""
import numba
import numpy as np
import pytest

from pde_sgd import Grid
from pde_sgd.hj import local_entropy, moreau_envelope, separable


def _lines(seed=0, n_lines=37, n=29, nc=2):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_lines, n)), rng.normal(size=(nc, n_lines, n))


def _all_threads(run):
    """[run() on one thread, run() on all of Numba's threads]."""
    old = numba.get_num_threads()
    try:
        out = []
        for threads in (1, numba.config.NUMBA_NUM_THREADS):
            numba.set_num_threads(threads)
            out.append(run())
        return out
    finally:
        numba.set_num_threads(old)


@pytest.mark.parametrize("mode", [separable.PERIODIC, separable.MIRROR])
def test_parallel_line_drivers_equal_serial_bitwise(mode):
    L, C = _lines()
    logk = separable.gaussian_log_kernel(0.1, 0.05, 0.6)
    lse_args = (L, C, logk, -1.0, 0.1, mode)
    env_args = (L, C, 0.3, -1.0, 0.1, 1 if mode == separable.PERIODIC else 0, mode)

    def outs():
        return np.empty_like(L), np.empty((C.shape[0] + 1,) + L.shape)

    for serial, parallel, args in [(separable._lse_lines, separable._lse_parallel, lse_args),
                                   (separable._envelope_lines, separable._envelope_parallel, env_args)]:
        ref = outs()
        serial(*args, *ref, 0, L.shape[0])

        def run():
            got = outs()
            parallel(*args, *got)
            return got

        for got in _all_threads(run):
            assert all(np.array_equal(a, b) for a, b in zip(got, ref)), serial.__name__


def test_entry_points_take_the_parallel_driver_with_the_same_result(monkeypatch):
    """With PARALLEL_MIN_WORK lowered to 0, local_entropy and moreau_envelope run the parallel drivers whenever
    Numba has several threads: the results equal the one-thread results bit for bit."""
    monkeypatch.setattr(separable, "PARALLEL_MIN_WORK", 0)
    g = Grid([0.0, -2.0], [6.28, 2.0], [40, 33], bc=["periodic", "neumann"])
    f = np.cos(g.coords[0]) + 0.3 * g.coords[1] ** 2
    a, b = _all_threads(lambda: (local_entropy(f, g, 0.2, 5.0), moreau_envelope(f, g, 0.3)))
    for key in ("u", "mean_y", "grad"):
        assert np.array_equal(a[0][key], b[0][key]), key
    assert all(np.array_equal(x, y) for x, y in zip(a[1], b[1]))
