"""The built-in landscapes, one instance of each (with a non-trivial parameter choice), shared by the tests."""
from pde_sgd import landscapes as L

BUILTINS = [
    L.quadratic([[2.0, 0.5], [0.5, 1.0]], center=[0.3, -0.2]),
    L.wiggly(seed=3),
    L.double_well(2, tilt=0.1),
    L.double_well(3),
    L.rastrigin(2),
    L.abs_l1(2),
    L.neg_abs_l1(1),
    L.wide_narrow(),
    L.gaussian_wells([[0.0, 0.0], [1.0, 1.0]], [1.0, 2.0], [0.5, 0.2]),
]
