"""Result objects: arrays plus the parameters that produced them, saved atomically as ``.npz`` + ``.json``.

``Result.save("out/run")`` writes ``out/run.npz`` (the arrays) and ``out/run.json`` (kind, parameters, array
names, package version), each through a temporary file and ``os.replace`` so an interrupted write never
leaves a half-written file. The two files are tied together: the ``.npz`` holds the SHA-256 of the
metadata (kind, params, array names and a fresh save id, as canonical JSON) in the reserved array
``_pde_sgd_meta_sha256``, and the ``.json`` holds the SHA-256 of the ``.npz`` bytes. ``Result.load`` refuses a
pair whose hashes disagree: a kill between the two renames, a failed second write, an ``.npz`` copied from
another run, or a hand-edited kind/params. Temporary files carry the writer's process id; a later save into
the same folder removes those whose process no longer runs. Whatever ``load`` could not read back (object
arrays, reserved names, NaN/inf in params) is refused at save time.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_VERSION = 2
LEGACY_FORMAT_VERSIONS = (1,)  # read without the pair check (written before the hashes existed)
META_HASH_ARRAY = "_pde_sgd_meta_sha256"
_SAVEZ_RESERVED = ("file", "allow_pickle")  # keyword names of numpy.savez itself


TYPE_TAG = "__pde_sgd_type__"  # params entry written for an object that load rebuilds (see _decodable)


def _decodable() -> dict[str, type]:
    """The classes whose instances in params are saved with a type tag and rebuilt by :meth:`Result.load`."""
    from .diffusion import Diffusion
    from .grid import Grid
    from .landscapes import Landscape
    return {"Grid": Grid, "Landscape": Landscape, "Diffusion": Diffusion}


def _jsonable(obj: Any) -> Any:
    tagged = _decodable()
    if type(obj).__name__ in tagged and isinstance(obj, tagged[type(obj).__name__]):
        return {TYPE_TAG: type(obj).__name__, **_jsonable(obj.to_dict())}
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


def _decode(obj: Any) -> Any:
    """Inverse of :func:`_jsonable` for tagged objects: a Grid comes back as a Grid. A description that cannot
    be rebuilt (a user landscape, a D given as a function or field) stays the dict it was saved as."""
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    out = {k: _decode(v) for k, v in obj.items()}
    cls = _decodable().get(out.get(TYPE_TAG))
    if cls is None:
        return out
    desc = {k: v for k, v in out.items() if k != TYPE_TAG}
    try:
        return cls.from_dict(desc)
    except ValueError:
        return out


def _tmp_prefix(path: Path) -> str:
    return f".{path.name}.pid"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but is not ours, or cannot tell: leave its file alone
    return True


def remove_orphaned_temps(path: str | os.PathLike) -> list[Path]:
    """Delete temporary files of ``path`` (``.NAME.pid<PID>.*.tmp``) left by writers that no longer run."""
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    prefix = _tmp_prefix(path)
    for tmp in path.parent.glob(f"{prefix}*.tmp"):
        pid = tmp.name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            try:
                tmp.unlink()
                removed.append(tmp)
            except FileNotFoundError:
                pass
    return removed


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and an atomic rename.

    The temporary name ``.NAME.pid<PID>.<random>.tmp`` is unique per writer (no collision between processes)
    and removed on any exception; one orphaned by a killed writer is removed by the next write to ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_orphaned_temps(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{_tmp_prefix(path)}{os.getpid()}.", suffix=".tmp")
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


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _first_non_finite(obj: Any, where: str = "params") -> str | None:
    """The path (e.g. ``params['a'][2]``) of the first NaN/inf float in a JSON-ready object, or None."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return where
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        found = _first_non_finite(v, f"{where}[{k!r}]")
        if found:
            return found
    return None


def _check_savable(kind: Any, arrays: dict, params: Any) -> None:
    """Raise ValueError for anything :meth:`Result.load` could not give back as it was saved."""
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"Result kind must be a non-empty string, got {kind!r}")
    for name, arr in arrays.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"Result array names must be non-empty strings, got {name!r}")
        if name in _SAVEZ_RESERVED or name.startswith("_pde_sgd"):
            raise ValueError(f"Result array name {name!r} is reserved (numpy.savez keywords "
                             f"{_SAVEZ_RESERVED} and names starting with '_pde_sgd'); rename it")
        if arr.dtype.hasobject:
            raise ValueError(f"Result array {name!r} has dtype {arr.dtype} (Python objects), which cannot be "
                             f"saved without pickle; convert it to a numeric or string array")
    bad = _first_non_finite(params)
    if bad:
        raise ValueError(f"Result {bad} is NaN or inf, which JSON cannot hold; store it as an array or a string")


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
        JSON-serialisable parameters; finite numbers. A :class:`~pde_sgd.Grid`, a built-in
        :class:`~pde_sgd.Landscape` and a constant or low-rank :class:`~pde_sgd.Diffusion` come back from
        :meth:`load` as the same objects (other landscapes and D specs as their description dicts).
    stats : dict
        Run statistics filled by the stepping driver (:mod:`pde_sgd.driver`): ``steps``, ``substeps``,
        ``wall_time`` (seconds), ``threads``; empty for results that were not stepped.

    Arrays read as items or attributes: ``res["u"]`` is ``res.u``.
    """

    kind: str
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def __getattr__(self, name: str) -> np.ndarray:
        arrays = self.__dict__.get("arrays")
        if arrays is not None and name in arrays:
            return arrays[name]
        raise AttributeError(f"Result {self.__dict__.get('kind')!r} has no attribute or array {name!r}; arrays: "
                             f"{sorted(arrays) if arrays is not None else []}")

    def __contains__(self, name: str) -> bool:
        return name in self.arrays

    def save(self, path: str | os.PathLike) -> tuple[Path, Path]:
        """Write ``path.npz`` and ``path.json`` atomically, tied by hashes; returns both paths.

        Raises ValueError before writing anything that :meth:`load` could not read back.
        """
        base = _base(path)
        arrays = {k: np.asarray(v) for k, v in self.arrays.items()}
        params, stats = _jsonable(self.params), _jsonable(self.stats)
        _check_savable(self.kind, arrays, params)
        if _first_non_finite(stats, "stats"):
            raise ValueError(f"Result {_first_non_finite(stats, 'stats')} is NaN or inf, which JSON cannot hold")
        from . import __version__
        core = {"kind": self.kind, "arrays": sorted(arrays), "params": params, "stats": stats,
                "save_id": uuid.uuid4().hex}
        buf = io.BytesIO()
        np.savez(buf, **arrays, **{META_HASH_ARRAY: np.array(_sha256(_canonical(core)))})
        npz_bytes = buf.getvalue()
        meta = dict(core, format_version=FORMAT_VERSION, pde_sgd_version=__version__,
                    npz_sha256=_sha256(npz_bytes))
        npz, js = _pair(base)
        atomic_write_bytes(npz, npz_bytes)
        atomic_write_bytes(js, json.dumps(meta, indent=2, sort_keys=True, allow_nan=False).encode())
        return npz, js

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Result":
        """Read a result written by :meth:`save`.

        Raises ValueError for missing, corrupt or mismatched files: the ``.npz`` bytes must have the hash the
        ``.json`` records, and the ``.json``'s kind, params and array names the hash the ``.npz`` records.
        """
        npz, js = _pair(_base(path))
        for p in (npz, js):
            if not p.exists():
                raise ValueError(f"result file {p} is missing")
        try:
            meta = json.loads(js.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"result metadata {js} is not valid JSON: {exc}") from None
        version = meta.get("format_version") if isinstance(meta, dict) else None
        if version not in (FORMAT_VERSION, *LEGACY_FORMAT_VERSIONS) or "kind" not in meta:
            raise ValueError(f"result metadata {js} has an unknown format (format_version != {FORMAT_VERSION})")
        npz_bytes = npz.read_bytes()
        try:
            with np.load(io.BytesIO(npz_bytes), allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except Exception as exc:  # zipfile/pickle/OS errors all mean the file is unusable
            raise ValueError(f"result arrays {npz} cannot be read: {exc}") from None
        stored = arrays.pop(META_HASH_ARRAY, None)
        if version == FORMAT_VERSION and _sha256(npz_bytes) != meta.get("npz_sha256"):
            raise ValueError(f"{npz} and {js} do not belong together: the arrays are not the ones saved with "
                             f"this metadata (interrupted save, or a file copied from another run)")
        if sorted(arrays) != sorted(meta.get("arrays", [])):
            raise ValueError(f"{npz} holds arrays {sorted(arrays)} but {js} lists {meta.get('arrays')}")
        if version == FORMAT_VERSION:
            core = {k: meta.get(k) for k in ("kind", "arrays", "params", "save_id")}
            if "stats" in meta:
                core["stats"] = meta["stats"]
            if stored is None or str(stored) != _sha256(_canonical(core)):
                raise ValueError(f"{js} was changed after saving (its kind, params or array names no longer "
                                 f"match the hash recorded in {npz}); re-run to regenerate the result")
        return cls(meta["kind"], arrays, _decode(meta.get("params", {})), meta.get("stats", {}))


def _base(path: str | os.PathLike) -> Path:
    base = Path(path)
    return base.with_suffix("") if base.suffix in (".npz", ".json") else base


def _pair(base: Path) -> tuple[Path, Path]:
    return base.with_name(base.name + ".npz"), base.with_name(base.name + ".json")
