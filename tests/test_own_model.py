"""A user's own network, loss and data: FlatModel with torch criteria and callables, DataLoader input, and the
torch.func pitfalls as errors. References are dense and independent of the package: per-sample gradients from
one autograd backward per sample through the module itself, Hessians from torch.autograd.functional.hessian of
a hand-written forward of the flat parameter vector."""
import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pde_sgd.networks import (FlatModel, as_dataset, check_theory, diffusion_factor, hessian_top, per_sample_grads,
                              torch_threads)

N, D_IN, H, D_OUT = 24, 3, 5, 2
WD = 1e-3


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with torch_threads(1):
        yield


def mlp(seed=0, d_out=D_OUT):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(D_IN, H), nn.Tanh(), nn.Linear(H, d_out)).double()


def regression_data(seed=0, d_out=D_OUT):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(N, D_IN, generator=g, dtype=torch.float64)
    y = torch.sin(X[:, :d_out] * 2.0) + 0.3 * torch.randn(N, d_out, generator=g, dtype=torch.float64)
    return X, y


def forward_flat(theta, X):
    """The MLP written out by hand on slices of theta (named_parameters order: W1, b1, W2, b2)."""
    i = 0
    parts = []
    for shape in ((H, D_IN), (H,), (D_OUT, H), (D_OUT,)):
        n = int(np.prod(shape))
        parts.append(theta[i:i + n].reshape(shape))
        i += n
    W1, b1, W2, b2 = parts
    return torch.tanh(X @ W1.T + b1) @ W2.T + b2


def huber(out, t, delta=0.5):  # elementwise Huber, written out (reference for nn.HuberLoss)
    a = (out - t).abs()
    return torch.where(a < delta, 0.5 * a ** 2, delta * (a - 0.5 * delta))


def log_cosh(out, t):  # a user's callable: per-sample losses (N,)
    return torch.log(torch.cosh(out - t)).sum(-1)


CASES = {  # name: (loss given to FlatModel, per-sample reference loss of (outputs (n, k), targets (n, k)), wd)
    "huber": (nn.HuberLoss(reduction="none", delta=0.5), lambda o, t: huber(o, t).mean(-1), 0.0),
    "callable": (log_cosh, log_cosh, WD),
}


def reference_grads(module, X, y, per_sample, wd):
    """One backward pass per sample through the module's own parameters."""
    rows = []
    for k in range(X.shape[0]):
        module.zero_grad()
        loss = per_sample(module(X[k:k + 1]), y[k:k + 1]).sum()
        loss = loss + 0.5 * wd * sum((p ** 2).sum() for p in module.parameters())
        rows.append(torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, list(module.parameters()))]))
    return torch.stack(rows)


@pytest.mark.parametrize("case", sorted(CASES))
def test_own_loss_D_spectrum_and_hessian_top_against_dense_references(case):
    loss, per_sample, wd = CASES[case]
    module = mlp()
    X, y = regression_data()
    model = FlatModel(module, wd, loss=loss)
    theta = model.theta()
    G_ref = reference_grads(module, X, y, per_sample, wd)
    C = G_ref - G_ref.mean(0)
    D_ref = C.T @ C / N  # the 1/N covariance of one sampled gradient
    ev_ref = torch.linalg.eigvalsh(D_ref).flip(0).numpy()
    fac = diffusion_factor(model, theta, X, y)
    spec = fac.spectrum()
    assert np.allclose(spec, np.clip(ev_ref, 0, None), rtol=0, atol=1e-10 * ev_ref[0])
    assert np.allclose(per_sample_grads(model, theta, X, y).numpy(), G_ref.numpy(), rtol=0,
                       atol=1e-12 * float(G_ref.abs().max()))

    def f(t):  # the mean loss of the hand-written forward, plus weight decay
        return per_sample(forward_flat(t, X), y).mean() + 0.5 * wd * (t * t).sum()
    Hd = torch.autograd.functional.hessian(f, theta)
    lam_ref = np.linalg.eigvalsh(Hd.numpy())[::-1]
    res = hessian_top(model, theta, X, y, 2, n_iter=model.n_params)
    print(f"{case}: D top {spec[:3]} vs {ev_ref[:3]}; H top {res['eigenvalues']} vs {lam_ref[:2]}")
    assert np.allclose(res["eigenvalues"], lam_ref[:2], rtol=0, atol=1e-10 * abs(lam_ref[0]))
    v = res["eigenvectors"][:, 0]
    assert np.allclose(Hd.numpy() @ v, lam_ref[0] * v, rtol=0, atol=1e-8 * abs(lam_ref[0]))


@pytest.mark.parametrize("name", ["mse_nk", "cross_entropy", "huber", "mse_k1"])
def test_per_sample_losses_average_to_the_criterions_mean(name):
    X, y = regression_data(seed=1)
    module = mlp(seed=1)
    crit = {"mse_nk": nn.MSELoss, "cross_entropy": nn.CrossEntropyLoss, "huber": nn.HuberLoss,
            "mse_k1": nn.MSELoss}[name]
    if name == "cross_entropy":
        y = (X[:, 0] > 0).long()
    elif name == "mse_k1":
        module = mlp(seed=1, d_out=1)
        y = y[:, :1]
    model = FlatModel(module, loss=crit(reduction="none"))
    theta = model.theta()
    with torch.no_grad():
        per, ref = model.sample_losses(theta, X, y), crit(reduction="mean")(module(X), y)
    assert per.shape == (N,)
    assert float(per.mean()) == pytest.approx(float(ref), rel=1e-14)
    if name == "mse_nk":  # l_k is the mean over the k outputs, not their sum
        assert torch.allclose(per, ((module(X) - y) ** 2).mean(1), rtol=1e-14, atol=0)


def test_dataloader_and_dataset_input_equal_tensor_input():
    X, y = regression_data()
    model = FlatModel(mlp(), loss=nn.HuberLoss(reduction="none"))
    theta = model.theta()
    ref = diffusion_factor(model, theta, X, y).spectrum()
    ds = TensorDataset(X, y)
    for source in (DataLoader(ds, batch_size=5), ds, as_dataset(X, y)):
        assert np.array_equal(diffusion_factor(model, theta, source).spectrum(), ref)
    d = as_dataset(DataLoader(ds, batch_size=5), n=7)
    assert torch.equal(d.X, X[:7]) and torch.equal(d.y, y[:7]) and d.n_classes == 0
    state = torch.get_rng_state()
    shuffled = DataLoader(ds, batch_size=5, shuffle=True)
    a, b, c = (as_dataset(shuffled, n=12, seed=s) for s in (3, 3, 4))
    assert torch.equal(a.X, b.X) and not torch.equal(a.X, c.X)  # same seed, same samples
    assert torch.equal(torch.get_rng_state(), state)  # the caller's RNG is left as it was
    full = as_dataset(shuffled, seed=3)  # a permutation of the data: the same D
    assert np.allclose(diffusion_factor(model, theta, full).spectrum(), ref, rtol=0, atol=1e-13 * ref[0])
    lab = as_dataset(X, (X[:, 0] > 0).long())
    assert lab.n_classes == 2
    with pytest.raises(ValueError, match=r"n must be in \[1, 24\]"):
        as_dataset(DataLoader(ds, batch_size=5), n=25)
    with pytest.raises(ValueError, match=r"\(inputs, targets\) pairs"):
        as_dataset(DataLoader(X, batch_size=5))
    with pytest.raises(TypeError, match="DataLoader"):
        as_dataset("digits")


class Counter(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(D_IN, D_OUT).double()
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x):
        self.calls += 1
        return self.lin(x)


class Noisy(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(D_IN, D_OUT).double()

    def forward(self, x):
        return self.lin(x + 0.1 * torch.randn_like(x))


def _bn():
    return nn.Sequential(nn.Linear(D_IN, H), nn.BatchNorm1d(H), nn.Tanh(), nn.Linear(H, D_OUT)).double()


def _drop():
    return nn.Sequential(nn.Linear(D_IN, H), nn.Dropout(0.2), nn.Tanh(), nn.Linear(H, D_OUT)).double()


MSE = nn.MSELoss(reduction="none")


@pytest.mark.filterwarnings("ignore:Using a target size")
@pytest.mark.parametrize("make, data, match", [
    (lambda: FlatModel(_bn(), loss=MSE), None, r"BatchNorm1d.*module\.eval\(\)"),
    (lambda: FlatModel(_drop(), loss=MSE), None, r"Dropout, p=0.2.*module\.eval\(\)"),
    (lambda: FlatModel(Noisy(), loss=MSE), None, r"forward is random.*module\.eval\(\)"),
    (lambda: FlatModel(Counter(), loss=MSE), None, r"forward changes the buffers \['calls'\]"),
    (lambda: FlatModel(mlp(), loss=MSE), "float32", r"X is torch.float32 but the parameters are torch.float64"),
    (lambda: FlatModel(mlp(d_out=1), loss=MSE), "y1", r"broadcast outputs \(4, 1\) against targets \(4,\)"),
    (lambda: FlatModel(mlp(), loss=MSE), "y1", r"loss failed on the first 4 samples.*size of tensor"),
    (lambda: FlatModel(mlp(), loss=lambda o, t: ((o - t) ** 2).mean()), None, r"single value.*per-sample"),
    (lambda: FlatModel(mlp(), loss=lambda o, t: (o - t) ** 2), None, r"shape \(4,\), got \(4, 2\)"),
    (lambda: FlatModel(mlp()), None, r"integer class labels.*loss=torch.nn.MSELoss"),
])
def test_torch_func_pitfalls_are_errors_that_say_what_to_do(make, data, match):
    X, y = regression_data()
    if data == "float32":
        X = X.float()
    elif data == "y1":
        y = y[:, 0]
    model = make()
    buffers = {n: b.clone() for n, b in model.module.named_buffers()}
    for call in (lambda: diffusion_factor(model, model.theta(), X, y),
                 lambda: hessian_top(model, model.theta(), X, y)):
        with pytest.raises(ValueError, match=match):
            call()
    for n, b in model.module.named_buffers():  # the checks leave the module as it was
        assert torch.equal(b, buffers[n])


def test_eval_mode_fixes_batchnorm_and_dropout():
    X, y = regression_data()
    for make in (_bn, _drop):
        module = make().eval()
        model = FlatModel(module, loss=MSE)
        G = per_sample_grads(model, model.theta(), X, y)
        assert G.shape == (N, model.n_params) and bool(torch.isfinite(G).all())


def test_a_criterion_that_reduces_is_refused_at_construction():
    for crit in (nn.MSELoss(), nn.CrossEntropyLoss(reduction="sum")):
        with pytest.raises(ValueError, match=r"reduction='none'"):
            FlatModel(mlp(), loss=crit)
    with pytest.raises(TypeError, match="loss must be one of"):
        FlatModel(mlp(), loss=3)


def test_check_theory_against_independent_references():
    """Noise scale and its jackknife SE against explicit leave-one-out loops over reference gradients; the
    minibatch covariance (autograd of batch losses) against D / B, with and without replacement."""
    loss, per_sample, wd = CASES["huber"]
    module = mlp()
    X, y = regression_data()
    model = FlatModel(module, wd, loss=loss)
    G = reference_grads(module, X, y, per_sample, wd)

    def b_noise(g):
        c = g - g.mean(0)
        return float((c * c).sum() / g.shape[0] / (g.mean(0) @ g.mean(0)))
    loo = np.array([b_noise(torch.cat([G[:i], G[i + 1:]])) for i in range(N)])
    se_ref = np.sqrt((N - 1) / N * np.sum((loo - loo.mean()) ** 2))
    B = 8
    for replacement in (True, False):
        r = check_theory(model, DataLoader(TensorDataset(X, y), batch_size=10), eta=0.05, batch_size=B, k=3,
                         n_batches=3000, replacement=replacement, sde=False, seed=1)
        ns, cov = r.params["noise_scale"], r.params["covariance"]
        assert ns["value"] == pytest.approx(b_noise(G), rel=1e-10)
        assert ns["se"] == pytest.approx(se_ref, rel=1e-8)
        ratio, ratio_se = np.array(cov["ratio"]), np.array(cov["ratio_se"])
        print(f"replacement={replacement}: ratio {ratio} +- {ratio_se}; max |z| {cov['max_abs_z_diagonal']:.2f}, "
              f"off {cov['max_abs_z_off_diagonal']:.2f}; B_noise {ns['value']:.4g} +- {ns['se']:.2g}")
        assert np.all(np.abs(ratio - 1) <= 4 * ratio_se) and r.params["agree"]["covariance"]
        assert np.all(ratio_se < 0.05)  # sqrt(2 / 3000) ~ 0.026: the finite-N factor 16/23 would be ~10 SE off
        D_top = np.linalg.eigvalsh(((G - G.mean(0)).T @ (G - G.mean(0)) / N).numpy())[::-1][:3]
        assert np.allclose(r["D_top"], D_top, rtol=1e-10)
        factor = 1.0 if replacement else (N - B) / (N - 1)  # sampling without replacement from N
        assert np.allclose(r["predicted_cov"], np.diag(D_top) * factor / B, rtol=0, atol=1e-12 * D_top[0])
    ex = check_theory(model, (X, y), eta=0.05, batch_size=B, n_batches=100, t_total=1.0, n_chains=6, n_saves=10,
                      seed=2).params["excess"]
    print(f"excess loss: SGD {ex['sgd']:.3g} +- {ex['sgd_se']:.2g}, SDE {ex['sde']:.3g} +- {ex['sde_se']:.2g}, "
          f"z {ex['z']:.2f}, quadratic prediction {ex['predicted_quadratic']:.3g}")
    assert abs(ex["z"]) <= 4 and ex["sgd_se"] > 0 and ex["sde_se"] > 0
    C = G - G.mean(0)
    assert ex["predicted_quadratic"] == pytest.approx(float((C * C).sum()) / N * 0.05 / (4 * B), rel=1e-10)


def test_the_own_model_example_against_dense_references():
    """The docs' example at small size: D's spectrum, the Hessian's top eigenvalues, trace and density moments
    against dense references; the theory check agrees."""
    from pde_sgd.networks.own_model_example import run
    out = run(64, hidden=6, n_steps=300)
    model, data, theta = out["model"], out["data"], out["theta"]
    module = model.module
    X, y = data.X, data.y
    # per-sample gradients through the module itself at theta (one backward each), Huber mean over outputs
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(theta, module.parameters())
    G = reference_grads(module, X, y, lambda o, t: huber(o, t).mean(-1), model.weight_decay)
    C = G - G.mean(0)
    ev = np.clip(np.linalg.eigvalsh((C.T @ C / X.shape[0]).numpy())[::-1], 0, None)
    assert np.allclose(out["D"].spectrum(), ev, rtol=0, atol=1e-10 * ev[0])
    W1, b1, W2, b2 = (p.detach() for p in module.parameters())
    shapes = [p.shape for p in (W1, b1, W2, b2)]

    def f(t):
        parts, i = [], 0
        for s in shapes:
            parts.append(t[i:i + s.numel()].reshape(s))
            i += s.numel()
        out_ = torch.tanh(X @ parts[0].T + parts[1]) @ parts[2].T + parts[3]
        return huber(out_, y).mean() + 0.5 * model.weight_decay * (t * t).sum()
    Hd = torch.autograd.functional.hessian(f, theta).numpy()
    lam = np.linalg.eigvalsh(Hd)[::-1]
    assert np.allclose(out["hessian_top"]["eigenvalues"], lam[:3], rtol=1e-8)
    tr = out["hessian_trace"].params
    assert abs(tr["trace"] - np.trace(Hd)) <= 4 * tr["se"]
    from pde_sgd.networks import quadrature_moments
    m1, se1 = quadrature_moments(out["hessian_density"], 1)
    assert abs(m1 - np.trace(Hd) / len(lam)) <= 4 * se1
    th = out["theory"].params
    print(f"example: D top {ev[:3]}, H top {lam[:3]}, trace {tr['trace']:.4g} +- {tr['se']:.2g} vs "
          f"{np.trace(Hd):.4g}; theory {th['covariance']['ratio']} agree {th['agree']}")
    assert th["agree"] == {"covariance": True, "excess": True}


def test_hessian_top_returns_a_result_that_still_unpacks_as_the_old_tuple():
    X, y = regression_data()
    model = FlatModel(mlp(), loss=MSE)
    res = hessian_top(model, model.theta(), DataLoader(TensorDataset(X, y), batch_size=5), k=2)
    assert res.kind == "networks.hessian_top" and res.params["n_samples"] == N
    with pytest.warns(DeprecationWarning, match="res\\['eigenvalues'\\]"):
        lam, vec = res
    assert torch.equal(lam, torch.from_numpy(res["eigenvalues"])) and vec.shape == (model.n_params, 2)
