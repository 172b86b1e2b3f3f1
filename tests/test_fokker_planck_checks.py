"""The Fokker-Planck checks pass on good settings and fail when the solver is given a wrong beta or D."""
import numpy as np
import pytest

from pde_sgd import Grid, landscapes
from pde_sgd.checks import fokker_planck as fpc
from pde_sgd.fokker_planck import FokkerPlanck, exact

D_LY = np.array([[1.0, 0.6], [0.6, 0.5]])
A_LY = np.array([[1.0, 0.3], [0.3, 0.5]])


def test_checks_pass_on_good_settings():
    g = Grid([-2.5, -2.5], [2.5, 2.5], [24, 24])
    assert all(c.passed for c in fpc.gibbs(g, landscapes.double_well(2), beta=2.0, c=0.7))
    checks = fpc.lyapunov(A_LY, D_LY, 1.0, n=128)
    # measured error / Richardson estimate: 1.02 (steady state) and 1.02 (current), tolerance 1.5 x estimate
    assert all(c.passed for c in checks), [str(c) for c in checks]
    assert all(0.8 * c.tolerance / 1.5 <= c.measured for c in checks), [str(c) for c in checks]  # estimate is sharp
    fp = FokkerPlanck(landscapes.double_well(2), g, beta=2.0, D=np.array([[1.0, 0.3], [0.3, 0.6]]))
    checks = fpc.conservation_and_free_energy(fp, exact.gaussian_density(g, [0.6, 0.6], 0.16 * np.eye(2)),
                                              np.linspace(0, 1, 11))
    assert all(c.passed for c in checks), [str(c) for c in checks]


@pytest.mark.parametrize("wrong", ["beta", "D"])
def test_lyapunov_check_catches_a_wrong_beta_or_D(monkeypatch, wrong):
    """A solver that uses beta or D off by 5% (a bug the Richardson estimate cannot see, both grids share it)
    fails the check: a 5% change of the covariance moves rho by ~5%, 3-5x the derived tolerance (1.2e-2) at
    n = 128 (measured 4.1e-2 for beta x 1.05, 5.5e-2 for D x 1.05). At n = 64 the 3% discretisation error can
    cancel part of it, so the check is run at its default n = 128."""
    def buggy(f=None, grid=None, D=1.0, beta=1.0, **kw):
        if wrong == "beta":
            beta = 1.05 * beta
        else:
            D = 1.05 * np.asarray(D)
        return FokkerPlanck(f, grid, D=D, beta=beta, **kw)

    monkeypatch.setattr(fpc, "FokkerPlanck", buggy)
    checks = fpc.lyapunov(A_LY, D_LY, 1.0, n=128)
    assert not checks[0].passed, [str(c) for c in checks]
