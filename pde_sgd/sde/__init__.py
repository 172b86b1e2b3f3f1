"""SDE ensembles for SGD (THEORY.md sections 1, 3, 4): Numba kernels, parallel over paths, seeded.

Public API:
  simulate_sgd                          the SGD SDE dX = -grad f dt + sqrt(2 beta^-1 D(X)) dW
  minibatch_sgd, QuadraticFiniteSum     discrete mini-batch SGD on a synthetic finite-sum loss
  entropy_sgd, elastic_sgd, homogenized the fast/slow systems and their homogenized limit
  linear (ou_moments, stationary_covariance, a_type_form, rotation_frequency), spectral, control
  torch_bridge                          torchsde modules (imports torch; not imported here)
"""
from .fields import DIFFUSION_SIG, DRIFT_SIG, as_diffusion
from .sgd import simulate_sgd

__all__ = ["simulate_sgd", "as_diffusion", "DRIFT_SIG", "DIFFUSION_SIG"]
