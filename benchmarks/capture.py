"""Benchmark: per-sample gradient covariance with torch.func (vmap + grad) vs a naive per-example loop, and the
top Hessian eigenvalues by Lanczos (HVPs) vs the dense Hessian + eigvalsh, on the digits MLP and CNN (float64).

Prints absolute times and ratios on CPU (``--threads``, default 1 like the package's experiments) and, when a
GPU is present, the same runs on CUDA. Both sides of every ratio: the best of ``--repeats`` runs after one
warm-up run (the warm-up is the fixed cost), the difference of their results beside the times.
Run: .venv-bench/bin/python benchmarks/capture.py [--threads 1] [--repeats 3]
"""
from __future__ import annotations

import os
import sys

import numpy as np
import torch

from pde_sgd.networks import (build_model, covariance_dense, dense_hessian, diffusion_from_grads, digits,
                              hessian_top, naive_per_sample_grads, per_sample_grads, torch_threads)

sys.path.insert(0, os.path.dirname(__file__))
import _common as C  # noqa: E402

N_COV = 512      # samples for the covariance
N_HESS = 256     # samples for the Hessian
K = 5            # top Hessian eigenvalues


def run(device: str, repeats: int) -> None:
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    data = digits(device=device)
    for name, kw in (("mlp", {"hidden": (32,)}), ("cnn", {"channels": (4, 8)})):
        model = build_model(name, data, seed=0, device=device, **kw)
        theta = model.theta() + 0.05 * torch.randn(model.n_params, dtype=torch.float64,
                                                   generator=torch.Generator().manual_seed(0)).to(device)
        X, y = data.X[:N_COV], data.y[:N_COV]
        t_vmap, G = C.best_after_warmup(lambda: per_sample_grads(model, theta, X, y), repeats, sync)
        t_loop, G_ref = C.best_after_warmup(lambda: naive_per_sample_grads(model, theta, X, y), repeats, sync)
        t_fac, fac = C.best_after_warmup(lambda: diffusion_from_grads(G), repeats, sync)
        t_dense, D = C.best_after_warmup(lambda: torch.linalg.eigvalsh(covariance_dense(G_ref)), repeats, sync)
        err_g = float((G - G_ref).abs().max() / G_ref.abs().max())
        err_eig = float(np.max(np.abs(fac.spectrum()[:50] - np.sort(D.cpu().numpy())[::-1][:50])) / D.max())
        print(f"[{device}] {name} P={model.n_params} N={N_COV}: per-sample grads vmap {t_vmap * 1e3:8.1f} ms, "
              f"loop {t_loop * 1e3:8.1f} ms, ratio loop/vmap {t_loop / t_vmap:6.1f}x (max rel diff {err_g:.1e})")
        print(f"[{device}] {name}   spectrum of D: low-rank factor {t_fac * 1e3:8.1f} ms, dense P x P eigvalsh "
              f"{t_dense * 1e3:8.1f} ms, ratio {t_dense / t_fac:6.1f}x (top-50 eigenvalue diff {err_eig:.1e} rel.)")
        Xh, yh = data.X[:N_HESS], data.y[:N_HESS]
        t_lz, (lam, _) = C.best_after_warmup(lambda: hessian_top(model, theta, Xh, yh, K), repeats, sync)
        t_dh, H = C.best_after_warmup(lambda: dense_hessian(model, theta, Xh, yh), repeats, sync)
        t_eig, ev = C.best_after_warmup(lambda: torch.linalg.eigvalsh(H), repeats, sync)
        ref = ev.flip(0)[:K]
        err = float((lam - ref).abs().max() / ref.abs().max())
        print(f"[{device}] {name}   top-{K} Hessian: Lanczos {t_lz * 1e3:8.1f} ms, dense Hessian + eigvalsh "
              f"{(t_dh + t_eig) * 1e3:8.1f} ms ({t_dh * 1e3:.0f} + {t_eig * 1e3:.0f}), ratio "
              f"{(t_dh + t_eig) / t_lz:6.1f}x (max rel diff {err:.1e})")


def main() -> None:
    args = C.parser(__doc__.split("\n")[0]).parse_args()
    threads = C.set_threads(args.threads, args.clock)
    print(f"torch {torch.__version__}; best of {args.repeats}; float64")
    with torch_threads(threads):
        run("cpu", args.repeats)
    if torch.cuda.is_available():
        print(f"CUDA device: {torch.cuda.get_device_name()}")
        run("cuda", args.repeats)
    else:
        print("no CUDA device here: CPU only")


if __name__ == "__main__":
    main()
