"""The Fokker-Planck checks pass on good settings and fail when the tolerance is unreachable."""
import numpy as np

from pde_sgd import Grid, landscapes
from pde_sgd.checks import fokker_planck as fpc
from pde_sgd.fokker_planck import FokkerPlanck, exact


def test_checks_pass_and_can_fail():
    g = Grid([-2.5, -2.5], [2.5, 2.5], [24, 24])
    assert all(c.passed for c in fpc.gibbs(g, landscapes.double_well(2), beta=2.0, c=0.7))
    D = np.array([[1.0, 0.6], [0.6, 0.5]])
    A = np.array([[1.0, 0.3], [0.3, 0.5]])
    assert all(c.passed for c in fpc.lyapunov(A, D, 1.0, n=128))  # measured 8.5e-3 and 3.4e-2
    assert not any(c.passed for c in fpc.lyapunov(A, D, 1.0, n=24, tol=1e-6))  # coarse grid: error ~1e-1
    fp = FokkerPlanck(g, landscapes.double_well(2), beta=2.0, D=np.array([[1.0, 0.3], [0.3, 0.6]]))
    checks = fpc.conservation_and_free_energy(fp, exact.gaussian_density(g, [0.6, 0.6], 0.16 * np.eye(2)),
                                              np.linspace(0, 1, 11))
    assert all(c.passed for c in checks), [str(c) for c in checks]
