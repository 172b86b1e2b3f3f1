"""pde_sgd: the continuous-time theory of stochastic gradient descent, computable and checkable.

Subpackages: :mod:`pde_sgd.hj` (viscous and inviscid Hamilton-Jacobi: local entropy, Moreau envelope),
:mod:`pde_sgd.fokker_planck` (anisotropic Fokker-Planck, steady states, potentials, currents),
:mod:`pde_sgd.sde` (SGD, Entropy-SGD, Elastic-SGD ensembles), :mod:`pde_sgd.networks` (captured gradient
noise of real PyTorch networks; imports torch). ``import pde_sgd`` imports neither torch nor matplotlib.
"""
from ._version import __version__  # noqa: F401
from . import _threads  # noqa: E402,F401  (first: OpenMP reads its wait policy when it loads)
from . import _numba_cache  # noqa: E402,F401  (before any kernel is compiled: the cache keyed by all sources)
from . import landscapes  # noqa: E402
from .diffusion import Diffusion  # noqa: E402
from .drift import Drift  # noqa: E402
from .grid import Grid  # noqa: E402
from .results import Result  # noqa: E402
from .units import beta_from_sgd, noise_scale, temperature_from_sgd  # noqa: E402
from .validation import NumericalInstability  # noqa: E402

_SUBPACKAGES = ("hj", "fokker_planck", "sde", "checks", "networks", "optim", "sweeps")


def __getattr__(name: str):
    """Import subpackages on first use (``pde_sgd.hj``...), keeping ``import pde_sgd`` quick and torch-free."""
    if name in _SUBPACKAGES:
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Grid", "Diffusion", "Drift", "Result", "NumericalInstability", "landscapes", "beta_from_sgd", "temperature_from_sgd", "noise_scale", "__version__"]
