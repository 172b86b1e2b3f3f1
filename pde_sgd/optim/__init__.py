"""Torch optimizers from the seed papers (THEORY.md sections 4-5); imports torch.

- :class:`EntropySGD`: Nesterov SGD on the local entropy, its gradient estimated by an inner Langevin loop.
- :class:`NudgedSGD`: SGD whose step is scaled by gamma along the top-K Hessian eigenvectors (Lanczos).
"""
from .entropy_sgd import EntropySGD
from .nudged_sgd import NudgedSGD

__all__ = ["EntropySGD", "NudgedSGD"]
