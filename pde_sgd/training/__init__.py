"""``pde-sgd train``: digits models trained with the package's optimizers, checkpointed, resumable; imports torch.

- :mod:`.config`: :class:`TrainConfig` (validated settings) and :func:`build_optimizer`.
- :mod:`.run`: :class:`Trainer` (mini-batch streams per replica, curves, atomic checkpoints) and :func:`train`.
- :mod:`.cli`: the command line, and its torchrun launch for ``--distributed`` replicas.
"""
from .config import OPTIMIZERS, TrainConfig, build_optimizer
from .run import Trainer, train

__all__ = ["OPTIMIZERS", "TrainConfig", "Trainer", "build_optimizer", "train"]
