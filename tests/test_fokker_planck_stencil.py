"""The matrix-free explicit step (face weights) equals the assembled CSR generator to round-off."""
import numba
import numpy as np
import pytest

from pde_sgd import Grid, landscapes
from pde_sgd.fokker_planck import FokkerPlanck
from pde_sgd.fokker_planck import evolve as ev
from pde_sgd.fokker_planck.evolve import _euler_steps
from pde_sgd.fokker_planck.stencil import FaceStencil


def _grid(d, bc):
    n = [13, 10, 7][:d]
    return Grid([-2.0] * d, [2.0] * d, n, bc=bc)


def _cases(d):
    """D specs: isotropic, anisotropic constant, scalar field, and (d > 1) a cross-diffusion matrix field."""
    def field(g):
        x = g.coords[0]
        return 0.5 + 0.3 * np.sin(x) ** 2

    def cross(g):
        x = g.coords[0]
        M = np.zeros(g.shape + (d, d))
        for a in range(d):
            M[..., a, a] = 1.0 + 0.2 * a + 0.3 * np.cos(x)
        M[..., 0, 1] = M[..., 1, 0] = 0.4 * np.sin(x)  # |D01| < sqrt(D00 D11): positive definite
        return M
    out = [("isotropic", lambda g: 0.7), ("anisotropic", lambda g: np.diag(np.linspace(0.4, 1.3, d))),
           ("field", field)]
    return out + ([("cross", cross)] if d > 1 else [])


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("bc", ["periodic", "neumann"])
def test_stencil_step_equals_csr_product(d, bc):
    rng = np.random.default_rng(d)
    g = _grid(d, bc)
    for name, spec in _cases(d):
        fp = FokkerPlanck(landscapes.double_well(d), g, beta=1.7, D=spec(g))
        L = fp.generator
        assert (fp.operator.stencil.diagonal is None) == (name == "cross")  # fused diagonal kernel vs general
        rho = rng.random(g.size) + 0.1
        dt = 0.5 * fp.dt_limit
        a, b, buf = rho.copy(), rho.copy(), np.empty_like(rho)
        fp.operator.stencil.euler_steps(a, buf, dt, 1)
        assert np.max(np.abs(a - (rho + dt * (L @ rho)))) < 1e-13 * np.max(np.abs(rho)), (name, bc, d)
        fp.operator.stencil.euler_steps(a, buf, dt, 7)  # an odd count too, against the CSR kernel
        _euler_steps(L.indptr, L.indices, L.data, b, buf, dt, 8)
        assert np.max(np.abs(a - b)) < 1e-12 * np.max(np.abs(rho)), (name, bc, d)


def test_stencil_reads_nearest_neighbours_only_and_counts_terms():
    """Diagonal D: two face terms per axis (2 d weights per cell); cross diffusion adds the four corners."""
    g = _grid(2, "periodic")
    st = FokkerPlanck(landscapes.double_well(2), g, beta=1.0, D=0.5).operator.stencil
    assert st.axis.size == 4 and st.bytes_per_cell_step == 48
    st_x = FokkerPlanck(landscapes.double_well(2), g, beta=1.0, D=[[1.0, 0.3], [0.3, 1.0]]).operator.stencil
    assert st_x.axis.size == 12 and np.abs(st_x.offsets).max() == 1


@pytest.mark.parametrize("bc", ["periodic", "neumann"])
@pytest.mark.parametrize("cross", [False, True])
def test_stencil_conserves_mass(bc, cross):
    g = Grid([-3.0, -3.0], [3.0, 3.0], [40, 33], bc=bc)
    X, Y = g.coords
    D = np.array([[1.0, 0.4], [0.4, 0.7]]) if cross else 0.5 + 0.4 * np.cos(X) ** 2  # general / fused kernel
    fp = FokkerPlanck(landscapes.double_well(2), g, beta=2.0, D=D)
    rho0 = np.exp(-((X - 1) ** 2 + Y ** 2))
    res = fp.evolve(rho0, times=[0.0, 0.5, 1.0])
    assert res.params["n_steps"] > 100
    assert np.max(np.abs(res["mass"] / res["mass"][0] - 1.0)) < 1e-12


@pytest.mark.parametrize("d, name", [(1, "field"), (2, "anisotropic"), (2, "cross"), (3, "field"), (3, "cross")])
def test_parallel_driver_equals_serial_bitwise_for_any_thread_count(d, name):
    """The parallel step (blocks of rows) computes every row as the serial one does: the same bits with one thread
    and with all, and both equal to the CSR product to round-off."""
    g = _grid(d, "neumann" if d == 3 else "periodic")
    fp = FokkerPlanck(landscapes.double_well(d), g, beta=1.3, D=dict(_cases(d))[name](g))
    st, L, dt = fp.operator.stencil, fp.generator, 0.5 * fp.dt_limit
    rho = np.random.default_rng(5).random(g.size) + 0.1
    serial = rho.copy()
    st.euler_steps(serial, np.empty_like(rho), dt, 5)
    old = numba.get_num_threads()
    runs = []
    try:
        for threads in (1, numba.config.NUMBA_NUM_THREADS):
            numba.set_num_threads(threads)
            runs.append(rho.copy())
            st.euler_steps(runs[-1], np.empty_like(rho), dt, 5, parallel=True)
    finally:
        numba.set_num_threads(old)
    assert all(np.array_equal(r, serial) for r in runs)
    ref = rho.copy()
    for _ in range(5):
        ref = ref + dt * (L @ ref)
    assert np.max(np.abs(serial - ref)) < 1e-13 * np.max(np.abs(rho))


def test_evolve_takes_the_parallel_driver_on_large_grids_with_the_same_result(monkeypatch):
    """evolve(threads=all) switches to the parallel step from PARALLEL_MIN_CELLS cells on (lowered here): the
    snapshots equal those of a one-thread run bit for bit."""
    calls = []
    monkeypatch.setattr(ev, "PARALLEL_MIN_CELLS", 16)
    g = Grid([-3.0, -3.0], [3.0, 3.0], [24, 20])
    fp = FokkerPlanck(landscapes.double_well(2), g, beta=2.0, D=[[1.0, 0.3], [0.3, 0.8]])
    original = FaceStencil.euler_steps

    def recording(self, *args, parallel):
        calls.append(parallel)
        original(self, *args, parallel=parallel)

    monkeypatch.setattr(FaceStencil, "euler_steps", recording)
    rho0 = np.exp(-np.sum((np.stack(g.coords, -1) - [1.0, 0.0]) ** 2, axis=-1))
    one = fp.evolve(rho0, times=[0.0, 0.1, 0.2], threads=1)["rho"]
    every = fp.evolve(rho0, times=[0.0, 0.1, 0.2], threads=numba.config.NUMBA_NUM_THREADS)["rho"]
    assert np.array_equal(one, every)
    assert calls[0] is False and calls[-1] is (numba.config.NUMBA_NUM_THREADS > 1)
