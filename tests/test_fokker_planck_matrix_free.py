"""The face weights are built straight from the coefficients, without a sparse matrix: they equal the generator
written face by face from the formulas of operator.py's docstring (an independent dense reference), and the
explicit path never assembles the sparse generator."""
import numpy as np
import pytest

from pde_sgd import Grid, landscapes
from pde_sgd.fokker_planck import FokkerPlanck, explicit_dt_limit
from pde_sgd.fokker_planck.stencil import FaceStencil


def _anisotropic_D(g):
    """A space-dependent, anisotropic D with cross terms (positive definite: |D_ab| < sqrt(D_aa D_bb))."""
    d = g.ndim
    X = g.coords
    D = np.zeros(g.shape + (d, d))
    for a in range(d):
        D[..., a, a] = 1.0 + 0.2 * a + 0.3 * np.cos(X[a] + a)
    D[..., 0, 1] = D[..., 1, 0] = 0.3 * np.sin(X[0]) * np.cos(X[1])
    if d == 3:
        D[..., 1, 2] = D[..., 2, 1] = -0.2 * np.cos(X[2])
    return D


def _E(w, D):
    """E(w, D) = w / (exp(w / D) - 1), D at w = 0, max(-w, 0) at D = 0."""
    if D == 0:
        return max(-w, 0.0)
    return D if w == 0 else w / np.expm1(w / D)


def _log_mean(a, b):
    """(a - b) / (log a - log b), the logarithm of the ratio by log1p (accurate when a ~ b)."""
    return 0.0 if min(a, b) <= 0 else (a if a == b else (a - b) / np.log1p((a - b) / b))


def _reference_generator(g, coeffs, beta):
    """Dense L, face by face: J = (beta h_a)^-1 [E(-w, Dl) rho_c - E(w, Dl) rho_r] - beta^-1 mean over the two
    cells of the face of the central difference of D_ab rho along b (one-sided at a wall); L rho = -div J."""
    n = g.size
    L = np.zeros((n, n))
    D, flat = coeffs.D, np.arange(n).reshape(g.shape)
    for a, (h, na, per) in enumerate(zip(g.spacing, g.shape, g.periodic)):
        for c in np.ndindex(*g.shape):
            if not per and c[a] == na - 1:
                continue  # the wall
            r = list(c)
            r[a] = (c[a] + 1) % na
            r = tuple(r)
            w = -(beta * coeffs.face_df[a][c] + D[r][a, a] - D[c][a, a])
            Dl = _log_mean(D[c][a, a], D[r][a, a])
            J = np.zeros(n)
            J[flat[c]] += _E(-w, Dl) / (beta * h)
            J[flat[r]] -= _E(w, Dl) / (beta * h)
            for b, (hb, nb, perb) in enumerate(zip(g.spacing, g.shape, g.periodic)):
                if b == a:
                    continue
                for side in (c, r):
                    up, down = list(side), list(side)
                    if perb:
                        up[b], down[b], span = (side[b] + 1) % nb, (side[b] - 1) % nb, 2.0
                    else:
                        up[b], down[b] = min(side[b] + 1, nb - 1), max(side[b] - 1, 0)
                        span = float(up[b] - down[b])
                    up, down = tuple(up), tuple(down)
                    J[flat[up]] -= 0.5 * D[up][a, b] / (beta * hb * span)
                    J[flat[down]] += 0.5 * D[down][a, b] / (beta * hb * span)
            L[flat[c]] -= J / h
            L[flat[r]] += J / h
    return L


@pytest.mark.parametrize("d, bc", [(2, "neumann"), (2, ["periodic", "neumann"]), (3, "periodic")])
def test_matrix_free_weights_equal_the_generator_written_face_by_face(d, bc):
    g = Grid([-2.0] * d, [2.0] * d, [7, 6, 5][:d], bc=bc)
    beta = 1.7
    fp = FokkerPlanck(landscapes.double_well(d), g, beta=beta, D=_anisotropic_D(g))
    ref = _reference_generator(g, fp.coeffs, beta)
    scale = np.abs(ref).max()
    rho = np.random.default_rng(3).random(g.size) + 0.1
    dt = 0.5 * fp.dt_limit
    stepped, buf = rho.copy(), np.empty_like(rho)
    fp.operator.stencil.euler_steps(stepped, buf, dt, 1)  # the explicit kernel, matrix-free
    assert np.max(np.abs((stepped - rho) / dt - ref @ rho)) < 1e-13 * scale * rho.max()
    assert np.max(np.abs(fp.generator.toarray() - ref)) < 1e-13 * scale  # the lazily assembled sparse L
    # the matrix-free stability limit and monotonicity are those of the reference matrix
    assert fp.dt_limit == pytest.approx(explicit_dt_limit(_as_csr(ref)), rel=1e-13)
    off = ref - np.diag(np.diag(ref))
    assert fp.operator.monotone == bool(off.min() >= 0) and not fp.operator.monotone  # cross terms: corners < 0
    # face fluxes: -div of them is L rho
    J = fp.operator.face_fluxes(rho.reshape(g.shape))
    div = sum((J[a] - np.roll(J[a], 1, axis=a)) / h for a, h in enumerate(g.spacing))
    assert np.max(np.abs(-div.ravel() - ref @ rho)) < 1e-13 * scale * rho.max()


def _as_csr(A):
    import scipy.sparse as sp
    return sp.csr_matrix(A)


def test_diagonal_D_is_monotone_and_its_limit_is_the_reference_one():
    g = Grid([-2.0, -2.0], [2.0, 2.0], [8, 7])
    X, Y = g.coords
    fp = FokkerPlanck(landscapes.double_well(2), g, beta=2.0, D=0.5 + 0.3 * np.cos(X) ** 2)
    ref = _reference_generator(g, fp.coeffs, 2.0)
    assert fp.operator.monotone and fp.operator.stencil.axis.size == 4
    assert fp.dt_limit == pytest.approx(1.0 / np.max(-np.diag(ref)), rel=1e-13)  # M-matrix: 1 / max |L_jj|


def test_explicit_path_never_builds_the_sparse_matrix(monkeypatch):
    def refuse(self):
        raise AssertionError("the sparse generator was assembled")

    monkeypatch.setattr(FaceStencil, "to_csr", refuse)
    g = Grid([-2.0, -2.0], [2.0, 2.0], [12, 10])
    fp = FokkerPlanck(landscapes.double_well(2), g, beta=1.5, D=[[1.0, 0.3], [0.3, 0.8]])
    X, Y = g.coords
    res = fp.evolve(np.exp(-(X ** 2 + Y ** 2)), times=[0.0, 0.1, 0.2])
    assert res.params["n_steps"] > 5 and np.isfinite(fp.dt_limit) and fp.operator._L is None
    fp.current(res["rho"][-1])  # the current is matrix-free too
    assert fp.operator._L is None
    monkeypatch.undo()
    fp.evolve(res["rho"][0], times=[0.0, 0.1], method="implicit", dt=0.05)  # implicit builds it, once
    assert fp.operator._L is not None
