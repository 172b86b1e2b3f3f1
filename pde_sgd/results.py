"""Result objects: arrays plus the parameters that produced them, saved atomically as ``.npz`` + ``.json``.

``Result.save("out/run")`` writes ``out/run.npz`` (the arrays) and ``out/run.json`` (kind, parameters, array
names, package version), each through a temporary file and ``os.replace`` so an interrupted write never
leaves a half-written result. ``Result.load`` checks that the two files belong together.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_VERSION = 1


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if hasattr(obj, "to_dict"):
        return _jsonable(obj.to_dict())
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return repr(obj)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@dataclass
class Result:
    """Named arrays and the parameters that produced them.

    Attributes
    ----------
    kind : str
        What computed it (e.g. ``"hj.viscous"``).
    arrays : dict[str, ndarray]
        The data.
    params : dict
        JSON-serialisable parameters (grids and landscapes are stored through their ``to_dict``).
    """

    kind: str
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def __contains__(self, name: str) -> bool:
        return name in self.arrays

    def save(self, path: str | os.PathLike) -> tuple[Path, Path]:
        """Write ``path.npz`` and ``path.json`` atomically; returns both paths."""
        base = Path(path)
        base = base.with_suffix("") if base.suffix in (".npz", ".json") else base
        import io
        buf = io.BytesIO()
        np.savez(buf, **{k: np.asarray(v) for k, v in self.arrays.items()})
        meta = {"format_version": FORMAT_VERSION, "kind": self.kind, "arrays": sorted(self.arrays),
                "params": _jsonable(self.params)}
        from . import __version__
        meta["pde_sgd_version"] = __version__
        npz, js = base.with_name(base.name + ".npz"), base.with_name(base.name + ".json")
        atomic_write_bytes(npz, buf.getvalue())
        atomic_write_bytes(js, json.dumps(meta, indent=2, sort_keys=True).encode())
        return npz, js

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Result":
        """Read a result written by :meth:`save`; raises ValueError for missing, corrupt or mismatched files."""
        base = Path(path)
        base = base.with_suffix("") if base.suffix in (".npz", ".json") else base
        npz, js = base.with_name(base.name + ".npz"), base.with_name(base.name + ".json")
        for p in (npz, js):
            if not p.exists():
                raise ValueError(f"result file {p} is missing")
        try:
            meta = json.loads(js.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"result metadata {js} is not valid JSON: {exc}") from None
        if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION or "kind" not in meta:
            raise ValueError(f"result metadata {js} has an unknown format (format_version != {FORMAT_VERSION})")
        try:
            with np.load(npz, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except Exception as exc:  # zipfile/pickle/OS errors all mean the file is unusable
            raise ValueError(f"result arrays {npz} cannot be read: {exc}") from None
        if sorted(arrays) != sorted(meta.get("arrays", [])):
            raise ValueError(f"{npz} holds arrays {sorted(arrays)} but {js} lists {meta.get('arrays')}")
        return cls(meta["kind"], arrays, meta.get("params", {}))
