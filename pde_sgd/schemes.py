"""Numerical schemes declare themselves: name, order and requirements, one table per equation family.

Each family keeps its table beside its steppers, and the tests parametrize over the tables, measuring each
scheme's order against the declared one:

* :data:`pde_sgd.hj.schemes.SCHEME_TABLE` (spatial derivatives, with TVD-RK3 in time) and
  :data:`pde_sgd.hj.schemes.FLUX_TABLE` (numerical Hamiltonians);
* :data:`pde_sgd.sde.kernels.SCHEME_TABLE` (strong and weak orders);
* :data:`pde_sgd.fokker_planck.evolve.METHOD_TABLE` (order in time).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scheme:
    """A scheme's declaration.

    ``order``: the convergence order it is tested at on smooth solutions (for SDE schemes the strong order;
    ``weak_order`` the weak one; ``None`` where the scheme is exact). ``requires``: conditions for ``order``
    (and for the scheme to apply at all), in words.
    """

    name: str
    order: float | None
    requires: str = ""
    weak_order: float | None = None
