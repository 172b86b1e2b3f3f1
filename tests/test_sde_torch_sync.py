"""The torchsde bridge queues device work only: no host sync (``.item()``, ``bool``/``float``/``int`` of a
tensor, ``.tolist()``, ``.numpy()``) inside f or g during sdeint; a D that fails (non-finite, indefinite) is
reported once after the run; the closed-form 2x2 factor is the Cholesky factor."""
import numpy as np
import pytest
import torch

from pde_sgd import Grid, landscapes
from pde_sgd.sde import torch_bridge as tb

L = landscapes.double_well(2)
GRID = Grid([-2.5, -2.5], [2.5, 2.5], [10, 10])
DFIELD = np.einsum("...,ij->...ij", 1.0 + 0.5 * np.sin(GRID.coords[0]) ** 2, [[1.0, 0.4], [0.4, 0.5]])
SYNCS = ("item", "__bool__", "__float__", "__int__", "__index__", "tolist", "numpy")


def _rotating_D(y):
    """R diag(1, 0.3) R^T, R the rotation by x_1 (torch, batched)."""
    c, s = torch.cos(y[:, 0]), torch.sin(y[:, 0])
    D = torch.empty(y.shape[0], 2, 2, dtype=y.dtype, device=y.device)
    D[:, 0, 0], D[:, 1, 1] = c * c + 0.3 * s * s, s * s + 0.3 * c * c
    D[:, 0, 1] = D[:, 1, 0] = 0.7 * c * s
    return D


def _three_D(y):
    return torch.diag_embed(1.0 + y[:, [0, 1, 0]] ** 2)


@pytest.mark.parametrize("case", ["field", "callable", "callable_3d", "constant", "lowrank", "grad_field"])
def test_no_host_sync_inside_f_and_g(case, monkeypatch):
    kw, drift, D = {}, L, DFIELD
    if case == "field":
        kw = dict(grid=GRID)
    elif case == "callable":
        D = _rotating_D
    elif case == "callable_3d":
        drift, D = landscapes.double_well(3), _three_D
    elif case == "constant":
        D = np.array([[1.0, 0.4], [0.4, 0.5]])
    elif case == "lowrank":
        D = tb.LowRank(np.array([[1.0], [0.6]]))
    else:
        drift, D, kw = L.grad_on_grid(GRID), 1.0, dict(drift_grid=GRID)
    sde = tb.make_sde(drift, D, 3.0, device="cpu", **kw)
    calls, inside = [], [False]
    for name in SYNCS:
        original = getattr(torch.Tensor, name)

        def spy(self, *a, _name=name, _original=original, **k):
            if inside[0]:
                calls.append(_name)
            return _original(self, *a, **k)
        monkeypatch.setattr(torch.Tensor, name, spy)
    for name in ("f", "g"):
        method = getattr(sde, name)

        def watched(t, y, _method=method):
            inside[0] = True
            try:
                return _method(t, y)
            finally:
                inside[0] = False
        monkeypatch.setattr(sde, name, watched)
    x = tb.run(sde, np.full(sde.dim, 0.3), T=0.1, dt=0.01, n_paths=64, seed=0)["x"]
    assert np.isfinite(x).all() and x.shape == (2, 64, sde.dim)
    assert calls == []


def test_the_spy_sees_a_sync():
    """The test above can fail: a g with a Python branch on a tensor is seen."""
    def syncing_D(y):
        return torch.eye(2, dtype=y.dtype).expand(y.shape[0], 2, 2) * (2.0 if bool((y > 0).any()) else 1.0)
    calls = []
    original = torch.Tensor.__bool__

    def spy(self):
        calls.append("__bool__")
        return original(self)
    sde = tb.make_sde(L, syncing_D, 3.0, device="cpu")
    torch.Tensor.__bool__ = spy
    try:
        sde.g(0.0, torch.zeros(4, 2, dtype=torch.float64))
    finally:
        torch.Tensor.__bool__ = original
    assert calls == ["__bool__"]


def test_closed_form_2x2_factor_is_the_cholesky_factor():
    gen = torch.Generator().manual_seed(0)
    A = torch.randn(200, 2, 2, generator=gen, dtype=torch.float64)
    D = A @ A.transpose(1, 2)
    D[:5] = torch.tensor([[1.0, 1.0], [1.0, 1.0]], dtype=torch.float64)   # rank one: the jitter's role
    checks = tb.NoiseChecks("cpu")
    got = tb.factor(D, checks, 2.0)
    tr = torch.diagonal(D, dim1=-2, dim2=-1).sum(-1)
    want = 2.0 * torch.linalg.cholesky(D + 1e-12 * tr[:, None, None] * torch.eye(2, dtype=torch.float64))
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    assert not checks.flags.any()
    checks.raise_if_failed()


@pytest.mark.parametrize("bad, message", [("nan", "non-finite"), ("indefinite", "not positive semi-definite"),
                                          ("negative", "not positive semi-definite")])
@pytest.mark.parametrize("dim", [2, 3])
def test_a_failing_D_is_reported_after_the_run(bad, message, dim):
    def bad_D(y):
        D = torch.eye(dim, dtype=y.dtype).expand(y.shape[0], dim, dim).clone()
        late = y[:, 0] > 0.35                       # fails only once paths drift there: not at the first call
        if bad == "nan":
            D[:, 0, 0] = torch.where(late, float("nan"), 1.0)
        elif bad == "indefinite":
            D[:, 0, 1] = D[:, 1, 0] = torch.where(late, 2.0, 0.0)
        else:
            D[:, 0, 0] = torch.where(late, -1.0, 1.0)
        return D
    sde = tb.make_sde(landscapes.double_well(dim), bad_D, 1.0, device="cpu")
    with pytest.raises(ValueError, match=message + ".*D must be a finite symmetric positive semi-definite"):
        tb.run(sde, np.full(dim, 0.3), T=0.5, dt=0.01, n_paths=64, seed=0)
    # flags are reset by the next run: a run that stays where D is fine passes
    tb.run(sde, np.full(dim, -2.0), T=0.02, dt=0.01, n_paths=4, seed=0)


def test_grid_interpolator_is_scipys_multilinear_with_wrap_and_clamp():
    """Cell-centred multilinear interpolation on a grid periodic along x_1 (points wrapped, values padded by one
    period) and Neumann along x_2, x_3 (points clamped to the outer centres): scipy's RegularGridInterpolator."""
    from scipy.interpolate import RegularGridInterpolator
    grid = Grid([-1.0, 0.0, 0.5], [1.0, 2.0, 1.5], [7, 5, 4], bc=["periodic", "neumann", "neumann"])
    rng = np.random.default_rng(0)
    values = rng.standard_normal(grid.shape + (3,))
    x = rng.uniform([-3.0, -0.5, 0.0], [3.0, 2.5, 2.0], size=(500, 3))
    got = tb.GridInterpolator(grid, values, "cpu", torch.float64)(torch.as_tensor(x)).numpy()
    c = [np.asarray(a) for a in grid.axes]
    period = 2.0
    axes = [np.concatenate([[c[0][-1] - period], c[0], [c[0][0] + period]]), c[1], c[2]]
    padded = np.concatenate([values[-1:], values, values[:1]], axis=0)
    xr = x.copy()
    xr[:, 0] = (x[:, 0] + 1.0) % period - 1.0
    xr[:, 1] = np.clip(x[:, 1], c[1][0], c[1][-1])
    xr[:, 2] = np.clip(x[:, 2], c[2][0], c[2][-1])
    want = RegularGridInterpolator(axes, padded)(xr)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
