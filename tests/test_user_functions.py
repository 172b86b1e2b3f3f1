"""User @njit functions are validated in Python mode before any kernel runs (issue 20, item 3).

Compiled, each defect below gives silently wrong numbers or a crash: an exception is printed ("Exception
ignored") and 0 used, an unwritten entry of ``out`` holds garbage, an out-of-bounds write corrupts memory.
Each must be a ValueError naming the function and the defect; a correct function must give the same results
as the built-in it reproduces; a NaN met mid-run must raise, never be returned.
"""
import math

import numpy as np
import pytest
from numba import cfunc, njit

from pde_sgd import Diffusion, Drift, NumericalInstability, landscapes
from pde_sgd.diffusion import DIFFUSION_SIG
from pde_sgd.drift import DRIFT_SIG
from pde_sgd.landscapes import Landscape
from pde_sgd.sde import simulate_sgd


@njit
def value(x):
    return 0.5 * (x[0] * x[0] + x[1] * x[1])


@njit
def grad(x, out):
    out[0] = x[0]
    out[1] = x[1]


@njit
def grad_raises(x, out):
    if x[0] < 100.0:
        raise ValueError("bad point")
    grad(x, out)


@njit
def grad_unwritten(x, out):
    out[0] = x[0]


@njit
def grad_out_of_bounds(x, out):
    for i in range(3):
        out[i] = x[0]


@njit
def grad_nan(x, out):
    out[0] = x[0]
    out[1] = np.nan


@njit
def grad_inf(x, out):
    out[0] = np.inf
    out[1] = x[1]


@njit
def grad_returns(x, out):
    return x.copy()


@njit
def value_vector(x):
    return x * 1.0


@njit
def value_raises(x):
    return math.log(x[0] - 10.0)


@njit
def diagonal_only(x, out):
    """A 2 x 2 matrix output (a Hessian or a D(x)) that leaves out[0, 1] and out[1, 0] unwritten."""
    out[0, 0] = 1.0
    out[1, 1] = 1.0


@njit
def hessian(x, out):
    out[0, 0], out[0, 1], out[1, 0], out[1, 1] = 1.0, 0.0, 0.0, 1.0


@njit
def grad_three_args_too_many(x, p, q, out):
    out[:] = x


@pytest.mark.parametrize("fns, match", [
    ((value, grad_raises), r"grad raised ValueError: bad point"),
    ((value, grad_unwritten), r"grad left out\[1\] unwritten"),
    ((value, grad_out_of_bounds), r"grad raised IndexError.*out of bounds"),
    ((value, grad_nan), r"grad wrote NaN or inf"),
    ((value, grad_inf), r"grad wrote NaN or inf"),
    ((value, grad_returns), r"grad left out\[0\] unwritten.*returned a value instead"),
    ((value_raises, grad), r"value raised ValueError"),
    ((value, grad, diagonal_only), r"hessian left out\[0, 1\] unwritten"),
])
def test_a_defective_landscape_function_is_a_named_value_error(fns, match):
    with pytest.raises(ValueError, match="landscape 'mine': " + match):
        Landscape(*fns, dim=2, name="mine")


def test_a_wrong_number_of_arguments_or_output_shape_is_named():
    with pytest.raises(ValueError, match="grad could not be compiled"):
        Landscape(value, grad_three_args_too_many, dim=2)
    with pytest.raises(ValueError, match="value could not be compiled"):  # an array where a float is due
        Landscape(value_vector, grad, dim=2)


@njit
def b_out_of_bounds(x, t, out):
    out[0] = -x[0]
    out[1] = -x[1]
    out[2] = 0.0  # dim 2: one past the end


@njit
def b_raises(x, out):
    raise RuntimeError("no drift here")


@njit
def D_not_psd(x, out):
    out[0, 0], out[0, 1], out[1, 0], out[1, 1] = 1.0, 0.0, 0.0, -1.0


@njit
def D_inf(x, t, out):
    out[:, :] = 0.0
    out[0, 0] = np.inf


@pytest.mark.parametrize("make, match", [
    (lambda: Drift.function(b_out_of_bounds, 2), r"drift b raised IndexError.*out of bounds"),
    (lambda: Drift.function(b_raises, 2), r"drift b raised RuntimeError: no drift here"),
    (lambda: Drift.function(grad_unwritten, 2), r"drift b left out\[1\] unwritten"),
    (lambda: Drift.function(cfunc(DRIFT_SIG)(b_out_of_bounds.py_func), 2), r"drift b raised IndexError"),
    (lambda: Diffusion.function(diagonal_only, 2), r"D\(x\) left out\[0, 1\] unwritten"),
    (lambda: Diffusion.function(D_not_psd, 2), r"D\(x\) must be positive semi-definite"),
    (lambda: Diffusion.function(D_inf, 2), r"D\(x\) wrote NaN or inf"),
    (lambda: Diffusion.function(cfunc(DIFFUSION_SIG)(D_inf.py_func), 2), r"D\(x\) wrote NaN or inf"),
])
def test_a_defective_drift_or_diffusion_function_is_a_named_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@njit
def log_value(x):  # defined for x_0 > 1 only
    return -math.log(x[0] - 1.0) + 0.5 * x[1] * x[1]


@njit
def log_grad(x, out):
    out[0] = -1.0 / (x[0] - 1.0)
    out[1] = x[1]


def test_check_at_gives_the_domain_and_bad_check_points_are_named():
    with pytest.raises(ValueError, match="value raised ValueError: math domain error"):
        Landscape(log_value, log_grad, dim=2)  # the default points lie near 0, outside x_0 > 1
    L = Landscape(log_value, log_grad, dim=2, check_at=[[2.0, 0.0], [3.0, -1.0]])
    np.testing.assert_allclose(L.grad(np.array([3.0, 3.0])), [-0.5, 3.0])
    with pytest.raises(ValueError, match=r"check_at must be points of shape \(n, 2\)"):
        Landscape(log_value, log_grad, dim=2, check_at=[1.0, 2.0, 3.0])


def test_a_correct_user_landscape_gives_the_builtin_results_bit_for_bit():
    """The same quadratic from user code and from the built-in: identical SDE paths (same seed)."""
    mine = Landscape(value, grad, hessian, dim=2)
    ref = landscapes.quadratic(np.eye(2))
    kw = dict(dt=0.01, n_steps=50, n_saves=2, n_paths=64, seed=11)
    a = simulate_sgd(mine, 0.5, 2.0, [1.0, -1.0], **kw)["x"]
    b = simulate_sgd(ref, 0.5, 2.0, [1.0, -1.0], **kw)["x"]
    assert np.isfinite(a).all() and np.array_equal(a, b)
    pts = np.random.default_rng(2).standard_normal((5, 2))
    np.testing.assert_array_equal(mine.hessian(pts), np.broadcast_to(np.eye(2), (5, 2, 2)))


@njit
def b_nan_far_out(x, out):
    """b = +x (unstable), NaN once |x_0| > 3: fine at the check points, NaN after t ~ ln(3) from x0 = 1."""
    for i in range(x.shape[0]):
        out[i] = x[i] if abs(x[0]) <= 3.0 else np.nan


@njit
def D_nan_far_out(x, out):
    c = 1.0 if abs(x[0]) <= 3.0 else np.nan
    out[0, 0], out[0, 1], out[1, 0], out[1, 1] = c, 0.0, 0.0, 1.0


@njit
def hill_value(x):  # f = -|x|^2 / 2 (b = +x), NaN once |x_0| > 3
    return -0.5 * (x[0] * x[0] + x[1] * x[1]) if abs(x[0]) <= 3.0 else np.nan


@njit
def hill_grad(x, out):
    c = 1.0 if abs(x[0]) <= 3.0 else np.nan
    out[0] = -x[0] * c
    out[1] = -x[1] * c


def test_a_nan_met_mid_run_raises_instead_of_being_returned():
    kw = dict(dt=0.01, T=3.0, n_saves=3, n_paths=8, seed=1)
    with pytest.raises(NumericalInstability, match="became non-finite"):
        simulate_sgd(Landscape(hill_value, hill_grad, dim=2), 0.0, 1.0, [1.0, 0.0], **kw)
    with pytest.raises(NumericalInstability, match="became non-finite"):
        simulate_sgd(Drift.function(b_nan_far_out, 2), 0.0, 1.0, [1.0, 0.0], **kw)
    with pytest.raises(ValueError, match=r"D\(x\) is non-finite"):  # b = +x with D NaN once |x_0| > 3
        simulate_sgd(Drift.linear(-np.eye(2)), Diffusion.function(D_nan_far_out, 2), 1.0, [1.0, 0.0], **kw)
