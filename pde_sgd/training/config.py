"""The settings of one ``pde-sgd train`` run, validated, with each optimizer's defaults and construction."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..validation import choice, positive, positive_int, seed_int

OPTIMIZERS = ("sgd", "entropy-sgd", "elastic-sgd", "parle", "vsgd", "adam")
REPLICA_OPTIMIZERS = ("elastic-sgd", "parle")
ENTROPY_FAMILY = ("entropy-sgd", "parle")      # L gradient evaluations per outer step
# defaults that differ between optimizers (None in the config means "this optimizer's default")
DEFAULT_LR = {"sgd": 0.1, "entropy-sgd": 1.0, "elastic-sgd": 0.1, "parle": 0.1, "vsgd": 0.1, "adam": 1e-3}
DEFAULT_GAMMA = {"entropy-sgd": 1e-4, "parle": 1e-2}
DEFAULT_NOISE = {"entropy-sgd": 1e-4, "parle": 0.0}


@dataclass(frozen=True)
class TrainConfig:
    """One training run: ``model`` on scikit-learn's digits (a fixed seeded split, ``test_fraction`` held out as
    the test set; ``val_fraction`` of the remaining training digits held out as a validation set, never trained on),
    ``optim`` with its hyper-parameters (the Entropy-SGD reference code's names: L, gamma, scoping, noise, L2),
    ``epochs`` of ``steps_per_epoch`` = ceil(N_train / batch_size) outer steps, seeded by ``seed``. ``vmap``:
    "on", "off" or "auto" (on CUDA only: on the CPU the replicas one after another are faster here).
    ``loss``: "cross_entropy" or "mse" (squared error to the one-hot target, :class:`pde_sgd.networks.FlatModel`).
    ``threads``: torch CPU threads per process; part of the configuration because torch's CPU kernels sum in
    another order on another thread count, so a run is bit-identical (and resumable) on one thread count only."""

    model: str = "mlp"
    loss: str = "cross_entropy"
    optim: str = "sgd"
    lr: float | None = None
    momentum: float = 0.9
    L: int = 20
    gamma: float | None = None
    scoping: float = 1e-3
    noise: float | None = None
    inner_lr: float = 0.1
    replicas: int = 3
    rho: float = 0.01
    L2: float = 0.0
    batch_size: int = 32
    epochs: int = 5
    seed: int = 0
    hidden: int = 32
    test_fraction: float = 0.2
    val_fraction: float = 0.0
    dtype: str = "float32"
    device: str = "cpu"
    vmap: str = "auto"
    distributed: bool = False
    threads: int = 1

    def __post_init__(self) -> None:
        choice("optim", self.optim, OPTIMIZERS)
        choice("model", self.model, ("mlp", "cnn"))
        choice("loss", self.loss, ("cross_entropy", "mse"))
        choice("dtype", self.dtype, ("float32", "float64"))
        choice("vmap", self.vmap, ("auto", "on", "off"))
        positive_int("L", self.L, minimum=0 if self.optim == "entropy-sgd" else 1)
        positive_int("replicas", self.replicas)
        positive_int("batch_size", self.batch_size)
        positive_int("epochs", self.epochs)
        seed_int(self.seed)
        positive_int("hidden", self.hidden)
        positive_int("threads", self.threads)
        for name in ("lr", "gamma"):
            if getattr(self, name) is not None:
                positive(name, getattr(self, name))
        for name in ("scoping", "rho", "L2", "inner_lr"):
            positive(name, getattr(self, name), allow_zero=name != "inner_lr")
        if self.noise is not None:
            positive("noise", self.noise, allow_zero=True)
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {self.test_fraction!r}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction!r}")
        if self.distributed and self.optim not in REPLICA_OPTIMIZERS:
            raise ValueError(f"--distributed runs replicas: optim must be one of {REPLICA_OPTIMIZERS}, got {self.optim!r}")

    @property
    def use_vmap(self) -> bool:
        """Replicas vmapped (``vmap`` "on", or "auto" on CUDA) or one after another."""
        return self.optim in REPLICA_OPTIMIZERS and (self.vmap == "on" or
                                                     (self.vmap == "auto" and self.device.startswith("cuda")))

    @property
    def learning_rate(self) -> float:
        return DEFAULT_LR[self.optim] if self.lr is None else self.lr

    @property
    def evaluations_per_step(self) -> int:
        """Mini-batch gradients per replica per outer step (L for the Entropy-SGD family, else 1)."""
        return max(self.L, 1) if self.optim in ENTROPY_FAMILY else 1

    def to_dict(self) -> dict:
        """The settings as stored with a run; ``val_fraction`` only when nonzero and ``loss`` only when not the
        default cross-entropy, so that runs keep the configuration they were stored with before these existed."""
        d = dataclasses.asdict(self)
        if not d["val_fraction"]:
            del d["val_fraction"]
        if d["loss"] == "cross_entropy":
            del d["loss"]
        return d

    def differences(self, other: dict) -> str:
        """The settings in which the configuration ``other`` (a stored ``to_dict()``) differs from this one,
        as ``name stored -> this`` (empty when they agree)."""
        mine = self.to_dict()
        return ", ".join(f"{k} {other.get(k, '(absent)')!r} -> {mine.get(k, '(absent)')!r}"
                         for k in sorted(set(mine) | set(other)) if other.get(k, "(absent)") != mine.get(k, "(absent)"))


def check_device(device: str) -> str:
    """``device`` if torch can use it here, else ValueError naming it and what this machine has."""
    import torch
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r}: CUDA is not available here (torch {torch.__version__}, "
                             f"{'no GPU found' if torch.version.cuda else 'a CPU-only build'}); use --device cpu")
        index = torch.device(device).index
        if index is not None and index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                             f"cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    return device


def build_optimizer(cfg: TrainConfig, params, *, distributed: bool = False):
    """The torch optimizer ``cfg`` names, over ``params``."""
    import torch

    from ..optim import VSGD, ElasticSGD, EntropySGD, Parle
    lr, m, wd = cfg.learning_rate, cfg.momentum, cfg.L2
    if cfg.optim == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=m, nesterov=m > 0, weight_decay=wd)
    if cfg.optim == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if cfg.optim == "vsgd":
        return VSGD(params, lr=lr, weight_decay=wd)
    gamma = DEFAULT_GAMMA.get(cfg.optim, 0.0) if cfg.gamma is None else cfg.gamma
    noise = DEFAULT_NOISE.get(cfg.optim, 0.0) if cfg.noise is None else cfg.noise
    if cfg.optim == "entropy-sgd":
        return EntropySGD(params, lr=lr, momentum=m, L=cfg.L, inner_lr=cfg.inner_lr, gamma=gamma,
                          scoping=cfg.scoping, noise=noise, seed=cfg.seed, weight_decay=wd)
    common = {"lr": lr, "n_replicas": cfg.replicas, "momentum": m, "rho": cfg.rho, "scoping": cfg.scoping,
              "weight_decay": wd, "seed": cfg.seed, "distributed": distributed}
    if cfg.optim == "elastic-sgd":
        return ElasticSGD(params, **common)
    return Parle(params, L=cfg.L, inner_lr=cfg.inner_lr, gamma=gamma, noise=noise, **common)
