"""The matrix-free explicit step (face weights) equals the assembled CSR generator to round-off."""
import numpy as np
import pytest

from pde_sgd import Grid, landscapes
from pde_sgd.fokker_planck import FokkerPlanck
from pde_sgd.fokker_planck.evolve import _euler_steps


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
