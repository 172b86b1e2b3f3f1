"""Inputs that used to be taken silently (issue 20): each is now a ValueError or MemoryError naming the parameter
and the allowed range, raised before any work."""
import numba
import numpy as np
import pytest

from pde_sgd import Diffusion, Grid, landscapes, validation
from pde_sgd._threads import thread_count
from pde_sgd.fokker_planck import FokkerPlanck
from pde_sgd.sde import simulate_sgd
from pde_sgd.validation import finite_array, positive


@pytest.mark.parametrize("flag", [True, False, np.True_])
def test_a_bool_is_not_a_number_in_the_shared_validators(flag):
    with pytest.raises(ValueError, match=r"beta must be a real number > 0, got .*bool"):
        positive("beta", flag)
    with pytest.raises(ValueError, match="tilt must be a real number or array, got a boolean"):
        finite_array("tilt", flag)
    with pytest.raises(ValueError, match="x0 must be a real number or array, got a boolean"):
        finite_array("x0", [flag, flag])
    assert positive("beta", 1) == 1.0 and finite_array("x", [1, 0]).tolist() == [1.0, 0.0]  # ints still count


def test_beta_true_is_refused_by_the_solvers():
    f = landscapes.quadratic(np.eye(1))
    with pytest.raises(ValueError, match="beta must be a real number"):
        FokkerPlanck(f, Grid(-2, 2, 16), 1.0, True)
    with pytest.raises(ValueError, match="beta must be a real number"):
        simulate_sgd(f, 1.0, True, [0.0], dt=0.1, n_steps=1, n_paths=1, seed=0)
    with pytest.raises(ValueError, match="tilt must be a real number"):
        landscapes.double_well(1, tilt=True)


@pytest.mark.parametrize("bad", [0, -1, True, 2.0, "2"])
def test_threads_must_be_an_integer_of_at_least_one(bad):
    with pytest.raises(ValueError, match=r"threads must be an integer >= 1"):
        thread_count(bad)


def test_threads_none_is_the_current_count_and_an_integer_is_kept():
    assert thread_count(None) == numba.get_num_threads()
    assert thread_count(3) == 3 and thread_count(np.int64(2)) == 2


def test_a_low_rank_factor_whose_square_overflows_is_named():
    with pytest.raises(ValueError, match=r"V is too large: D = V V\^T overflows"):
        Diffusion.low_rank(np.full((2, 1), 1e200))
    V = np.array([[1e100], [2e100]])
    D = Diffusion.low_rank(V)
    np.testing.assert_allclose(D.matrix, [[1e200, 2e200], [2e200, 4e200]], rtol=1e-15)


def test_a_grid_too_large_for_memory_is_a_memory_error_naming_shape_and_estimate():
    # one float64 field: 8e12 B = 7.45e3 GiB
    with pytest.raises(MemoryError, match=r"grid of shape \(10000, 10000, 10000\).*needs about 7.45e\+03 GiB"):
        Grid([0, 0, 0], [1, 1, 1], [10000, 10000, 10000])


def test_grid_points_beyond_the_available_memory_are_refused(monkeypatch):
    g = Grid([0, 0], [1, 1], [100, 100])  # cell centres: 2 * 100^2 float64 = 160 kB (+ the coordinates)
    assert g.points().shape == (10000, 2)
    monkeypatch.setattr(validation, "memory_bytes", lambda available=True: 100_000)
    with pytest.raises(MemoryError, match=r"cell centres of a grid of shape \(100, 100\) needs about 0.000298 GiB"):
        g.points()
    with pytest.raises(MemoryError, match=r"grid of shape \(100, 200\) .*one float64 field"):
        Grid([0, 0], [1, 1], [100, 200])  # one field, 160 kB: over a 100 kB machine


def test_threads_zero_is_refused_by_the_hj_solver_on_a_small_grid():
    """A 32-cell grid runs on one thread whatever threads= says; threads=0 must still be refused, not ignored."""
    from pde_sgd.hj import solve_viscous
    g = Grid(-2.0, 2.0, 32)
    u0 = 0.5 * g.coords[0] ** 2
    with pytest.raises(ValueError, match="threads"):
        solve_viscous(u0, g, 10.0, T=0.1, threads=0)


def test_threads_zero_is_refused_by_fokker_planck_on_a_small_grid():
    g = Grid(-3.0, 3.0, 16)
    fp = FokkerPlanck(landscapes.quadratic(1), g, 1.0, 1.0)
    rho0 = np.exp(-g.coords[0] ** 2)
    with pytest.raises(ValueError, match="threads"):
        fp.evolve(rho0 / rho0.sum(), T=0.01, method="explicit", threads=0)
