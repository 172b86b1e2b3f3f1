"""Parameter sweeps: a point function over a list of points, each Result stored by key, resumable.

=====================  ==================================================================================
``grid``               Cartesian product of parameter lists -> points                          (:mod:`.spec`)
``Sweep``              name, point function ``fn(**point) -> Result``, points, description     (:mod:`.spec`)
``run_sweep``          compute the missing points (serial, or Dask: a LocalCluster or a scheduler address),
                       store each Result atomically under its key, gather a ``Table``          (:mod:`.engine`)
``run_point``          one point: ``fn(**point)`` as a Result, or the failure it raised         (:mod:`.points`)
``Table``              results in point order, failures with tracebacks, ``column(key)``;
                       ``Table.load(store_folder)`` gathers a store                           (:mod:`.table`)
``discover_sweeps``    the named sweeps of ``simulations/*.py`` (``SWEEPS = {name: factory}``) (:mod:`.discover`)
``ensemble_sweep``,    an SDE ensemble as chunks of paths, and the chunks merged back into one Result
``merge_paths``        (bit for bit the one-process ensemble)                               (:mod:`.ensemble`)
=====================  ==================================================================================

Dask is imported only when ``backend="dask"`` runs.
"""
from .discover import discover_sweeps, load_module
from .engine import BACKENDS, SCHEDULER_ENV, STORE_ENV, default_store, run_sweep
from .points import run_point
from .ensemble import ensemble_sweep, merge_paths, path_chunks
from .spec import Sweep, grid, point_key
from .table import Table

__all__ = ["Sweep", "grid", "run_sweep", "Table", "discover_sweeps", "load_module", "point_key", "run_point",
           "default_store", "BACKENDS", "SCHEDULER_ENV", "STORE_ENV", "ensemble_sweep", "merge_paths", "path_chunks"]
