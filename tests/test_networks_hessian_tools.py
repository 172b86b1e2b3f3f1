"""PyHessian-style tools (Hutchinson trace, SLQ density, per-layer top eigenvalues) and the MSE loss, against
the dense float64 Hessian of tiny networks and hand computations."""
import numpy as np
import pytest
import torch

from pde_sgd.networks import (FlatModel, build_model, dense_hessian, hessian_density, hessian_trace,
                              hutchinson_trace, layer_slices, layer_top_eigenvalues, naive_per_sample_grads,
                              per_sample_grads, quadrature_moments, slq_density, synthetic, torch_threads)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with torch_threads(1):
        yield


def net(model="mlp", loss="cross_entropy", hidden=(6,), n=64, seed=0, device="cpu"):
    """A tiny float64 net on seeded clusters, at parameters moved off the initialisation (a non-convex point)."""
    data = synthetic(n, n_features=16 if model == "cnn" else 6, n_classes=3, as_image=(model == "cnn"), seed=seed,
                     device=device)
    m = build_model(model, data, seed=seed, hidden=hidden, channels=(2, 2), loss=loss, device=device)
    theta = m.theta() + 0.5 * torch.randn(m.n_params, generator=torch.Generator().manual_seed(1),
                                          dtype=torch.float64).to(device)
    return m, theta, data


@pytest.fixture(scope="module")
def mlp():
    m, theta, data = net()
    return m, theta, data, dense_hessian(m, theta, data.X, data.y).numpy()


def test_hutchinson_trace_within_standard_errors_and_se_falls_like_root_n(mlp):
    m, theta, data, H = mlp
    tr = np.trace(H)
    sigma = np.sqrt(2 * (np.sum(H ** 2) - np.sum(np.diag(H) ** 2)))  # exact SD of one Rademacher probe
    for n in (100, 400, 1600):
        r = hessian_trace(m, theta, data.X, data.y, n_probes=n, seed=3)
        z = r["samples"]
        kurt = np.mean((z - z.mean()) ** 4) / z.var() ** 2
        rel_sd_of_se = np.sqrt((kurt - 1) / (4 * n))  # delta method for the sample SD
        ratio = r.params["se"] / (sigma / np.sqrt(n))
        print(f"n={n}: trace {r.params['trace']:.4f} +- {r.params['se']:.4f} vs dense {tr:.4f} "
              f"({(r.params['trace'] - tr) / r.params['se']:+.2f} SE); SE / (sigma/sqrt(n)) = {ratio:.3f} "
              f"(+- {rel_sd_of_se:.3f})")
        assert abs(r.params["trace"] - tr) <= 4 * r.params["se"]
        assert abs(ratio - 1) <= 4 * rel_sd_of_se
    # probes depend on the seed only: the same samples in other blocks and through the generic looped matvec
    r7 = hessian_trace(m, theta, data.X, data.y, n_probes=1600, seed=3, block=7)
    Ht = torch.as_tensor(H)
    rg = hutchinson_trace(lambda v: Ht @ v, m.n_params, n_probes=1600, seed=3)
    assert np.array_equal(r7["samples"], r["samples"])
    assert np.allclose(rg["samples"], r["samples"], rtol=0, atol=1e-12 * np.abs(H).sum())


def test_hutchinson_is_exact_on_a_diagonal_operator():
    # Rademacher probes: v^T diag(d) v = sum d for every probe (Gaussian probes would scatter)
    d = torch.linspace(-1.0, 3.0, 50, dtype=torch.float64)
    r = hutchinson_trace(lambda v: d * v, 50, n_probes=20, seed=0)
    assert np.allclose(r["samples"], float(d.sum()), rtol=0, atol=1e-12) and r.params["se"] < 1e-12


def test_slq_density_is_normalised_and_its_moments_are_the_dense_ones(mlp):
    m, theta, data, H = mlp
    P = m.n_params
    lam = np.linalg.eigvalsh(H)
    r = hessian_density(m, theta, data.X, data.y, n_runs=20, n_iter=20, seed=0)
    t, phi, sigma = r["t"], r["density"], r.params["sigma"]
    mass = np.trapezoid(phi, t)
    m1, se1 = quadrature_moments(r, 1)
    m2, se2 = quadrature_moments(r, 2)
    print(f"P={P}: mass {mass:.12f}; m1 {m1:.5f} +- {se1:.5f} vs tr H/P {np.trace(H) / P:.5f}; "
          f"m2 {m2:.5f} +- {se2:.5f} vs tr H^2/P {np.sum(H * H) / P:.5f}; nodes [{r['nodes'].min():.6f}, "
          f"{r['nodes'].max():.6f}] vs eigenvalues [{lam[0]:.6f}, {lam[-1]:.6f}]")
    assert abs(mass - 1) < 1e-6
    assert np.allclose(r["weights"].sum(axis=1), 1, rtol=0, atol=1e-12)
    assert abs(m1 - np.trace(H) / P) <= 4 * se1
    assert abs(m2 - np.sum(H * H) / P) <= 4 * se2
    # the broadened density on its grid carries the same mean, and the second moment plus sigma^2
    assert np.trapezoid(t * phi, t) == pytest.approx(m1, abs=1e-6 * np.abs(lam).max())
    assert np.trapezoid(t * t * phi, t) == pytest.approx(m2 + sigma ** 2, rel=1e-6)
    # support: Ritz values interlace (inside the spectrum) and the extreme ones converge to the extremes
    scale = lam[-1] - lam[0]
    assert lam[0] - 1e-10 * scale <= r["nodes"].min() <= lam[0] + 1e-6 * scale
    assert lam[-1] - 1e-6 * scale <= r["nodes"].max() <= lam[-1] + 1e-10 * scale
    assert t[0] < lam[0] and t[-1] > lam[-1]
    # runs are seeded: blocks of runs and the generic looped matvec give the same quadratures
    Ht = torch.as_tensor(H)
    rg = slq_density(lambda v: Ht @ v, P, n_runs=20, n_iter=20, seed=0)
    r3 = hessian_density(m, theta, data.X, data.y, n_runs=20, n_iter=20, seed=0, block=3)
    for other in (rg, r3):
        assert np.allclose(other["nodes"], r["nodes"], rtol=0, atol=1e-9 * scale)
        assert np.allclose(other["weights"], r["weights"], rtol=0, atol=1e-9)


@pytest.mark.parametrize("model, loss", [("mlp", "cross_entropy"), ("cnn", "cross_entropy"), ("mlp", "mse")])
def test_layer_top_eigenvalues_equal_the_dense_blocks(model, loss):
    # with MSE the last layer's blocks have exactly repeated eigenvalues (bias: (2/C + wd) I; weights: a
    # Kronecker product with I_C): a single Lanczos start sees one copy, the restarts find the others
    m, theta, data = net(model, loss=loss, hidden=(4,), n=24)
    H = dense_hessian(m, theta, data.X, data.y).numpy()
    res = layer_top_eigenvalues(m, theta, data.X, data.y, k=3)
    for name, s in layer_slices(m).items():
        ref = np.sort(np.linalg.eigvalsh(H[s, s]))[::-1][:3]  # k capped at the block size (biases of 2-3 entries)
        got = res[name]
        assert got.shape == ref.shape
        assert np.allclose(got, ref, rtol=0, atol=1e-10 * np.abs(H).max()), (name, got, ref)
    one = layer_top_eigenvalues(m, theta, data.X, data.y, k=1, layers=[m.names[0]])
    assert list(one.arrays) == [m.names[0]]


def test_loss_choice_matches_hand_computed_value_gradient_and_hessian():
    # a linear model z = W x + b (no hidden layer): J_k = dz_k/dtheta is known in closed form, theta = [W.ravel(), b]
    data = synthetic(20, n_features=4, n_classes=3, seed=2, device="cpu")
    X, y = data.X.numpy(), data.y.numpy()
    N, F, C, wd = 20, 4, 3, 1e-3
    for loss in ("mse", "cross_entropy"):
        m = build_model("mlp", data, seed=0, hidden=(), loss=loss, device="cpu")
        theta = m.theta()
        th = theta.numpy()
        W, b = th[:C * F].reshape(C, F), th[C * F:]
        Z = X @ W.T + b
        J = np.zeros((N, C, m.n_params))
        for c in range(C):
            J[:, c, c * F:(c + 1) * F] = X
            J[:, c, C * F + c] = 1.0
        if loss == "mse":  # l = (1/C) |z - e_y|^2: dl/dz = (2/C) r, d2l/dz2 = (2/C) I
            R = Z - np.eye(C)[y]
            value = np.mean(np.sum(R ** 2, 1) / C)
            dz, d2z = 2 / C * R, np.broadcast_to(2 / C * np.eye(C), (N, C, C))
        else:  # l = logsumexp(z) - z_y: dl/dz = p - e_y, d2l/dz2 = diag(p) - p p^T
            p = np.exp(Z - Z.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            value = np.mean(np.log(np.exp(Z).sum(1)) - Z[np.arange(N), y])
            dz = p - np.eye(C)[y]
            d2z = np.einsum("ki,ij->kij", p, np.eye(C)) - np.einsum("ki,kj->kij", p, p)
        value += wd / 2 * th @ th
        grad = np.einsum("kcp,kc->p", J, dz) / N + wd * th
        hess = np.einsum("kcp,kcd,kdq->pq", J, d2z, J) / N + wd * np.eye(m.n_params)
        assert float(m.loss(theta, data.X, data.y)) == pytest.approx(value, rel=1e-13)
        g = torch.func.grad(m.loss)(theta, data.X, data.y).numpy()
        assert np.allclose(g, grad, rtol=0, atol=1e-13 * np.abs(grad).max())
        H = dense_hessian(m, theta, data.X, data.y).numpy()
        assert np.allclose(H, hess, rtol=0, atol=1e-13 * np.abs(hess).max())
        assert m.config["loss"] == loss
    # the documented identity with torch's own MSE on one-hot targets (mean over samples and classes)
    mse, th, d6 = net(loss="mse")
    ref = (torch.nn.functional.mse_loss(mse.logits(th, d6.X), torch.nn.functional.one_hot(d6.y, 3).double())
           + 0.5 * mse.weight_decay * th.dot(th))
    assert float(mse.loss(th, d6.X, d6.y)) == pytest.approx(float(ref), rel=1e-14)
    # per-sample gradients (vmap) work with the MSE loss too
    G, G_ref = per_sample_grads(mse, th, d6.X, d6.y), naive_per_sample_grads(mse, th, d6.X, d6.y)
    assert torch.allclose(G, G_ref, rtol=0, atol=1e-13 * float(G_ref.abs().max()))


def test_bad_input_raises_naming_the_parameter(mlp):
    m, theta, data, _ = mlp
    X, y = data.X, data.y
    with pytest.raises(ValueError, match="n_probes"):
        hessian_trace(m, theta, X, y, n_probes=0)
    with pytest.raises(ValueError, match="loss"):
        build_model("mlp", data, loss="hinge", device="cpu")
    with pytest.raises(ValueError, match="loss"):
        FlatModel(m.module, loss="l1")
    nan_theta = theta.clone()
    nan_theta[0] = float("nan")
    with pytest.raises(ValueError, match="theta"):
        hessian_trace(m, nan_theta, X, y)
    with pytest.raises(ValueError, match="theta"):
        hessian_density(m, theta[:-1], X, y)
    nan_X = X.clone()
    nan_X[0, 0] = float("inf")
    with pytest.raises(ValueError, match="X"):
        layer_top_eigenvalues(m, theta, nan_X, y)
    with pytest.raises(ValueError, match="y"):
        hessian_trace(m, theta, X, y + 3)
    with pytest.raises(ValueError, match="n_runs"):
        hessian_density(m, theta, X, y, n_runs=0)
    with pytest.raises(ValueError, match="n_iter"):
        hessian_density(m, theta, X, y, n_iter=0)
    with pytest.raises(ValueError, match="sigma"):
        hessian_density(m, theta, X, y, sigma=float("nan"))
    with pytest.raises(ValueError, match="n_points"):
        hessian_density(m, theta, X, y, n_iter=5, sigma=1e-6, n_points=100)
    with pytest.raises(ValueError, match="n_points must be >= 225"):
        hessian_density(m, theta, X, y, n_points=100)
    with pytest.raises(ValueError, match="layers"):
        layer_top_eigenvalues(m, theta, X, y, layers=["no.such.weight"])
    with pytest.raises(ValueError, match="k must"):
        layer_top_eigenvalues(m, theta, X, y, k=0)
    with pytest.raises(ValueError, match="matvec"):
        hutchinson_trace(lambda v: v * float("nan"), 5, n_probes=2)
    with pytest.raises(ValueError, match="matvec"):
        slq_density(lambda v: v[:-1], 5, n_iter=3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_gives_the_cpu_results():
    m, theta, data = net()
    mc, thc, dc = net(device="cuda")
    assert thc.device.type == "cuda"
    for f, kw in ((hessian_trace, {"n_probes": 64}), (hessian_density, {"n_runs": 4, "n_iter": 20}),
                  (layer_top_eigenvalues, {"k": 2})):
        a, b = f(m, theta, data.X, data.y, **kw), f(mc, thc, dc.X, dc.y, **kw)
        for name in a.arrays:
            assert np.allclose(a[name], b[name], rtol=1e-8, atol=1e-10), (f.__name__, name)
