"""pde_sgd.checks.sde: the SDE theorems as user-facing checks (small settings; the kernels are cached)."""
from pde_sgd import Grid, landscapes
from pde_sgd.checks import sde as checks


def test_checks_pass_on_their_theorems():
    out = checks.ou_moments_check([[2.0, 0.5], [0.5, 1.0]], [[1.0, 0.3], [0.3, 0.5]], 2.0, [1.0, -1.0], 0.5,
                                  0.005, n_paths=5000, seed=1)
    out += checks.homogenization_check(landscapes.double_well(1, tilt=0.1), [1.8], 0.5, 10.0, [0.1, 0.01, 0.001],
                                       n_paths=12, seed=2)
    out += checks.control_check(landscapes.double_well(1), landscapes.quadratic([[2.0]], [1.0]), 4.0, 2.0, -1.0,
                                Grid(-4.0, 4.0, 200), n_paths=5000, n_steps=1000, seed=3)
    for c in out:
        print(c)
    assert all(c.passed for c in out)


def test_homogenization_check_can_fail():
    # first-order convergence is not what Entropy-SGD shows (slope ~ 1/2): order 1 must fail
    out = checks.homogenization_check(landscapes.double_well(1, tilt=0.1), [1.8], 0.5, 10.0, [0.1, 0.01, 0.001],
                                      n_paths=12, seed=2, order=1.0)
    assert not out[0].passed and out[1].passed
