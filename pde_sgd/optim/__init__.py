"""Torch optimizers from the seed papers (THEORY.md sections 4, 5 and 7); imports torch.

- :class:`EntropySGD`: Nesterov SGD on the local entropy, its gradient estimated by an inner Langevin loop
  (the reference code's -L, gamma, scoping, noise, L2; L = 0 is torch's Nesterov SGD).
- :class:`ElasticSGD`, :class:`Parle`: n replicas elastically coupled to their mean; Parle's replicas take L
  inner Entropy-SGD steps. In one process (closure per replica, or vmapped with :func:`stacked_grad_fn`) or
  across torch.distributed processes.
- :class:`VSGD`: variational SGD (Chen et al.), the authors' element-wise update.
- :class:`NudgedSGD`: SGD whose step is scaled by gamma along the top-K Hessian eigenvectors (Lanczos).
"""
from .entropy_sgd import EntropySGD
from .nudged_sgd import NudgedSGD
from .replicas import ElasticSGD, Parle, replica_seed, stacked_grad_fn
from .vsgd import VSGD

__all__ = ["ElasticSGD", "EntropySGD", "NudgedSGD", "Parle", "VSGD", "replica_seed", "stacked_grad_fn"]
