"""SDE ensembles for SGD (THEORY.md sections 1, 3, 4): Numba kernels, parallel over paths, seeded.

Convention: dX = -M grad f(X) dt + sqrt(2 beta^-1 D(X)) dW (Ito), beta = 2 b / eta for SGD.

==============================  ===================================================================
``simulate_sgd``                 ensembles of the SGD SDE (Euler-Maruyama / Milstein; D constant,
                                 grid field or jitted callable)                      (:mod:`.sgd`)
``minibatch_sgd``,               discrete mini-batch SGD on a synthetic finite sum, batch gradients
``batch_gradients``,             (with / without replacement)               (:mod:`.sgd`,
``QuadraticFiniteSum``                                                        :mod:`.finite_sum`)
``entropy_sgd``,                 the fast/slow systems with time-scale eps  (:mod:`.elastic_sgd`)
``elastic_sgd``
``homogenized``,                 their eps -> 0 limit dX = -gamma^-1 (X - <y>)  (:mod:`.homogenized`)
``gibbs_mean``
``hjb_value``,                   stochastic control / Feynman-Kac of THEORY.md section 1
``simulate_controlled``,                                                       (:mod:`.control`)
``feynman_kac_value``
``power_spectrum``,              limit cycles: Welch spectra, autocorrelation with 99% bands,
``autocorrelation``, ...         rotation frequency, exact OU spectral density  (:mod:`.spectral`)
``compare_stationary``,          an ensemble against a stationary density: burn-in (MSER-5), Sokal
``integrated_autocorrelation_time``, autocorrelation times, ESS, split-R-hat, moments and histogram with
``effective_sample_size``, ...   autocorrelation-aware errors; flags unmixed ensembles  (:mod:`.stationary`)
``torch_bridge``                 torchsde modules (imports torch; import it explicitly)
==============================  ===================================================================

Kernels: :mod:`.kernels` (integrators), :mod:`.fields` (drift / diffusion specifications), :mod:`.rng`
(counter-based per-path normals: same seed, same paths, any thread count).
"""
from .control import feynman_kac_value, hjb_value, simulate_controlled
from .elastic_sgd import elastic_sgd
from .entropy_sgd import entropy_sgd
from .fields import DIFFUSION_SIG, DRIFT_SIG, as_diffusion
from .finite_sum import QuadraticFiniteSum
from .homogenized import gibbs_mean, homogenized
from .sgd import batch_gradients, minibatch_sgd, simulate_sgd
from .spectral import autocorrelation, ou_spectral_density, peak_frequency, power_spectrum, rotation_frequency
from .stationary import (compare_stationary, detect_burn_in, effective_sample_size, histogram_distance,
                         integrated_autocorrelation_time, mser_truncation, split_rhat)

__all__ = ["simulate_sgd", "minibatch_sgd", "batch_gradients", "QuadraticFiniteSum", "entropy_sgd", "elastic_sgd",
           "homogenized", "gibbs_mean", "hjb_value", "simulate_controlled", "feynman_kac_value", "power_spectrum",
           "autocorrelation", "peak_frequency", "rotation_frequency", "ou_spectral_density", "as_diffusion",
           "DRIFT_SIG", "DIFFUSION_SIG", "compare_stationary", "detect_burn_in", "effective_sample_size",
           "histogram_distance", "integrated_autocorrelation_time", "mser_truncation", "split_rhat"]
