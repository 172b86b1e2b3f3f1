"""``pde-sgd train``: train a digits MLP or CNN with SGD, Entropy-SGD, Elastic-SGD, Parle, VSGD or Adam.

Examples::

    pde-sgd train --model mlp --optim entropy-sgd -L 20 --gamma 1e-4 --scoping 1e-3 --noise 1e-4 --epochs 5
    pde-sgd train --model cnn --optim parle -L 5 --replicas 3 --out runs/parle
    pde-sgd train --optim elastic-sgd --replicas 2 --distributed     # one torchrun process per replica (gloo)

Curves and final metrics go to ``OUT/result.npz`` + ``.json`` (a :class:`pde_sgd.Result`, written atomically);
checkpoints to ``OUT/checkpoint-*.pt``. Running the same command again after a crash, a kill or Ctrl-C resumes
from the last checkpoint and ends with the same result as an uninterrupted run; after a finished run it reports
that result. An OUT holding a run of other settings is refused (``--force`` replaces it). The flag names follow the
Entropy-SGD reference code (-L, --gamma, --scoping, --noise, --L2); options left out take the optimizer's default.
Several machines: start ``torchrun ... -m pde_sgd.training.cli --worker [options]`` on each node yourself.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from pathlib import Path

from ..validation import writable_folder
from ..validation import MAX_SEED
from .config import OPTIMIZERS, TrainConfig, check_device


def _seed(text: str) -> int:
    """--seed: an integer in [0, 2**63 - 1] (1e3 style accepted when it is a whole number in range)."""
    try:
        value = int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            value = None
        value = int(value) if value is not None and value.is_integer() and 0 <= value <= MAX_SEED else None
    if value is None or not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"--seed must be an integer in [0, 2**63 - 1], got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pde-sgd train", description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", choices=("mlp", "cnn"), default="mlp", help="digits model")
    p.add_argument("--optim", choices=OPTIMIZERS, default="sgd", help="optimizer")
    p.add_argument("-L", type=int, default=20, help="Langevin (inner) steps of Entropy-SGD / Parle (0: Nesterov SGD)")
    p.add_argument("--gamma", type=float, default=None, help="coupling gamma (entropy-sgd 1e-4, parle 1e-2)")
    p.add_argument("--scoping", type=float, default=1e-3, help="couplings grow as c (1 + scoping)^t")
    p.add_argument("--noise", type=float, default=None, help="Langevin noise (entropy-sgd 1e-4, parle 0)")
    p.add_argument("--inner-lr", type=float, default=0.1, help="inner (Langevin) step size")
    p.add_argument("--replicas", type=int, default=3, help="replicas of Elastic-SGD / Parle")
    p.add_argument("--rho", type=float, default=0.01, help="elastic coupling of the replicas (Elastic-SGD / Parle)")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (sgd 0.1, entropy-sgd 1, elastic-sgd 0.1, parle 0.1, vsgd 0.1, adam 1e-3)")
    p.add_argument("--momentum", type=float, default=0.9, help="Nesterov momentum (SGD family)")
    p.add_argument("--L2", type=float, default=0.0, help="weight decay (decoupled for vsgd)")
    p.add_argument("--batch-size", type=int, default=32, help="mini-batch size B")
    p.add_argument("--epochs", type=int, default=5, help="passes over the training set")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the initial weights, mini-batches and noise, "
                                                         "in [0, 2**63 - 1]")
    p.add_argument("--val-fraction", type=float, default=0.0,
                   help="fraction of the training digits held out for validation (val_loss, val_error curves)")
    p.add_argument("--hidden", type=int, default=32, help="MLP hidden width")
    p.add_argument("--loss", choices=("cross_entropy", "mse"), default="cross_entropy",
                   help="training loss: cross-entropy, or squared error to the one-hot target")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="parameter and data dtype")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:i or auto")
    p.add_argument("--vmap", choices=("auto", "on", "off"), default="auto",
                   help="replicas' gradients in one torch.func.vmap call (auto: on CUDA only; on the CPU one after "
                        "another is faster for these small models)")
    p.add_argument("--distributed", action="store_true", help="one torchrun process per replica (gloo on CPU)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads per process (kept in the checkpoint: resume with the same value)")
    p.add_argument("--checkpoint-every", type=int, default=100, help="outer steps between checkpoints")
    p.add_argument("--out", type=Path, default=Path("runs/train"), help="folder of the result and checkpoints")
    p.add_argument("--force", action="store_true",
                   help="replace a finished run or checkpoints of other settings in --out instead of refusing")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return p


def _config(ns: argparse.Namespace) -> TrainConfig:
    from ..networks import resolve_device
    device = check_device(str(resolve_device(ns.device)))
    return TrainConfig(model=ns.model, optim=ns.optim, lr=ns.lr, momentum=ns.momentum, L=ns.L, gamma=ns.gamma,
                       scoping=ns.scoping, noise=ns.noise, inner_lr=ns.inner_lr, replicas=ns.replicas, rho=ns.rho,
                       L2=ns.L2, batch_size=ns.batch_size, epochs=ns.epochs, seed=ns.seed, hidden=ns.hidden,
                       val_fraction=ns.val_fraction, loss=ns.loss,
                       dtype=ns.dtype, device=device, vmap=ns.vmap, distributed=ns.distributed,
                       threads=ns.threads)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(args: list[str], n_procs: int) -> int:
    """Run this module under torchrun on this machine (127.0.0.1), one process per replica; returns its status."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", f"--nproc-per-node={n_procs}",
           "--master-addr=127.0.0.1", f"--master-port={free_port()}", "-m", "pde_sgd.training.cli", *args, "--worker"]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    return subprocess.run(cmd, env=env).returncode


def _worker(cfg: TrainConfig, ns: argparse.Namespace) -> int:
    """A torchrun process: join the process group (gloo on CPU, nccl on CUDA) and train its replicas."""
    import torch
    import torch.distributed as dist

    from ..networks import torch_threads
    from .run import Trainer
    if cfg.device.startswith("cuda"):
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        cfg = TrainConfig(**{**cfg.to_dict(), "device": f"cuda:{torch.cuda.current_device()}"})
    dist.init_process_group("nccl" if cfg.device.startswith("cuda") else "gloo")
    try:
        with torch_threads(cfg.threads):
            Trainer(cfg, ns.out, rank=dist.get_rank(), world=dist.get_world_size(), progress=not ns.no_progress,
                    checkpoint_every=ns.checkpoint_every).run()
    finally:
        dist.destroy_process_group()
    return 0


def _run(cfg: TrainConfig, ns: argparse.Namespace, args: list[str]):
    """Train in this process, or under torchrun when distributed: the Result, or the exit status when the run
    stopped (130: interrupted; torchrun's own status)."""
    if ns.force:
        from .run import clear_run
        clear_run(ns.out)
    if not cfg.distributed:
        from .run import train
        res = train(cfg, ns.out, progress=not ns.no_progress, checkpoint_every=ns.checkpoint_every)
        return 130 if res is None else res
    status = launch([a for a in args if a != "--force"], cfg.replicas)
    if status or not (ns.out / "result.json").exists():
        return status or 130
    from ..results import Result
    return Result.load(ns.out / "result")


def main(args: list[str] | None = None) -> int:
    """Run the train command; returns the exit status (0 on success, 2 on bad input, 130 if interrupted)."""
    parser = _parser()
    args = list(sys.argv[1:] if args is None else args)
    args = args[1:] if args[:1] == ["--"] else args
    ns = parser.parse_args(args)
    try:
        if ns.checkpoint_every < 1:
            raise ValueError(f"--checkpoint-every must be >= 1, got {ns.checkpoint_every}")
        cfg = _config(ns)
        writable_folder(ns.out)
    except ValueError as exc:
        parser.print_usage()
        print(f"pde-sgd train: error: {exc}")
        return 2
    if ns.worker:
        return _worker(cfg, ns)
    try:
        res = _run(cfg, ns, args)
    except ValueError as exc:  # e.g. a run of other settings in --out, a checkpoint edited, batch size above N
        print(f"pde-sgd train: error: {exc}")
        return 2
    except OSError as exc:  # --out became read-only or full during the run
        print(f"pde-sgd train: error: cannot write to --out {ns.out}: {exc.strerror or exc} "
              f"({exc.filename or ns.out}); checkpoints written so far are intact")
        return 1
    if isinstance(res, int):
        return res
    p = res.params
    print(f"{cfg.optim} on {cfg.model}: final test error {p['final_test_error']:.4f} after {cfg.epochs} epochs "
          f"({p['steps']} steps, {res['wall_time'][-1]:.1f} s training); result in {ns.out / 'result'}.npz/.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
