"""A sweep's store: one folder, each finished point's Result saved under its key, each failure beside it.

``<folder>/<key>.npz`` + ``<key>.json`` hold a point's Result (written atomically by
:meth:`pde_sgd.Result.save`, the ``.json`` last); ``<key>.failed.json`` holds a failed point and its
traceback; ``sweep.json`` names the sweep and lists its points and keys (so :meth:`Table.load` can gather the
table from the folder alone). A point counts as finished when its Result loads; anything else (missing,
half-written, corrupt, unreadable) is computed again. Only driver processes write here, so a store can live on
the machine that runs ``run_sweep`` while the points run on a remote Dask cluster. Every write holds an
exclusive lock on ``<folder>/.lock`` (``fcntl.flock``, released by the kernel if the writer dies), so two
drivers running the same sweep on one store never interleave the two files of a key.
"""
from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..results import Result, atomic_write_bytes

MANIFEST = "sweep.json"
LOCK = ".lock"


class StoreWriteError(OSError):
    """The store folder cannot be written (read-only, full, not permitted); the message names the path."""


class Store:
    """The folder of one sweep's results (created on first write)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise ValueError(f"store {self.folder} exists and is not a folder")

    def base(self, key: str) -> Path:
        return self.folder / key

    def load(self, key: str) -> Result | None:
        """The stored Result of ``key``, or None if it is missing or cannot be read (then it is recomputed)."""
        base = self.base(key)
        if not (base.with_name(key + ".json").is_file() and base.with_name(key + ".npz").is_file()):
            return None
        try:
            return Result.load(base)
        except ValueError:
            return None

    def save(self, key: str, result: Result, *, allow_nonfinite: bool = False) -> Result:
        """Save ``result`` under ``key``, drop any failure record of the key; returns the Result as stored.

        Raises ValueError, before writing, for a Result that cannot be stored (see :meth:`Result.save`) or,
        unless ``allow_nonfinite``, that holds NaN or inf in a float array (a finished point must not
        silently hold them); StoreWriteError if the folder cannot be written.
        """
        if not allow_nonfinite:
            check_finite(result)
        with self.lock():
            result.save(self.base(key))
            self.failure_path(key).unlink(missing_ok=True)
            return Result.load(self.base(key))

    def failure_path(self, key: str) -> Path:
        return self.folder / f"{key}.failed.json"

    def save_failure(self, key: str, point: dict, traceback: str) -> None:
        """Record that ``point`` failed with ``traceback`` (kept until the point succeeds)."""
        text = json.dumps({"point": point, "traceback": traceback}, indent=2, sort_keys=True)
        with self.lock():
            atomic_write_bytes(self.failure_path(key), text.encode())

    def load_failure(self, key: str) -> str | None:
        """The traceback recorded for ``key``, or None (also for a record that cannot be read)."""
        try:
            record = json.loads(self.failure_path(key).read_bytes())
            return record["traceback"] if isinstance(record, dict) and isinstance(record.get("traceback"), str) \
                else None
        except (OSError, ValueError):
            return None

    def write_manifest(self, name: str, points: list[dict], keys: list[str]) -> None:
        """Write ``sweep.json`` (name, points, keys) unless it already holds exactly that; this is the first
        write of a run, so a store that cannot be written fails here, before any point is computed."""
        text = json.dumps({"name": name, "points": points, "keys": keys}, indent=1, sort_keys=True).encode()
        path = self.folder / MANIFEST
        try:
            if path.is_file() and path.read_bytes() == text:
                return
        except OSError:
            pass
        with self.lock():
            atomic_write_bytes(path, text)

    def read_manifest(self) -> dict:
        """The ``sweep.json`` of the folder; ValueError if it is missing or not one :meth:`write_manifest` wrote."""
        path = self.folder / MANIFEST
        try:
            manifest = json.loads(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise ValueError(f"{self.folder} is not a readable sweep store ({path}: {exc})") from None
        if not (isinstance(manifest, dict) and isinstance(manifest.get("name"), str)
                and isinstance(manifest.get("points"), list) and isinstance(manifest.get("keys"), list)
                and len(manifest["points"]) == len(manifest["keys"])):
            raise ValueError(f"{path} is not a sweep manifest (name, points and keys of equal length)")
        return manifest

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the store's exclusive write lock; OSError from the folder is re-raised as StoreWriteError."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.folder / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise StoreWriteError(exc.errno, f"cannot write to the sweep store {self.folder}: "
                                             f"{exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            except OSError as exc:
                if isinstance(exc, StoreWriteError):
                    raise
                raise StoreWriteError(exc.errno, f"cannot write to the sweep store {self.folder}: "
                                                 f"{exc.strerror or exc} ({exc.filename or self.folder})") from None
        finally:
            os.close(fd)


def check_finite(result: Result) -> None:
    """ValueError naming the first float/complex array of ``result`` that holds NaN or inf, and how many."""
    for name, arr in result.arrays.items():
        arr = np.asarray(arr)
        if arr.dtype.kind in "fc":
            bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
            if bad:
                raise ValueError(f"Result array {name!r} has {bad} NaN/inf value(s) of {arr.size}; a finished point "
                                 f"must be finite (run_sweep(..., allow_nonfinite=True) stores such results)")
