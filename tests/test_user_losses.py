"""User losses reach every solver: numpy, Numba and torch forms agree, and a user-written twin of a built-in gives
the built-in's results in every entry point that takes a loss (bitwise where the arithmetic is the same)."""
import numpy as np
import pytest
from numba import njit

from landscape_cases import BUILTINS
from pde_sgd import Grid, jitfuncs, landscapes as L
from pde_sgd.fokker_planck import FokkerPlanck
from pde_sgd.hj import local_entropy, moreau_envelope, proximal_point, solve_inviscid, solve_viscous
from pde_sgd.sde import elastic_sgd, entropy_sgd, hjb_value, homogenized, simulate_controlled, simulate_sgd
from pde_sgd.sde import kernels

TILT = 0.1

# --- user twins of double_well(dim, tilt=TILT): the same formulas, written as a user would ---------------------
@njit
def dw_value(x, p):
    v = 0.25 * (x[0] * x[0] - 1.0) ** 2 + p[0] * x[0]
    for i in range(1, x.shape[0]):
        v += 0.5 * x[i] * x[i]
    return v


@njit
def dw_grad(x, p, out):
    out[0] = x[0] * (x[0] * x[0] - 1.0) + p[0]
    for i in range(1, x.shape[0]):
        out[i] = x[i]


@njit
def dw_value_plain(x):  # no params argument: the tilt is a constant of the function
    v = 0.25 * (x[0] * x[0] - 1.0) ** 2 + TILT * x[0]
    for i in range(1, x.shape[0]):
        v += 0.5 * x[i] * x[i]
    return v


@njit
def dw_grad_plain(x, out):
    out[0] = x[0] * (x[0] * x[0] - 1.0) + TILT
    for i in range(1, x.shape[0]):
        out[i] = x[i]


def numba_twin(dim):  # no Hessian given: central differences of grad
    return L.Landscape(dw_value, dw_grad, dim=dim, params=[TILT], name="user_dw")


def numpy_twin(dim):
    def value(x):
        return 0.25 * (x[:, 0] ** 2 - 1.0) ** 2 + TILT * x[:, 0] + 0.5 * (x[:, 1:] ** 2).sum(1)

    def grad(x):
        g = x.copy()
        g[:, 0] = x[:, 0] * (x[:, 0] ** 2 - 1.0) + TILT
        return g
    return L.Landscape(value, grad, dim=dim, name="user_dw_numpy")


def _points(f, n=9, seed=0):
    return np.random.default_rng(seed).uniform(-1.5, 1.5, size=(n, f.dim)) + 0.013  # off the abs kinks


@pytest.mark.parametrize("f", BUILTINS + [numba_twin(2), numpy_twin(2)], ids=lambda f: f"{f.name}{f.dim}")
def test_numpy_numba_torch_forms_agree(f):
    torch = pytest.importorskip("torch")
    x = _points(f)
    g = f.grad(x)
    if f.numba:  # the kernels' point functions on the same points
        lf = f.jit
        np.testing.assert_array_equal(L._values(lf, x), f.value(x))
        np.testing.assert_array_equal(L._grads(lf, x), g)
    tg = f.torch_grad(None, torch.float64)(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(tg, g, rtol=1e-13, atol=1e-13)
    h = 1e-5  # derivatives against central differences of the value (error O(h^2) ~ 1e-10)
    eye = np.eye(f.dim)
    fd = np.stack([(f.value(x + h * eye[i]) - f.value(x - h * eye[i])) / (2 * h) for i in range(f.dim)], -1)
    np.testing.assert_allclose(g, fd, atol=2e-6 * (1 + np.abs(fd).max()))


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_user_twins_match_the_builtin_value_gradient_hessian(dim):
    ref, x = L.double_well(dim, tilt=TILT), _points(L.double_well(dim))
    plain = L.Landscape(dw_value_plain, dw_grad_plain, dim=dim)
    for twin in (numba_twin(dim), plain):
        np.testing.assert_array_equal(twin.value(x), ref.value(x))
        np.testing.assert_array_equal(twin.grad(x), ref.grad(x))
    for twin in (numba_twin(dim), numpy_twin(dim)):  # Hessians by central differences of grad: O(h^2 f'''')
        np.testing.assert_allclose(twin.hessian(x), ref.hessian(x), rtol=0, atol=1e-8)
        np.testing.assert_allclose(twin.value(x), ref.value(x), rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(L.Landscape(numpy_twin(dim)._fns[0], dim=dim).grad(x), ref.grad(x), atol=1e-8)


def _same(a, b, exact):
    if exact:
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)


def test_every_solver_gives_the_builtin_results_for_a_user_twin():
    ref, twin, np_twin = L.double_well(2, tilt=TILT), numba_twin(2), numpy_twin(2)
    g = Grid([-2, -2], [2, 2], [24, 24])
    x0 = [0.8, -0.3]
    for f, exact in ((twin, True), (np_twin, False)):  # grid solvers: the loss's values on the grid
        _same(local_entropy(f, g, 0.3, 4.0).u, local_entropy(ref, g, 0.3, 4.0).u, exact)
        _same(moreau_envelope(f, g, 0.3)[0], moreau_envelope(ref, g, 0.3)[0], exact)
        _same(solve_viscous(f, g, 4.0, times=[0.0, 0.05])["u"], solve_viscous(ref, g, 4.0, times=[0.0, 0.05])["u"],
              exact)
        _same(solve_inviscid(f, g, times=[0.0, 0.05])["u"], solve_inviscid(ref, g, times=[0.0, 0.05])["u"], exact)
        _same(FokkerPlanck(f, g, beta=2.0, D=[[1.0, 0.3], [0.3, 0.6]]).steady_state(),
              FokkerPlanck(ref, g, beta=2.0, D=[[1.0, 0.3], [0.3, 0.6]]).steady_state(), exact)
        _same(homogenized(f, 4.0, x0, gamma=0.5, T=0.2, n_saves=2)["x"], homogenized(ref, 4.0, x0, gamma=0.5, T=0.2,
                                                                                     n_saves=2)["x"],
              exact)
    # compiled kernels: the Numba twin, bitwise
    run = dict(beta=2.0, x0=x0, dt=1e-3, n_steps=50, n_paths=8, seed=0)
    for D in (0.5, np.array([[1.0, 0.3], [0.3, 0.6]])):
        np.testing.assert_array_equal(simulate_sgd(twin, D, **run)["x"], simulate_sgd(ref, D, **run)["x"])
    es = dict(gamma=0.5, beta=4.0, eps=0.05, T=0.05, dt=1e-3, n_paths=4, seed=1, n_saves=2)
    np.testing.assert_array_equal(entropy_sgd(twin, x0=x0, **es)["x"], entropy_sgd(ref, x0=x0, **es)["x"])
    np.testing.assert_array_equal(elastic_sgd(twin, x0=x0, n_replicas=3, **es)["x"],
                                  elastic_sgd(ref, x0=x0, n_replicas=3, **es)["x"])
    pp = proximal_point(twin, g, [[0.9, 0.4], [-1.2, 0.1]], 0.5, 3)  # Newton with the difference Hessian
    np.testing.assert_allclose(pp["path"], proximal_point(ref, g, [[0.9, 0.4], [-1.2, 0.1]], 0.5, 3)["path"],
                               atol=1e-9)
    # stochastic control (1-D)
    ref1, twin1, g1 = L.double_well(1, tilt=TILT), numba_twin(1), Grid(-3, 3, 120)
    V = L.quadratic([[1.0]])
    h_ref, h_twin = hjb_value(ref1, V, 4.0, T=0.5, grid=g1, n_steps=8), hjb_value(twin1, V, 4.0, T=0.5, grid=g1,
                                                                                  n_steps=8)
    np.testing.assert_array_equal(h_twin["u"], h_ref["u"])
    _same(hjb_value(numpy_twin(1), V, 4.0, T=0.5, grid=g1, n_steps=8)["u"], h_ref["u"], False)
    c_ref, c_twin = (simulate_controlled(f, h_ref, V, 0.5, n_steps=20, n_paths=8, seed=2) for f in (ref1, twin1))
    np.testing.assert_array_equal(c_twin["J"], c_ref["J"])


def test_user_functions_are_compiled_once():
    """A new Landscape from the same @njit functions reuses their cfuncs, and the kernels keep one compiled
    signature whatever the landscape (first-class function arguments): no compilation per call or per loss."""
    run = dict(beta=2.0, x0=[0.1, 0.2], dt=1e-3, n_steps=5, n_paths=4, seed=0)
    losses = lambda: (numba_twin(2), L.double_well(2), L.rastrigin(2),  # noqa: E731 (new objects each time)
                      L.Landscape(dw_value_plain, dw_grad_plain, dim=2))
    first = [simulate_sgd(f, 0.5, **run)["x"] for f in losses()]
    n_cfuncs = len(jitfuncs._CFUNCS)
    again = [simulate_sgd(f, 0.5, **run)["x"] for f in losses()]
    assert len(kernels.integrate.signatures) == 1
    assert len(jitfuncs._CFUNCS) == n_cfuncs
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


def test_builtins_round_trip_and_user_losses_say_they_cannot():
    for f in BUILTINS:
        back = L.Landscape.from_dict(f.to_dict())
        np.testing.assert_array_equal(back.value(_points(f)), f.value(_points(f)))
    with pytest.raises(ValueError, match="not a built-in"):
        L.Landscape.from_dict(numba_twin(2).to_dict())


@pytest.mark.parametrize("make, match", [
    (lambda: L.Landscape(dw_value, dim=2), "grad is required"),
    (lambda: L.Landscape(dw_value, lambda x: x, dim=2), "grad must be an @njit"),
    (lambda: L.Landscape(lambda x: x[:, 0], dw_grad, dim=2), "grad must be a vectorised numpy"),
    (lambda: L.Landscape(3.0, dim=2), "value must be a function"),
    (lambda: L.Landscape(lambda x: x[:, 0], dim=2, params=[1.0]), "params are passed to @njit"),
    (lambda: L.Landscape(dw_value, dw_grad, dim=0), "dim must be an integer >= 1"),
    (lambda: L.Landscape(lambda x: x, dim=2).value(np.zeros((3, 2))), r"must return shape \(3,\)"),
    (lambda: L.Landscape(lambda x: x[:, 0] / 0.0, dim=2).value(np.zeros((3, 2))), "value is NaN or inf"),
    (lambda: L.Landscape(lambda x: np.sqrt(-x[:, 0]), dim=1).grad(np.ones(2)), "NaN or inf at x="),
    (lambda: simulate_sgd(numpy_twin(2), 0.5, beta=1.0, x0=[0, 0], dt=0.01, n_steps=1, n_paths=1, seed=0),
     "need its Numba form"),
    (lambda: local_entropy(lambda x: x, Grid(-1, 1, 8), 0.1, 1.0), "wrap a loss function as Landscape"),
    (lambda: proximal_point(numba_twin(1), Grid([-1, -1], [1, 1], [4, 4]), [0.0, 0.0], 0.1, 1),
     "grid has 2 dimension"),
])
def test_bad_user_losses_raise_naming_the_parameter(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_a_loss_that_is_not_a_landscape_is_a_type_error():
    with pytest.raises(TypeError, match="landscape must be a pde_sgd Landscape"):
        entropy_sgd(lambda x: x, 1.0, [0.0], gamma=0.5, eps=0.1, T=1.0, dt=0.01, n_paths=1, seed=0)
    with pytest.raises(TypeError, match="landscape must be a pde_sgd Landscape"):
        homogenized(np.zeros(3), 1.0, [0.0], gamma=0.5, T=1.0)


def test_a_user_function_that_does_not_compile_is_named():
    @njit
    def bad_grad(x, p, out):
        out[0] = x  # an array into a float slot: a typing error
    with pytest.raises(ValueError, match="grad could not be compiled"):
        L.Landscape(dw_value, bad_grad, dim=1, params=[TILT]).jit

