"""Structure of non-equilibrium steady states: rotational drift, linear recipe, A-type form, mode shift."""
import numpy as np
from scipy.linalg import solve_continuous_lyapunov

from pde_sgd import Grid, landscapes
from pde_sgd.fokker_planck import FokkerPlanck, exact


def orders(errors):
    e = np.asarray(errors)
    return np.log2(e[:-1] / e[1:])


def rel_inf(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


J2 = np.array([[0.0, 1.0], [-1.0, 0.0]])


def test_rotational_drift_keeps_gibbs_with_current():
    """grad f_eff = (I + c J) grad f, D = I: rho_ss = Gibbs, J_ss = -c J grad f rho_ss != 0."""
    f = landscapes.double_well(2, tilt=0.1)
    beta, c = 1.5, 1.2
    M = np.eye(2) + c * J2
    e_rho, e_J = [], []
    for n in (40, 80, 160):  # box wide enough that the walls (where no-flux cuts the current) carry ~1e-5
        g = Grid([-3.5, -3.5], [3.5, 3.5], [n, n])
        fp = FokkerPlanck(grid=g, beta=beta, D=1.0, grad_f=lambda x: f.grad(x) @ M.T)
        if n == 40:  # the same drift as a field of cell-centre values gives a second-order solution too
            fp_field = FokkerPlanck(grid=g, beta=beta, D=1.0, grad_f=f.grad_on_grid(g) @ M.T)
            assert rel_inf(fp_field.steady_state(), fp.steady_state()) < 0.05
        gibbs = np.exp(-beta * f.on_grid(g))
        gibbs /= gibbs.sum() * g.cell_volume
        J_ex = -c * (f.grad_on_grid(g) @ J2.T) * gibbs[..., None]
        e_rho.append(rel_inf(fp.steady_state(), gibbs))
        e_J.append(rel_inf(fp.current(), J_ex))
    assert np.all(orders(e_rho) >= 1.8) and e_rho[-1] < 2e-3, e_rho
    assert np.all(orders(e_J) >= 1.7) and e_J[-1] < 1e-2, e_J
    assert np.max(np.abs(J_ex)) > 0.1 * np.max(np.abs(f.grad_on_grid(g) * gibbs[..., None]))


def test_linear_recipe_potential_on_the_grid():
    """grad f = F x (F not symmetric), constant anisotropic D: U, Q, G of THEORY.md section 3."""
    F = np.array([[1.0, 0.8], [-0.4, 0.7]])
    D = np.array([[0.8, 0.3], [0.3, 0.5]])
    beta = 2.0
    rec = exact.linear_recipe(F, D, beta)
    U, Q, G = rec["U"], rec["Q"], rec["G"]
    assert np.allclose(0.5 * (G + G.T), D, atol=1e-12)
    assert np.allclose(F, (D + Q) @ U, atol=1e-12)
    assert np.allclose(Q, -Q.T) and np.abs(Q).max() > 0.1
    # beta-independence of U
    assert np.allclose(exact.linear_recipe(F, D, 7.0)["U"], U, atol=1e-12)
    errs = []
    for n in (40, 80, 160):
        g = Grid([-3, -3], [3, 3], [n, n])
        fp = FokkerPlanck(grid=g, beta=beta, D=D, grad_f=lambda x: x @ F.T)
        phi = fp.potential()
        X, Y = g.coords
        phi_ex = 0.5 * (U[0, 0] * X**2 + 2 * U[0, 1] * X * Y + U[1, 1] * Y**2)
        bulk = phi_ex - phi_ex.min() < 4.0 / beta  # where rho_ss > e^-4 of its max
        diff = (phi - phi_ex)[bulk]
        errs.append(np.max(np.abs(diff - diff.mean())))
    assert errs[-1] < 2e-3 and np.all(orders(errs) >= 1.8), errs


def _a_type_drift(x, beta, q0):
    """grad f = (D + Q) grad Phi - beta^-1 div(D + Q) for Phi = (x1^2-1)^2/4 + x2^2/2 and the fields below."""
    x1, x2 = x[:, 0], x[:, 1]
    gphi = np.stack([x1 * (x1**2 - 1), x2], axis=1)
    D = _D_field(x)
    q = q0 * np.exp(-(x1**2 + x2**2) / 2)
    Q = q[:, None, None] * J2
    div_D = np.stack([np.zeros_like(x1), 0.3 * np.cos(x1)], axis=1)  # (d1 D11 + d2 D12, d1 D21 + d2 D22)
    dq1, dq2 = -x1 * q, -x2 * q
    div_Q = np.stack([dq2, -dq1], axis=1)  # (d2 Q12, d1 Q21) with Q12 = q, Q21 = -q
    return np.einsum("nij,nj->ni", D + Q, gphi) - (div_D + div_Q) / beta


def _D_field(x):
    x1, x2 = x[:, 0], x[:, 1]
    D = np.empty((x.shape[0], 2, 2))
    D[:, 0, 0] = 1.0 + 0.3 * x2**2
    D[:, 1, 1] = 1.0 + 0.2 * x1**2
    D[:, 0, 1] = D[:, 1, 0] = 0.3 * np.sin(x1)
    return D


def test_a_type_identity_div_j_rho_vanishes():
    beta, q0 = 1.0, 1.5
    e_rho, e_div, scales = [], [], []
    for n in (40, 80, 160):
        g = Grid([-4, -4], [4, 4], [n, n])
        fp = FokkerPlanck(grid=g, beta=beta, D=_D_field, grad_f=lambda x: _a_type_drift(x, beta, q0))
        X, Y = g.coords
        target = np.exp(-beta * ((X**2 - 1) ** 2 / 4 + Y**2 / 2))
        target /= target.sum() * g.cell_volume
        e_rho.append(rel_inf(fp.steady_state(), target))
        lf = fp.leftover_field()
        jr = np.linalg.norm(lf["j"] * fp.steady_state()[..., None], axis=-1).max()
        e_div.append(np.abs(lf["div_j_rho"]).max() / jr)  # in units of |j rho| per unit length
        scales.append(jr)
    assert np.all(orders(e_rho) >= 1.8) and e_rho[-1] < 5e-3, e_rho
    assert np.all(orders(e_div) >= 1.5) and e_div[-1] < 0.02, e_div
    assert scales[-1] > 0.05  # j rho_ss is not small: a genuine rotational current


def _predicted_mode_shift(H, c, D):
    """First-order (in T = beta^-1) shift of the steady-state mode, mode = x* + T a + O(T^2), for constant D and
    f = f* + H[z, z] / 2 + c[z, z, z] / 6 + ... near its minimiser x* (z = x - x*).

    Small-noise cumulants: covariance T S with H S + S H = 2 D (Lyapunov); stationarity E[grad f(X)] = 0 gives
    the mean m = x* - T H^-1 c[S] / 2 + O(T^2). With w = X - m and g = w_i w_j w_k, E[L g] = 0 (L the
    generator, the diffusion part vanishes because E w = 0) gives the third cumulant k = T^2 k1 with
    sum over the three slots of H acting on k1 = -(c_ipq S_pj S_qk + the two other slots); the drift offset
    grad f(m) cancels against the Gaussian pairing S_pq S_jk. The Edgeworth density phi_TS (1 + k h3 / 6)
    has its maximum at m - k_ijk (TS)^-1_jk / 2 + O(T^2). So a = -H^-1 c[S] / 2 - k1_ijk S^-1_jk / 2.
    For D = c I (Gibbs) a = 0 exactly.
    """
    S = solve_continuous_lyapunov(H, 2.0 * D)
    mean = -0.5 * np.linalg.solve(H, np.einsum("ipq,pq->i", c, S))
    R = np.einsum("ipq,pj,qk->ijk", c, S, S)
    R = R + R.transpose(1, 0, 2) + R.transpose(2, 1, 0)
    d, eye = H.shape[0], np.eye(H.shape[0])
    op = (np.einsum("ia,jb,kc->ijkabc", H, eye, eye) + np.einsum("ia,jb,kc->ijkabc", eye, H, eye)
          + np.einsum("ia,jb,kc->ijkabc", eye, eye, H)).reshape(d**3, d**3)
    k1 = np.linalg.solve(op, -R.ravel()).reshape(d, d, d)
    return mean - 0.5 * np.einsum("ijk,jk->i", k1, np.linalg.inv(S))


def test_mode_shift_matches_first_order_perturbation_theory():
    """Constant anisotropic D not commuting with the Hessian: mode - argmin f = T a + O(T^2) (T = eta/(2b)), with
    a from :func:`_predicted_mode_shift`; for isotropic D the mode stays at argmin f.

    Measured a: s(T) = (mode - x*)/T is Richardson-extrapolated in T (2 s(T) - s(2T), removing the O(T) term)
    and in h (grids 120 and 240, (4 a_240 - a_120)/3, removing the O(h^2) error of the scheme and of the
    quadratic mode fit). Tolerance: the size of the h correction plus the disagreement of the T extrapolation
    from (0.01, 0.02) with that from (0.02, 0.04) at n = 240 (a-posteriori estimates of the errors left).
    """
    f = landscapes.double_well(2, tilt=0.15)
    x1 = min(np.roots([1.0, 0.0, -1.0, 0.15]).real)  # argmin f: x^3 - x + 0.15 = 0
    x_star = np.array([x1, 0.0])
    assert np.linalg.norm(f.grad(x_star)) < 1e-12
    H = np.diag([3 * x1**2 - 1, 1.0])
    c = np.zeros((2, 2, 2))
    c[0, 0, 0] = 6 * x1
    D = np.array([[1.0, 0.5], [0.5, 0.6]])
    a_pred = _predicted_mode_shift(H, c, D)
    assert np.linalg.norm(_predicted_mode_shift(H, c, 0.8 * np.eye(2))) < 1e-12
    temps = (0.01, 0.02, 0.04)
    est = {}
    for n in (120, 240):
        g = Grid([-1.9, -0.9], [-0.1, 0.9], [n, n])
        s = [(_mode(g, FokkerPlanck(f, g, beta=1.0 / T, D=D).steady_state()) - x_star) / T for T in temps]
        est[n] = (2 * s[0] - s[1], 2 * s[1] - s[2])
        if n == 120:  # isotropic control (exact Gibbs, mode = x*): only the mode-fit bias, small against T a
            iso = [np.linalg.norm(_mode(g, FokkerPlanck(f, g, beta=1.0 / T, D=0.8).steady_state()) - x_star)
                   for T in temps]
            assert max(iso) < 0.15 * temps[0] * np.linalg.norm(a_pred), iso
    a = (4 * est[240][0] - est[120][0]) / 3
    tol = np.linalg.norm(est[240][0] - est[120][0]) / 3 + np.linalg.norm(est[240][0] - est[240][1])
    assert np.linalg.norm(a - a_pred) < tol, (a, a_pred, tol)
    assert tol < 0.1 * np.linalg.norm(a_pred)  # the check is informative: errors left < 10% of the shift


def _mode(g, rho):
    """Sub-cell mode: maximiser of a quadratic fitted to log rho on the 5 x 5 cells around the largest one."""
    k = np.unravel_index(np.argmax(rho), rho.shape)
    sl = tuple(slice(i - 2, i + 3) for i in k)
    X, Y = (c[sl].ravel() for c in g.coords)
    M = np.stack([np.ones_like(X), X, Y, X**2, X * Y, Y**2], axis=1)
    c = np.linalg.lstsq(M, np.log(rho[sl]).ravel(), rcond=None)[0]
    H = np.array([[2 * c[3], c[4]], [c[4], 2 * c[5]]])
    return np.linalg.solve(H, -c[1:3])


def test_diffusion_label_follows_the_assembled_field():
    """params["D"] says "constant" only when every cell holds the same matrix: scalar fields on 1-D and 2-D grids
    (np.ndim <= 2, formerly labelled constant) are fields; a constant given as a field or callable is constant."""
    g1, g2 = Grid(-2, 2, 24), Grid([-2, -2], [2, 2], [12, 12])
    x, X = g1.axes[0], np.stack(g2.coords, axis=-1)
    f1, f2 = landscapes.double_well(1), landscapes.double_well(2)
    cases = [(g1, f1, 1.0 + 0.5 * x ** 2, "field"), (g2, f2, 1.0 + 0.2 * np.sum(X ** 2, axis=-1), "field"),
             (g2, f2, lambda p: (1.0 + p[:, 0, None, None] ** 2) * np.eye(2), "callable"),
             (g1, f1, 0.7, "constant"), (g2, f2, [[1.0, 0.3], [0.3, 0.5]], "constant"),
             (g2, f2, np.full(g2.shape, 0.7), "constant"),
             (g2, f2, lambda p: np.broadcast_to(np.eye(2), (len(p), 2, 2)), "constant")]
    for g, f, D, label in cases:
        fp = FokkerPlanck(f, g, beta=1.0, D=D)
        params = fp.evolve(np.ones(g.shape), times=[0.0, 0.0], method="expm").params
        assert params["D"] == label, (np.shape(D), params["D"], label)
        if label == "constant":
            assert np.array_equal(params["D_matrix"], fp.D.reshape(-1, g.ndim, g.ndim)[0])
