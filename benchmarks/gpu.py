"""GPU readiness: the package's torch work timed on CUDA against the same work on CPU, results compared.

Tasks (float64, digits data, the MLP of the package's experiments):
  capture            per-sample gradients of all samples, D's low-rank factor, top-5 Hessian pairs (``capture``)
  hessian top-5      Lanczos on Hessian-vector products (``hessian_top``)
  hessian trace      Hutchinson, vmapped probes (``hessian_trace``)
  hessian density    stochastic Lanczos quadrature (``hessian_density``)
  batched training   8 MLPs trained together with vmap (``train_batched``)
  EntropySGD, ElasticSGD, Parle, VSGD, NudgedSGD: 20 steps of each optimizer on seeded mini-batches
  torchsde bridge    benchmarks/sde.py's 2-D SDE with a D(x) field, 10,000 paths x 1,000 Euler steps

Every random draw of these tasks except the bridge's Brownian motion comes from a seeded CPU generator, so CPU
and CUDA do the same arithmetic: their results must agree to rounding (the largest relative difference is
printed beside the times). The bridge's Brownian increments come from the device's generator: its ensembles
are compared in law (|difference of the means| / standard error, O(1)). On CUDA the bridge's f and g also run
under ``torch.cuda.set_sync_debug_mode("error")``: any host sync inside them is reported.

Devices come from the package's ``resolve_device``; every timer brackets the work with
``torch.cuda.synchronize()``; each time is the best of ``--repeats`` runs after one warm-up run (wall clock).
Without CUDA the script says "CUDA not available" and exits 0; ``--cpu-only`` then times the CPU side alone.
Run: python benchmarks/gpu.py [--threads 1] [--repeats 2] [--cpu-only] [--quick]   (under 5 minutes)
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import _common as C  # noqa: E402
from pde_sgd import Grid, landscapes  # noqa: E402
from pde_sgd.networks import (build_model, capture, digits, hessian_density, hessian_top,  # noqa: E402
                              hessian_trace, resolve_device, torch_threads)
from pde_sgd.networks.batched import stack_models, train_batched  # noqa: E402
from pde_sgd.optim import VSGD, ElasticSGD, EntropySGD, NudgedSGD, Parle  # noqa: E402
from pde_sgd.sde import torch_bridge as tb  # noqa: E402
from sde import diffusion_field  # noqa: E402  (benchmarks/sde.py: the same D(x) field)

Task = Callable[[torch.device], Callable[[], dict[str, np.ndarray]]]


def _numpy(**arrays) -> dict[str, np.ndarray]:
    return {k: (v.detach().cpu().numpy() if torch.is_tensor(v) else np.asarray(v)) for k, v in arrays.items()}


def _model(dev: torch.device, n: int | None):
    data = digits(n, device=dev)
    model = build_model("mlp", data, seed=0, hidden=(32,), device=dev)
    noise = torch.randn(model.n_params, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    return model, data, model.theta() + 0.05 * noise.to(dev)


def capture_task(n: int | None) -> Task:
    def make(dev):
        model, data, theta = _model(dev, n)
        return lambda: _numpy(**{k: v for k, v in capture(model, theta, data, eta=0.1, batch_size=32, step=0, seed=0,
                                                          k_hessian=5, n_store=32).arrays.items()
                                 if k in ("D_eigenvalues", "H_eigenvalues", "grad_mean")})
    return make


def hessian_task(kind: str, n: int) -> Task:
    def make(dev):
        model, data, theta = _model(dev, n)
        X, y = data.X, data.y
        if kind == "top":
            return lambda: _numpy(eigenvalues=hessian_top(model, theta, X, y, 5, seed=0)[0])
        if kind == "trace":
            return lambda: _numpy(samples=hessian_trace(model, theta, X, y, n_probes=64, seed=0)["samples"])
        return lambda: _numpy(density=hessian_density(model, theta, X, y, n_runs=8, n_iter=40, seed=0)["density"])
    return make


def batched_task(steps: int) -> Task:
    def make(dev):
        data = digits(device=dev)
        model, thetas = stack_models("mlp", data, range(8), hidden=(32,), device=dev)
        return lambda: _numpy(thetas=train_batched(model, thetas, data, eta=0.1, batch_size=32, n_steps=steps,
                                                   seeds=range(8)))
    return make


OPTIMIZERS = {"EntropySGD": lambda p: EntropySGD(p, lr=0.5, L=5, gamma=0.03, noise=1e-3, seed=1),
              "ElasticSGD": lambda p: ElasticSGD(p, n_replicas=4, lr=0.1, rho=0.1, seed=1),
              "Parle": lambda p: Parle(p, n_replicas=4, L=3, lr=0.1, rho=0.1, noise=1e-3, seed=1),
              "VSGD": lambda p: VSGD(p, lr=0.01),
              "NudgedSGD": lambda p: NudgedSGD(p, lr=0.1, gamma=0.5, k=2, update_every=5, n_iter=20)}


def optimizer_task(name: str, steps: int) -> Task:
    def make(dev):
        def run():
            data = digits(device=dev)
            module = build_model("mlp", data, seed=0, hidden=(32,), device=dev).module
            opt, gen = OPTIMIZERS[name](list(module.parameters())), torch.Generator().manual_seed(2)

            def loss():
                idx = data.batch_indices(64, gen)
                return torch.nn.functional.cross_entropy(module(data.X[idx]), data.y[idx])

            def closure():
                opt.zero_grad()
                value = loss()
                value.backward()
                return value
            for _ in range(steps):
                opt.step(loss if name == "NudgedSGD" else closure)
            return _numpy(theta=torch.cat([p.detach().reshape(-1) for p in module.parameters()]))
        return run
    return make


def bridge(dev: torch.device):
    """The bridge's module for benchmarks/sde.py's problem: the 2-D double well, D(x) on a 64 x 64 grid, beta 3."""
    grid = Grid([-3, -3], [3, 3], [64, 64])
    return tb.make_sde(landscapes.double_well(2), diffusion_field(grid), 3.0, grid=grid, device=str(dev))


def bridge_task(paths: int, steps: int) -> Task:
    def make(dev):
        sde = bridge(dev)
        return lambda: _numpy(x=tb.run(sde, [0.5, 0.0], T=0.01 * steps, dt=0.01, n_paths=paths, seed=1)["x"][-1])
    return make


def sync_check() -> str:
    """Run the bridge on CUDA with f and g under sync debug mode "error": 'none' or the error raised."""
    sde = bridge(resolve_device("cuda"))
    for name in ("f", "g"):
        method = getattr(sde, name)

        def strict(t, y, _method=method):
            torch.cuda.set_sync_debug_mode("error")
            try:
                return _method(t, y)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        setattr(sde, name, strict)
    try:
        tb.run(sde, [0.5, 0.0], T=0.5, dt=0.01, n_paths=1000, seed=1)
    except RuntimeError as exc:
        return f"SYNC inside f/g: {str(exc).splitlines()[0]}"
    return "none"


def timed(make: Task, dev: torch.device, repeats: int) -> tuple[float, dict[str, np.ndarray]]:
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    sync()
    return C.best_after_warmup(make(dev), repeats, sync)


def difference(name: str, a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> str:
    """Largest relative difference over the result arrays; for the bridge, |mean difference| / SE."""
    if name == "torchsde bridge":
        xa, xb = a["x"], b["x"]
        se = np.sqrt(xa.var(0) / len(xa) + xb.var(0) / len(xb))
        return f"|mean diff|/SE {np.max(np.abs(xa.mean(0) - xb.mean(0)) / se):.2f}"
    rel = max(float(np.max(np.abs(a[k] - b[k])) / max(np.max(np.abs(b[k])), 1e-300)) for k in a)
    return f"max rel diff {rel:.1e}"


def tasks(quick: bool) -> dict[str, Task]:
    n, steps = (256, 5) if quick else (None, 20)
    out = {"capture": capture_task(n), "hessian top-5": hessian_task("top", n or 512),
           "hessian trace": hessian_task("trace", n or 512), "hessian density": hessian_task("density", n or 512),
           "batched training": batched_task(20 if quick else 200)}
    out.update({name: optimizer_task(name, steps) for name in OPTIMIZERS})
    out["torchsde bridge"] = bridge_task(*((1000, 100) if quick else (10_000, 1_000)))
    return out


def compare(devices: list[torch.device], quick: bool, repeats: int) -> None:
    """Time every task on each device; with two devices, the ratio and the difference of the results."""
    rows = []
    for name, make in tasks(quick).items():
        times, results = zip(*(timed(make, dev, repeats) for dev in devices))
        rows.append((name, *(f"{t:.3f}" for t in times),
                     *((f"{times[0] / times[1]:.1f}x", difference(name, results[1], results[0]))
                       if len(devices) == 2 else ())))
        print("  ".join(rows[-1]), flush=True)
    header = ["task"] + [f"{dev.type} s" for dev in devices]
    header += [f"{devices[0].type}/{devices[1].type}", "difference"] if len(devices) == 2 else []
    print()
    C.table(header, rows, ["s"] * len(header))


def main() -> int:
    ap = C.parser(__doc__.split("\n")[0])
    ap.set_defaults(repeats=2)
    ap.add_argument("--cpu-only", action="store_true", help="time the CPU side alone (e.g. without CUDA)")
    ap.add_argument("--quick", action="store_true", help="small sizes (checks the script, not the speed)")
    ns = ap.parse_args()
    cuda = torch.cuda.is_available()
    if not cuda and not ns.cpu_only:
        print("CUDA not available: nothing to compare (run with --cpu-only to time the CPU side alone)")
        return 0
    threads = C.set_threads(ns.threads, "wall")
    devices = [resolve_device("cpu")] + ([] if ns.cpu_only else [resolve_device("cuda")])
    if not ns.cpu_only:
        print(f"CUDA device: {torch.cuda.get_device_name()}")
    print(f"torch {torch.__version__}, float64, best of {ns.repeats} after a warm-up, wall clock, "
          f"CPU on {threads} thread(s)")
    start = time.perf_counter()
    with torch_threads(threads):
        compare(devices, ns.quick, ns.repeats)
    if not ns.cpu_only:
        print(f"host syncs inside the bridge's f and g on CUDA: {sync_check()}")
    print(f"total {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
