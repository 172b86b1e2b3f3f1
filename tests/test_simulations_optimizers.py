"""F12's verdicts (simulations.optimizers.verdict): the direction of "<" and the two-standard-error rule of "~"."""
import numpy as np

from simulations.optimizers import verdict

LOW, HIGH = np.array([0.10, 0.11, 0.09]), np.array([0.20, 0.21, 0.19])


def test_less_than_follows_the_mean_errors_and_is_resolved_beyond_two_standard_errors():
    assert verdict(LOW, "<", HIGH) == (True, True)
    assert verdict(HIGH, "<", LOW) == (False, True)
    assert verdict(HIGH, "<=", LOW) == (False, True)


def test_similar_holds_only_within_two_standard_errors():
    # gap 0.01, SE of the difference sqrt(2 * 0.01^2 / 3) = 0.0082: 1.2 SE, not resolved -> "~" holds
    a, b = LOW, LOW + 0.01
    assert verdict(a, "~", b) == (True, False)
    assert verdict(a, "<", b) == (True, False)
    assert verdict(LOW, "~", HIGH) == (False, True)
