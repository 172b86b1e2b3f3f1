"""A sweep's store: one folder, each finished point's Result saved under its key, each failure beside it.

``<folder>/<key>.npz`` + ``<key>.json`` hold a point's Result (written atomically by
:meth:`pde_sgd.Result.save`, the ``.json`` last); ``<key>.failed.json`` holds a failed point and its
traceback. A point counts as finished when its Result loads; anything else (missing, half-written, corrupt)
is computed again. Only the driver process writes here, so a store can live on the machine that runs
``run_sweep`` while the points run on a remote Dask cluster.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..results import Result, atomic_write_bytes


class Store:
    """The folder of one sweep's results (created on first write)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise ValueError(f"store {self.folder} exists and is not a folder")

    def base(self, key: str) -> Path:
        return self.folder / key

    def load(self, key: str) -> Result | None:
        """The stored Result of ``key``, or None if it is missing or cannot be read (then it is recomputed)."""
        base = self.base(key)
        if not (base.with_name(key + ".json").exists() and base.with_name(key + ".npz").exists()):
            return None
        try:
            return Result.load(base)
        except ValueError:
            return None

    def save(self, key: str, result: Result) -> Result:
        """Save ``result`` under ``key``, drop any failure record of the key; returns the Result as stored."""
        result.save(self.base(key))
        self.failure_path(key).unlink(missing_ok=True)
        return Result.load(self.base(key))

    def failure_path(self, key: str) -> Path:
        return self.folder / f"{key}.failed.json"

    def save_failure(self, key: str, point: dict, traceback: str) -> None:
        """Record that ``point`` failed with ``traceback`` (kept until the point succeeds)."""
        text = json.dumps({"point": point, "traceback": traceback}, indent=2, sort_keys=True)
        atomic_write_bytes(self.failure_path(key), text.encode())
