"""Direction of rotation of the A-type SDE dx = -(D + Q) grad Phi dt + sqrt(2/beta D) dW (issue 14).

Transposing the preconditioner (D - Q instead of D + Q) leaves the stationary covariance unchanged (sym part D
either way) but reverses the circulation, so the test measures a dynamic quantity: the lagged cross-moment
a(tau) = E[x2(tau) x1(0) - x1(tau) x2(0)] from stationary starts. For Euler-Maruyama with drift -F x the exact
value is known without any time-step bias: E[x(k dt) x(0)^T] = (I - dt F)^k Sigma for x(0) ~ N(0, Sigma),
because the noise is independent of x(0). In continuous time a(tau) = -tau (F Sigma - Sigma F^T)_21 + O(tau^2)
= -2 tau Q_21 / beta (Lyapunov: F Sigma = (D + Q) / beta): its sign is the direction of rotation.
"""
import numpy as np

from pde_sgd import landscapes
from pde_sgd.fokker_planck import exact
from pde_sgd.sde import simulate_sgd

F = np.array([[1.0, 0.6], [-0.4, 1.2]])
D = np.diag([1.0, 0.5])
BETA = 2.0


def test_circulation_sign_of_the_a_type_form_matches_linear_theory():
    rec = exact.linear_recipe(F, D, BETA)
    U, Q, Sigma = rec["U"], rec["Q"], rec["Sigma"]
    n, dt, k = 20000, 0.01, 50
    x0 = np.random.default_rng(7).multivariate_normal(np.zeros(2), Sigma, size=n)
    run = simulate_sgd(landscapes.quadratic(U), D, BETA, x0, dt=dt, n_steps=k, n_paths=n, seed=11, precondition=D + Q)
    x_t = run["x"][-1]
    a = x_t[:, 1] * x0[:, 0] - x_t[:, 0] * x0[:, 1]
    C = np.linalg.matrix_power(np.eye(2) - dt * F, k) @ Sigma  # exact for the scheme, given x(0) ~ N(0, Sigma)
    # the exact value for the sample's own x(0): E[x(t) | x0] = P^k x0, so use the sample second moment of x0
    S0 = x0.T @ x0 / n
    C_given = np.linalg.matrix_power(np.eye(2) - dt * F, k) @ S0
    expected = C_given[1, 0] - C_given[0, 1]
    se = a.std(ddof=1) / np.sqrt(n)
    assert abs(C[1, 0] - C[0, 1]) > 10 * se  # the rotation is resolved: a sign error cannot hide in noise
    assert abs(a.mean() - expected) <= 4 * se, (a.mean(), expected, se)
    assert np.sign(a.mean()) == np.sign(-Q[1, 0]) != 0
    assert np.allclose(F @ Sigma, (D + Q) / BETA)
