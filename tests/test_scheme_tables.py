"""Every declared scheme reaches its declared order. The tables of pde_sgd.schemes drive the parametrization
here (Fokker-Planck time steppers), in test_hj_hamiltonians (inviscid HJ schemes and fluxes), test_hj_viscous
(viscous HJ schemes) and test_sde_ou (SDE strong and weak orders)."""
import numpy as np
import pytest

from pde_sgd import Grid, landscapes
from pde_sgd.fokker_planck import FokkerPlanck
from pde_sgd.fokker_planck.evolve import METHOD_TABLE


def orders(errors):
    e = np.asarray(errors)
    return np.log2(e[:-1] / e[1:])


@pytest.mark.parametrize("method", sorted(m for m in METHOD_TABLE if METHOD_TABLE[m].order is not None))
def test_every_fokker_planck_method_in_time(method):
    """1-D OU on a fixed grid: the time error against the exact-in-time expm solution halves with dt at the
    declared order (explicit: exactly dt, substeps off; implicit: backward Euler), and Crank-Nicolson (theta
    0.5, the declared exception) is second order."""
    g = Grid(-4, 4, 64)
    fp = FokkerPlanck(landscapes.quadratic([[1.0]]), g, beta=2.0, D=1.0)
    rho0 = np.exp(-2.0 * (g.axes[0] - 1.0) ** 2)
    ref = fp.evolve(rho0, times=[0.0, 0.5], method="expm")["rho"][-1]
    dt0 = 0.8 * fp.dt_limit if method == "explicit" else 0.05
    cases = [(METHOD_TABLE[method].order, {})] + ([(2.0, {"theta": 0.5})] if method == "implicit" else [])
    for order, kw in cases:
        errs = []
        for k in range(3):
            extra = {"substeps": False} if method == "explicit" else kw
            rho = fp.evolve(rho0, times=[0.0, 0.5], method=method, dt=dt0 / 2 ** k, **extra)["rho"][-1]
            errs.append(np.abs(rho - ref).max())
        assert np.all(orders(errs) >= order - 0.2), (method, kw, errs, orders(errs))
