"""pde_sgd.checks.hj: the HJ theorems as measured checks pass on default settings and fail when they should."""
import pytest

from pde_sgd import Grid, landscapes
from pde_sgd.checks import hj as checks


def test_checks_pass():
    results = checks.quadratic_matrix_form([[2.0, 0.7], [0.7, 1.0]], 0.3, 5.0)
    g = Grid([-2, -2], [2, 2], [40, 40])
    f = landscapes.rastrigin(2).on_grid(g)
    results += checks.semiconcavity(f, g, 0.2, beta=10.0) + checks.semiconcavity(f, g, 0.2)
    results += checks.moreau_invariants(f, g, [0.05, 0.1, 0.5])
    g1 = Grid(-2.5, 2.5, 2000)
    results += checks.viscous_gap_slope(landscapes.double_well(1, tilt=0.1).on_grid(g1), g1, 0.3)
    results += checks.solver_order("inviscid", "eno2") + checks.solver_order("viscous", "central", ns=(96, 192, 384, 768))
    for r in results:
        assert r.passed, str(r)


def test_checks_detect_violations():
    """A first-order scheme fails the second-order check; an unknown kind is refused."""
    result = checks.solver_order("inviscid", "upwind1")[0]
    assert not result.passed and 0.7 < result.measured < 0.9  # upwind1 measures order ~1.0
    with pytest.raises(ValueError, match="kind"):
        checks.solver_order("parabolic")
