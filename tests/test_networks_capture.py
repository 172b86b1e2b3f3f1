"""Capture of D and Hessian spectra on tiny float64 networks (CPU): exactness against naive references."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from pde_sgd.networks import (build_model, capture, covariance_dense, dense_hessian, diffusion_factor,
                              diffusion_from_grads, hessian_top, hvp_fn, lanczos, load_capture,
                              naive_per_sample_grads, per_sample_grads, projected_covariance, resolve_device, save_capture, sgd_iterates, synthetic,
                              torch_threads, track_hessian, train)
from pde_sgd.networks import capture_along_training, validate_capture
from pde_sgd.networks.capture_cli import main as capture_main


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with torch_threads(1):
        yield


def tiny(n=24, model="mlp", seed=0):
    data = synthetic(n, n_features=16, n_classes=3, as_image=(model == "cnn"), seed=seed, device="cpu")
    net = build_model(model, data, seed=seed, hidden=(3,), channels=(2, 2), device="cpu")
    return net, data


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_per_sample_grads_equal_naive_loop(model):
    net, data = tiny(model=model)
    theta = net.theta() + 0.3 * torch.randn(net.n_params, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    G = per_sample_grads(net, theta, data.X, data.y)
    G_ref = naive_per_sample_grads(net, theta, data.X, data.y)
    assert G.shape == (data.n, net.n_params)
    scale = G_ref.abs().max()
    assert float((G - G_ref).abs().max() / scale) < 1e-12
    D, D_ref = covariance_dense(G), covariance_dense(G_ref)
    assert float((D - D_ref).abs().max() / D_ref.abs().max()) < 1e-10
    assert torch.allclose(per_sample_grads(net, theta, data.X, data.y, chunk_size=5), G, rtol=0, atol=1e-14 * scale)


@pytest.mark.parametrize("n", [24, 400])  # P = 63 > N (Gram branch) and P < N (direct branch)
def test_low_rank_factor_reproduces_dense_covariance(n):
    net, data = tiny(n=n)
    theta = net.theta()
    G = naive_per_sample_grads(net, theta, data.X, data.y)
    D_ref = covariance_dense(G)
    fac = diffusion_factor(net, theta, data.X, data.y, n_vectors=min(n, net.n_params))
    V = fac.eigenvectors
    D = V @ torch.diag(fac.eigenvalues[:V.shape[1]]) @ V.T
    assert float((D - D_ref).abs().max() / D_ref.abs().max()) < 1e-10
    ref_eigs = np.sort(np.linalg.eigvalsh(D_ref.numpy()))[::-1]
    assert np.allclose(fac.spectrum(), np.clip(ref_eigs, 0, None), rtol=0, atol=1e-12 * ref_eigs[0])
    v = torch.randn(net.n_params, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(fac.matvec(v), D_ref @ v, atol=1e-12 * float(D_ref.abs().max()) * net.n_params)
    B = torch.linalg.qr(torch.randn(net.n_params, 2, dtype=torch.float64))[0]
    assert torch.allclose(fac.project(B), B.T @ D_ref @ B, atol=1e-12)
    assert torch.allclose(projected_covariance(G, B), B.T @ D_ref @ B, atol=1e-13)
    assert torch.allclose(fac.grad_mean, G.mean(0), atol=1e-14)


def test_rank_and_statistics_of_a_known_low_rank_set():
    gen = torch.Generator().manual_seed(0)
    r, N, P = 7, 50, 300  # gradients in a 7-dim affine family: centred rank exactly 7
    G = torch.randn(N, r, generator=gen, dtype=torch.float64) @ torch.randn(r, P, generator=gen, dtype=torch.float64)
    G = G + torch.randn(P, generator=gen, dtype=torch.float64)
    fac = diffusion_from_grads(G)
    s = fac.stats(eta=0.1, batch_size=10)
    assert fac.rank() == r and s["rank_fraction"] == r / P
    assert fac.eigenvectors.shape == (P, r)
    spec = fac.spectrum()
    assert spec.shape == (P,) and np.all(np.diff(spec) <= 0)
    D_ref = covariance_dense(G).numpy()
    assert np.isclose(s["mean"], np.trace(D_ref) / P, rtol=1e-12)
    assert np.isclose(s["std"], np.linalg.eigvalsh(D_ref).std(), rtol=1e-8)
    assert np.isclose(s["noise_scale"], 0.1 * (N / 10 - 1)) and np.isclose(s["noise_scale_approx"], 0.1 * N / 10)
    with pytest.raises(ValueError, match="grads"):
        diffusion_from_grads(G[:1])


def test_hvp_and_lanczos_match_dense_hessian():
    net, data = tiny(n=40)
    theta = net.theta()
    H = dense_hessian(net, theta, data.X, data.y)
    assert torch.allclose(H, H.T, atol=1e-14)
    v = torch.randn(net.n_params, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(hvp_fn(net, theta, data.X, data.y)(v), H @ v, atol=1e-13)
    ref = np.linalg.eigvalsh(H.numpy())[::-1]
    k = 4
    res = hessian_top(net, theta, data.X, data.y, k, n_iter=net.n_params)  # full Krylov space: exact
    lam, vec = torch.from_numpy(res["eigenvalues"]), torch.from_numpy(res["eigenvectors"])
    assert np.allclose(lam.numpy(), ref[:k], rtol=0, atol=1e-10 * abs(ref[0]))
    assert torch.allclose(vec.T @ vec, torch.eye(k, dtype=torch.float64), atol=1e-12)
    assert float((H @ vec - vec * lam).abs().max()) < 1e-9 * abs(ref[0])
    # partial Krylov space: top pairs converge
    lam40 = torch.from_numpy(hessian_top(net, theta, data.X, data.y, 2, n_iter=40)["eigenvalues"])
    assert np.allclose(lam40.numpy(), ref[:2], rtol=1e-8)


def test_lanczos_on_known_spectrum_and_bad_input():
    d = torch.linspace(-3.0, 5.0, 200, dtype=torch.float64)
    lam, vec = lanczos(lambda v: d * v, 200, 3, n_iter=80)
    assert np.allclose(lam.numpy(), d.numpy()[::-1][:3], atol=1e-8)
    lam_inv, _ = lanczos(lambda v: torch.cat([v[:2] * 2.0, 0 * v[2:]]), 10, 1)  # rank-2 operator: early breakdown
    assert np.isclose(float(lam_inv[0]), 2.0)
    with pytest.raises(ValueError, match="k must be"):
        lanczos(lambda v: v, 5, 6)
    with pytest.raises(ValueError, match="n_iter"):
        lanczos(lambda v: v, 50, 5, n_iter=3)


def _capture(tmp_path):
    net, data = tiny(n=30)
    res = capture(net, net.theta(), data, eta=0.05, batch_size=5, step=0, seed=0, k_hessian=3, n_store=10)
    base = tmp_path / "cap"
    save_capture(res, base)
    return res, base


def test_capture_round_trip_bit_for_bit(tmp_path):
    res, base = _capture(tmp_path)
    back = load_capture(base)
    assert sorted(back.arrays) == sorted(res.arrays)
    for k, a in res.arrays.items():
        assert back[k].dtype == a.dtype and back[k].tobytes() == a.tobytes(), k
    assert back.params == json.loads(json.dumps(res.params))
    for key in ("model", "data", "step", "eta", "batch_size", "seed", "device"):
        assert key in back.params
    assert back.params["D_stats"]["noise_scale"] == pytest.approx(0.05 * (30 / 5 - 1))
    net, data = tiny(n=30)  # D_in_H_basis is V_H^T D V_H of the full D, though only 10 eigenvectors are stored
    D_ref = covariance_dense(naive_per_sample_grads(net, net.theta(), data.X, data.y)).numpy()
    V = back["H_eigenvectors"]
    assert np.allclose(back["D_in_H_basis"], V.T @ D_ref @ V, rtol=0, atol=1e-13)
    assert back["D_eigenvectors"].shape[1] == 10


def test_corrupt_or_mismatched_capture_raises(tmp_path):
    res, base = _capture(tmp_path)
    npz, js = base.with_suffix(".npz"), base.with_suffix(".json")
    good_npz, good_js = npz.read_bytes(), js.read_text()
    npz.write_bytes(good_npz[: len(good_npz) // 2])
    with pytest.raises(ValueError, match="cannot be read"):
        load_capture(base)
    npz.write_bytes(good_npz)
    meta = json.loads(good_js)
    meta["params"]["n_params"] += 1
    js.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="changed after saving"):  # the Result pair's hash sees the edit first
        load_capture(base)
    wrong = type(res)(res.kind, res.arrays, dict(res.params, n_params=res.params["n_params"] + 1))
    with pytest.raises(ValueError, match="theta has shape"):  # and the capture check still sees the mismatch
        validate_capture(wrong)
    js.write_text(good_js[:-20])
    with pytest.raises(ValueError, match="not valid JSON"):
        load_capture(base)
    js.write_text(good_js)

    def broken(name, f):
        arrays = dict(res.arrays)
        arrays[name] = f(arrays[name].copy())
        return type(res)(res.kind, arrays, res.params)

    bad_sym = broken("D_in_H_basis", lambda a: a + np.triu(np.ones_like(a), 1) * a.max())
    with pytest.raises(ValueError, match="symmetric"):
        save_capture(bad_sym, tmp_path / "x")
    bad_psd = broken("D_in_H_basis", lambda a: a - 2 * np.abs(a).max() * np.eye(len(a)))
    with pytest.raises(ValueError, match="positive semi-definite"):
        save_capture(bad_psd, tmp_path / "x")
    bad_eig = broken("D_eigenvalues", lambda a: np.append(a[:-1], -a[0]))
    with pytest.raises(ValueError, match="positive semi-definite"):
        save_capture(bad_eig, tmp_path / "x")
    bad_vec = broken("H_eigenvectors", lambda a: a * 1.01)
    with pytest.raises(ValueError, match="orthonormal"):
        save_capture(bad_vec, tmp_path / "x")
    bad_nan = broken("theta", lambda a: a * np.nan)
    with pytest.raises(ValueError, match="theta contains NaN"):
        save_capture(bad_nan, tmp_path / "x")
    other = type(res)("hj.viscous", res.arrays, res.params)
    other.save(tmp_path / "other")
    with pytest.raises(ValueError, match="not a capture record"):
        load_capture(tmp_path / "other")


def test_hessian_tracking_records_requested_steps():
    net, data = tiny(n=40)
    res = track_hessian(net, data, eta=0.2, batch_size=8, n_steps=12, record_steps=[0, 6, 12], k=2, seed=0)
    assert res["steps"].tolist() == [0, 6, 12] and res["eigenvalues"].shape == (3, 2)
    assert np.all(res["eigenvalues"][:, 0] >= res["eigenvalues"][:, 1])
    again, theta = track_hessian(net, data, eta=0.2, batch_size=8, n_steps=12, record_steps=[6], k=2, seed=0,
                                 return_theta=True)
    assert torch.equal(theta, train(net, data, eta=0.2, batch_size=8, n_steps=12, seed=0))
    np.testing.assert_array_equal(again["eigenvalues"], res["eigenvalues"][1:2])
    with pytest.raises(ValueError, match="record_steps"):
        track_hessian(net, data, eta=0.2, batch_size=8, n_steps=12, record_steps=[13], seed=0)


def test_capture_cli_tiny_run(tmp_path, capsys):
    args = ["--model", "cnn", "--data", "synthetic", "--n-samples", "32", "--steps", "4", "--at", "0.5", "1",
            "--k", "2", "--out", str(tmp_path), "--no-progress"]
    assert capture_main(["--"] + args) == 0
    out = capsys.readouterr().out
    assert "rank" in out and "noise scale" in out
    for step in (2, 4):
        res = load_capture(tmp_path / f"cnn_synthetic_step{step}")
        assert res.params["step"] == step and res.params["model"]["model"] == "cnn"
    assert capture_main(args[:-3] + ["--eta", "-1", "--out", str(tmp_path)]) == 2
    assert "eta must be finite and > 0" in capsys.readouterr().out


def test_capture_cli_refuses_zero_steps(tmp_path, capsys):
    assert capture_main(["--data", "synthetic", "--n-samples", "32", "--steps", "0", "--out", str(tmp_path)]) == 2
    assert "--steps must be >= 1" in capsys.readouterr().out
    assert not list(tmp_path.iterdir())  # refused before any capture was written
    net, data = tiny(n=32)
    with pytest.raises(ValueError, match="n_steps must be"):
        capture_along_training(net, data, eta=0.1, batch_size=8, n_steps=0)


def test_device_and_bad_input():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="device"):
        resolve_device("tpu")
    with pytest.raises(ValueError, match="model"):
        build_model("resnet", synthetic(8, device="cpu"))
    with pytest.raises(ValueError, match="cnn"):
        build_model("cnn", synthetic(8, device="cpu"))
    with pytest.raises(ValueError, match="batch_size"):
        net, data = tiny()
        sgd_iterates(net, net.theta(), data, eta=0.1, batch_size=1000, n_steps=1, seed=0)


def test_import_pde_sgd_does_not_import_torch():
    code = "import sys, pde_sgd; pde_sgd.Grid; print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
