"""Benchmark: time per step of the package's optimizers against torch.optim.SGD and Adam on the same model, and
Parle's n replicas in one process (vmapped, or one after another) against n torchrun processes (gloo, CPU).

1. Full steps (closure: mini-batch forward + backward + update) on the digits MLP and CNN (float32, batch 32):
   time per outer step and per gradient evaluation, relative to SGD (Nesterov) and Adam.
2. The update alone (gradients fixed in advance), where VSGD's target is <= 1.5x Adam.
3. Parle (L = 5, n replicas) through ``pde-sgd train``: vmapped in-process, sequential in-process, and
   ``--distributed`` (n torchrun processes on this machine); time per outer step from the runs' training clocks.

Each timing is the best of ``--repeats`` repetitions (the same count on every side) after a warm-up. Ratios are
what to read: absolute times depend on the machine and its load.
Run: .venv/bin/python benchmarks/optim.py [--threads 1] [--repeats 3] [--replicas 2] [--no-distributed]
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from pde_sgd.networks import build_model, digits, torch_threads
from pde_sgd.optim import VSGD, ElasticSGD, EntropySGD, Parle

sys.path.insert(0, os.path.dirname(__file__))
import _common as C  # noqa: E402

STEPS = 60
L = 5


def _optimizers(n_replicas: int) -> dict:
    return {"sgd": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
            "adam": lambda p: torch.optim.Adam(p, lr=1e-3),
            "vsgd": lambda p: VSGD(p, lr=0.1),
            "entropy-sgd L=0": lambda p: EntropySGD(p, lr=0.1, L=0),
            f"entropy-sgd L={L}": lambda p: EntropySGD(p, lr=1.0, L=L, gamma=1e-4, noise=1e-4),
            f"elastic-sgd n={n_replicas}": lambda p: ElasticSGD(p, n_replicas=n_replicas),
            f"parle n={n_replicas} L={L}": lambda p: Parle(p, n_replicas=n_replicas, L=L)}


def full_steps(model_name: str, device: str, repeats: int, n_replicas: int) -> dict[str, tuple[float, int]]:
    """{optimizer: (seconds per outer step, gradient evaluations per step)} with closures on mini-batches."""
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    data = digits(dtype="float32", device=device)
    gen = torch.Generator().manual_seed(0)
    out = {}
    for name, make in _optimizers(n_replicas).items():
        module = build_model(model_name, data, seed=0, dtype="float32", device=device).module
        opt = make(module.parameters())
        calls = [0]

        def closure():
            calls[0] += 1
            idx = torch.randint(0, data.n, (32,), generator=gen).to(device)
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(module(data.X[idx]), data.y[idx])
            loss.backward()
            return loss

        def run():
            for _ in range(STEPS):
                opt.step(closure)
        calls[0] = 0
        t = C.best_after_warmup(run, repeats, sync)[0]
        out[name] = (t / STEPS, calls[0] // ((repeats + 1) * STEPS))
    return out


def update_only(model_name: str, device: str, repeats: int) -> dict[str, float]:
    """{optimizer: seconds per update} with gradients fixed in advance (no forward/backward)."""
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    data = digits(dtype="float32", device=device)
    out = {}
    for name in ("sgd", "adam", "vsgd"):
        module = build_model(model_name, data, seed=0, dtype="float32", device=device).module
        for p in module.parameters():
            p.grad = torch.randn_like(p) * 1e-3
        opt = _optimizers(1)[name](module.parameters())

        def run():
            for _ in range(STEPS * 5):
                opt.step()
        out[name] = C.best_after_warmup(run, repeats, sync)[0] / (STEPS * 5)
    return out


def parle_engines(n: int, repeats: int, distributed: bool, threads: int) -> dict[str, float]:
    """Seconds per Parle outer step (L = 5, n replicas, MLP) for each engine, from ``pde-sgd train`` runs."""
    from pde_sgd import Result, cli
    args = ["--optim", "parle", "-L", str(L), "--replicas", str(n), "--epochs", str(repeats + 1), "--no-progress",
            "--threads", str(threads)]
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        engines = {"in-process vmapped": ["--vmap", "on"], "in-process sequential": ["--vmap", "off"]}
        if distributed:
            engines[f"{n} torchrun processes"] = ["--distributed"]
        for name, extra in engines.items():
            if cli.main(["train", *args, *extra, "--out", f"{tmp}/{len(out)}"]) != 0:
                raise RuntimeError(f"pde-sgd train failed for {name}")
            r = Result.load(Path(tmp) / str(len(out)) / "result")
            per_epoch = np.diff(r["wall_time"])[1:]   # the first epoch is the warm-up
            out[name] = float(per_epoch.min()) / r.params["steps_per_epoch"]
    return out


def main() -> None:
    ap = C.parser(__doc__.split("\n")[0])
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--no-distributed", action="store_true")
    ap.add_argument("--device", default="cpu")
    ns = ap.parse_args()
    ns.threads = C.set_threads(ns.threads, ns.clock)
    print(f"torch {torch.__version__}; {ns.threads} thread(s); best of {ns.repeats}; {STEPS} steps per timing; "
          f"float32, batch 32; device {ns.device}")
    with torch_threads(ns.threads):
        for model in ("mlp", "cnn"):
            res = full_steps(model, ns.device, ns.repeats, ns.replicas)
            sgd, adam = res["sgd"][0], res["adam"][0]
            print(f"\n[{model}] full step (closure + update)      ms/step  evals  ms/eval   x SGD  x Adam")
            for name, (t, evals) in res.items():
                print(f"  {name:<28} {t * 1e3:10.3f} {evals:6d} {t / evals * 1e3:8.3f} {t / sgd:7.2f} {t / adam:7.2f}")
            upd = update_only(model, ns.device, ns.repeats)
            print(f"[{model}] update only (gradients given)    us/update   x SGD  x Adam")
            for name, t in upd.items():
                print(f"  {name:<28} {t * 1e6:10.1f} {t / upd['sgd']:7.2f} {t / upd['adam']:7.2f}")
            print(f"  VSGD / Adam: full step {res['vsgd'][0] / adam:.2f}x, update only {upd['vsgd'] / upd['adam']:.2f}x "
                  "(target <= 1.5x)")
    eng = parle_engines(ns.replicas, ns.repeats, not ns.no_distributed, ns.threads)
    base = eng["in-process vmapped"]
    print(f"\n[mlp] Parle n={ns.replicas}, L={L}: ms per outer step (best epoch of {ns.repeats} after a warm-up one)")
    if not ns.no_distributed:
        print(f"  (unequal resources: the torchrun row uses {ns.replicas} processes x {ns.threads} thread(s), the "
              f"in-process rows {ns.threads} thread(s))")
    for name, t in eng.items():
        print(f"  {name:<28} {t * 1e3:10.3f}   x vmapped {t / base:6.2f}")


if __name__ == "__main__":
    main()
