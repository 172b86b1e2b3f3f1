"""One training run of a digits model with any of the package's optimizers, checkpointed and resumable.

Data: scikit-learn's digits split once (seed 0, so every run sees the same test set) into train and test, and,
with ``val_fraction`` > 0, a validation set held out of the training digits (curves ``val_loss``, ``val_error``).
Mini-batches: replica r (0 for single-model optimizers) draws B distinct training samples per gradient
evaluation from its own torch Generator seeded by ``replica_seed(seed, r)``; the closure is called once per
evaluation (L times per outer step for the Entropy-SGD family). Curves are taken at every epoch end (and
before training) on the reference parameters: full train and test loss and error; per outer step the mini-batch
loss and the optimizer's ``stats`` (Entropy-SGD's gradient norms and angle, VSGD's effective momentum, ...).

Checkpoints (``checkpoint-rank<k>-step<t>.pt``, written atomically every ``checkpoint_every`` steps, at each
epoch end and on Ctrl-C) hold the model, the optimizer (with its noise generators), the batch generators and the
curves: a run killed at any moment and started again with the same arguments ends with the same Result as an
uninterrupted one (the wall-clock curve aside). The last two generations are kept so that processes of a
distributed run always share a common step to resume from. A checkpoint is verified before it is used: the
SHA-256 of its payload (a header line), then its step against its name and its curves' lengths; a checkpoint of
another configuration (``threads`` included: torch's CPU sums are not bit-identical across thread counts) is
refused with the settings that differ. A finished run (``result.json``) of the same configuration is returned
as it is, one of another configuration is refused: ``force=True`` (``--force``) removes both before training.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import math
import signal
import time
from pathlib import Path

import numpy as np
import torch

from ..optim.replicas import replica_seed, stacked_grad_fn
from ..results import Result, atomic_write_bytes
from ..validation import positive_int
from .config import TrainConfig, build_optimizer


class Streams:
    """Per-replica mini-batch index generators (their states are part of a checkpoint)."""

    def __init__(self, seed: int, replica_ids: list[int], n: int, batch_size: int) -> None:
        if batch_size > n:
            raise ValueError(f"batch_size must be in [1, N_train={n}], got {batch_size}")
        self.ids, self.n, self.B = list(replica_ids), n, batch_size
        self.gens = {r: torch.Generator().manual_seed(replica_seed(seed, r)) for r in self.ids}

    def draw(self, replica: int) -> torch.Tensor:
        return torch.randperm(self.n, generator=self.gens[replica])[:self.B]

    def state(self) -> dict:
        return {r: g.get_state() for r, g in self.gens.items()}

    def load(self, state: dict) -> None:
        for r, s in state.items():
            self.gens[r].set_state(s)


CHECKPOINT_MAGIC = b"pde_sgd-checkpoint-v1 sha256="
THREADS_NOTE = (". A run is bit-identical on one thread count only (torch's CPU sums change order with the threads):"
                " resume it with the checkpoint's --threads")


def pack_checkpoint(state: dict) -> bytes:
    """The checkpoint file's bytes: a header line with the SHA-256 of the payload, then ``torch.save(state)``."""
    buf = io.BytesIO()
    torch.save(state, buf)
    payload = buf.getvalue()
    return CHECKPOINT_MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload


def unpack_checkpoint(path: Path) -> dict:
    """The state saved by :func:`pack_checkpoint` in ``path``; ValueError if the file is not one or was changed."""
    data = path.read_bytes()
    header, _, payload = data.partition(b"\n")
    if not header.startswith(CHECKPOINT_MAGIC):
        raise ValueError(f"checkpoint {path} is not a pde_sgd checkpoint (no verified header); remove it, or "
                         "use --force to start the run again")
    if hashlib.sha256(payload).hexdigest().encode() != header[len(CHECKPOINT_MAGIC):]:
        raise ValueError(f"checkpoint {path} is corrupt or was edited (SHA-256 mismatch); remove it to resume "
                         "from the previous one, or use --force to start the run again")
    return torch.load(io.BytesIO(payload), weights_only=True)


def split_digits(cfg: TrainConfig):
    """(train, validation, test) Datasets of digits on cfg.device: one fixed permutation (seed 0, the same for
    every run), its first test_fraction the test set, the next val_fraction of the remaining digits the
    validation set (None when val_fraction is 0), the rest the training set. The three never overlap."""
    from ..networks import Dataset, digits
    data = digits(dtype=cfg.dtype, device=cfg.device)
    perm = torch.as_tensor(np.random.default_rng(0).permutation(data.n), device=data.X.device)
    n_test = int(round(cfg.test_fraction * data.n))
    n_val = int(round(cfg.val_fraction * (data.n - n_test)))
    te, va, tr = perm[:n_test], perm[n_test:n_test + n_val], perm[n_test + n_val:]
    sets = [Dataset(data.X[i], data.y[i], 10, "digits", {"split": name}) for i, name in
            ((tr, "train"), (va, "validation"), (te, "test"))]
    return sets[0], (sets[1] if n_val else None), sets[2]


class Trainer:
    """Holds the model, optimizer, data and curves of one run; :meth:`run` trains to the end."""

    def __init__(self, cfg: TrainConfig, out: Path, *, rank: int = 0, world: int = 1, progress: bool = True,
                 checkpoint_every: int = 100) -> None:
        from ..networks import build_model
        from .config import check_device
        check_device(cfg.device)
        self.cfg, self.out, self.rank, self.world = cfg, Path(out), rank, world
        self.progress, self.checkpoint_every = progress and rank == 0, max(1, int(checkpoint_every))
        self.train, self.val, self.test = split_digits(cfg)
        self.flat = build_model(cfg.model, self.train, seed=cfg.seed, hidden=(cfg.hidden,), weight_decay=0.0,
                                loss=cfg.loss, dtype=cfg.dtype, device=cfg.device)
        self.module = self.flat.module
        self.opt = build_optimizer(cfg, self.module.parameters(), distributed=cfg.distributed)
        ids = getattr(self.opt, "replica_ids", [0])
        self.streams = Streams(cfg.seed, ids, self.train.n, cfg.batch_size)
        self.steps_per_epoch = math.ceil(self.train.n / cfg.batch_size)
        self.total = self.steps_per_epoch * cfg.epochs
        self.step, self.wall = 0, 0.0
        self.splits = [("train", self.train)] + ([("val", self.val)] if self.val is not None else []) + \
            [("test", self.test)]
        self.curves: dict[str, list[float]] = {k: [] for k in ("epoch", "wall_time")}
        self.curves.update({f"{split}_{q}": [] for split, _ in self.splits for q in ("loss", "error")})
        self.per_step: dict[str, list[float]] = {}
        self.resumed: list[int] = []
        self._stop = False
        if cfg.use_vmap:
            self._batched = stacked_grad_fn(self.module, self._mean_loss, self._stacked_batch, ids)
        else:
            self._batched = None

    # ---- gradients ----
    def _mean_loss(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The configured loss (cfg.loss) of outputs z against labels y, averaged over the batch."""
        return self.flat.output_losses(z, y).mean()

    def _stacked_batch(self, ids):
        idx = torch.stack([self.streams.draw(r) for r in ids]).to(self.train.X.device)
        return self.train.X[idx], self.train.y[idx]

    def _closure(self):
        idx = self.streams.draw(getattr(self.opt, "replica", None) or 0).to(self.train.X.device)
        self.opt.zero_grad()
        loss = self._mean_loss(self.module(self.train.X[idx]), self.train.y[idx])
        loss.backward()
        return loss

    def _one_step(self) -> float:
        if self._batched is not None:
            loss = self.opt.step(batched=self._batched)
        else:
            loss = self.opt.step(self._closure)
        for k, v in getattr(self.opt, "stats", {}).items():
            self.per_step.setdefault(f"stat_{k}", []).append(float(v))
        return float(loss.detach() if torch.is_tensor(loss) else loss)

    # ---- evaluation ----
    @torch.no_grad()
    def _evaluate(self) -> None:
        for split, d in self.splits:
            logits = self.module(d.X)
            self.curves[f"{split}_loss"].append(float(self._mean_loss(logits, d.y)))
            self.curves[f"{split}_error"].append(float((logits.argmax(1) != d.y).double().mean()))
        self.curves["epoch"].append(self.step / self.steps_per_epoch)
        self.curves["wall_time"].append(self.wall)

    # ---- checkpoints ----
    def _ckpt(self, step: int) -> Path:
        return self.out / f"checkpoint-rank{self.rank}-step{step}.pt"

    def _steps_on_disk(self) -> list[int]:
        return sorted(int(p.stem.rsplit("step", 1)[1]) for p in self.out.glob(f"checkpoint-rank{self.rank}-step*.pt"))

    def save_checkpoint(self) -> None:
        state = {"config": self.cfg.to_dict(), "step": self.step, "wall": self.wall, "curves": self.curves,
                 "per_step": self.per_step, "resumed": self.resumed, "model": self.module.state_dict(),
                 "optimizer": self.opt.state_dict(), "streams": self.streams.state()}
        atomic_write_bytes(self._ckpt(self.step), pack_checkpoint(state))
        self._barrier()
        for s in self._steps_on_disk()[:-2]:
            self._ckpt(s).unlink(missing_ok=True)

    def try_resume(self) -> bool:
        """Load the newest checkpoint that every process has; True if one was loaded."""
        steps = self._steps_on_disk()
        latest = torch.tensor(steps[-1] if steps else -1, device=self.train.X.device)  # nccl: on the GPU
        if self.cfg.distributed:
            import torch.distributed as dist
            dist.all_reduce(latest, op=dist.ReduceOp.MIN)
        if int(latest) < 0:
            return False
        path = self._ckpt(int(latest))
        state = unpack_checkpoint(path)
        if state["config"] != self.cfg.to_dict():
            raise ValueError(f"{self.out} holds a checkpoint of a different run "
                             f"({self.cfg.differences(state['config'])}); use another --out, the checkpoint's "
                             "settings, or --force to start again"
                             + THREADS_NOTE * (state["config"].get("threads") != self.cfg.threads))
        self._check_consistent(state, int(latest), path)
        self.module.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.streams.load(state["streams"])
        self.step, self.wall = state["step"], state["wall"]
        self.curves, self.per_step = state["curves"], state["per_step"]
        self.resumed = state["resumed"] + [self.step]
        return True

    def _check_consistent(self, state: dict, step: int, path: Path) -> None:
        """The checkpoint's step agrees with its name, the run's length and its curves (one loss per step, one
        evaluation at the start and per finished epoch), else ValueError naming the file."""
        n_losses = len(state["per_step"].get("step_loss", []))
        n_evals = len(state["curves"]["epoch"])
        if not (state["step"] == step and 0 <= step <= self.total and n_losses == step
                and n_evals == 1 + step // self.steps_per_epoch):
            raise ValueError(f"checkpoint {path} is inconsistent (step {state['step']!r} in a file named step {step}, "
                             f"{n_losses} step losses, {n_evals} evaluations, {self.total} steps in the run); remove "
                             "it to resume from the previous one, or use --force to start the run again")

    def finished(self) -> Result | None:
        """The finished Result in ``out`` if it was made with this configuration, None if there is none;
        ValueError if it was made with another one."""
        if not (self.out / "result.json").exists():
            return None
        done = Result.load(self.out / "result")
        if done.kind != "training.run" or done.params.get("config") != self.cfg.to_dict():
            what = self.cfg.differences(done.params["config"]) if done.kind == "training.run" else f"a {done.kind!r}"
            raise ValueError(f"{self.out} holds a finished run of another configuration ({what}); use another "
                             "--out, or --force to replace it")
        return done

    def _barrier(self) -> None:
        if self.cfg.distributed:
            import torch.distributed as dist
            dist.barrier()

    # ---- the run ----
    def run(self) -> Result | None:
        """Train to the end (resuming if a checkpoint is there); returns the Result (rank 0), None if stopped."""
        from tqdm.auto import tqdm
        self.out.mkdir(parents=True, exist_ok=True)
        done = self.finished()
        if done is not None:
            if self.progress:
                print(f"{self.out} already holds this run's result (same configuration); nothing to do")
            return done
        if not self.try_resume():
            self._evaluate()
        old = signal.signal(signal.SIGINT, self._on_sigint) if _main_thread() else None
        bar = tqdm(total=self.total, initial=self.step, disable=not self.progress, desc=self.cfg.optim)
        running = []
        try:
            while self.step < self.total:
                t0 = time.perf_counter()
                loss = self._one_step()
                self.wall += time.perf_counter() - t0
                self.step += 1
                self.per_step.setdefault("step_loss", []).append(loss)
                running = (running + [loss])[-50:]
                bar.update(1)
                if self.step % self.steps_per_epoch == 0:
                    self._evaluate()
                if self.progress and (self.step % 20 == 0 or self.step % self.steps_per_epoch == 0):
                    bar.set_postfix(loss=f"{np.mean(running):.3f}", test_acc=f"{1 - self.curves['test_error'][-1]:.3f}",
                                    refresh=False)
                self._agree_on_stop()
                if self.step % self.checkpoint_every == 0 or self.step % self.steps_per_epoch == 0 or self._stop:
                    self.save_checkpoint()
                if self._stop:
                    bar.close()
                    print(f"interrupted at step {self.step}/{self.total}; checkpoint in {self.out}; "
                          "run the same command again to resume")
                    return None
        finally:
            bar.close()
            if old is not None:
                signal.signal(signal.SIGINT, old)
        result = self.result()
        if self.rank == 0:
            result.save(self.out / "result")
        self._barrier()
        for s in self._steps_on_disk():
            self._ckpt(s).unlink(missing_ok=True)
        return result

    def _on_sigint(self, signum, frame) -> None:
        self._stop = True

    def _agree_on_stop(self) -> None:
        """Processes of a distributed run stop together: any one interrupted stops all at the same step."""
        if self.cfg.distributed:
            import torch.distributed as dist
            flag = torch.tensor(int(self._stop), device=self.train.X.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            self._stop = bool(flag)

    def result(self) -> Result:
        """The run's curves, per-step records and final reference parameters as a Result ``training.run``."""
        cfg = self.cfg
        arrays = {k: np.asarray(v, dtype=float) for k, v in {**self.curves, **self.per_step}.items()}
        arrays["effective_epoch"] = arrays["epoch"] * cfg.evaluations_per_step
        arrays["theta"] = self.flat.theta().double().cpu().numpy()
        params = {"config": cfg.to_dict(), "lr": cfg.learning_rate, "n_train": self.train.n,
                  "n_val": 0 if self.val is None else self.val.n, "n_test": self.test.n,
                  "n_params": self.flat.n_params, "steps_per_epoch": self.steps_per_epoch, "steps": self.total,
                  "evaluations_per_step": cfg.evaluations_per_step, "world_size": self.world,
                  "final_test_error": float(arrays["test_error"][-1]), "resumed_at": self.resumed,
                  "torch": torch.__version__}
        return Result("training.run", arrays, params)


def _main_thread() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


def clear_run(out: Path) -> None:
    """Remove a run's result and checkpoints from ``out`` (nothing else there)."""
    for path in [*Path(out).glob("checkpoint-rank*-step*.pt"), Path(out) / "result.npz", Path(out) / "result.json"]:
        path.unlink(missing_ok=True)


def train(cfg: TrainConfig, out: str | Path, *, progress: bool = False, checkpoint_every: int = 100,
          threads: int | None = None, force: bool = False) -> Result | None:
    """Run (or resume) ``cfg`` in this process, writing checkpoints and ``out/result.npz|json``.

    ``threads`` (torch CPU threads) replaces ``cfg.threads`` when given. A finished run of the same
    configuration in ``out`` is returned without training; one of another configuration, or a checkpoint of
    one, is a ValueError unless ``force`` (then both are removed first).
    """
    from ..networks import torch_threads
    if cfg.distributed:
        raise ValueError("distributed runs start with `pde-sgd train --distributed` (torchrun), not train()")
    if threads is not None:
        cfg = dataclasses.replace(cfg, threads=positive_int("threads", threads))
    if force:
        clear_run(Path(out))
    with torch_threads(cfg.threads):
        return Trainer(cfg, Path(out), progress=progress, checkpoint_every=checkpoint_every).run()
