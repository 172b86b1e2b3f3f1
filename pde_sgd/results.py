"""Result objects: arrays plus the parameters that produced them, saved atomically as ``.npz`` + ``.json``.

``Result.save("out/run")`` writes ``out/run.npz`` (the arrays) and ``out/run.json`` (kind, parameters, array
names, package version), each through a temporary file and ``os.replace`` so an interrupted write never
leaves a half-written file. The two files are tied together: the ``.npz`` holds the SHA-256 of the
metadata (kind, params, array names and a fresh save id, as canonical JSON) in the reserved array
``_pde_sgd_meta_sha256``, and the ``.json`` holds the SHA-256 of the ``.npz`` bytes. ``Result.load`` refuses a
pair whose hashes disagree: a kill between the two renames, a failed second write, an ``.npz`` copied from
another run, or a hand-edited kind/params. Temporary files carry the writer's process id; a later save into
the same folder removes those whose process no longer runs. Whatever ``load`` could not read back (object
arrays, reserved names, NaN/inf in params, a params entry JSON cannot describe) is refused at save time, with
the offending name. Files get the mode ``0o666 & ~umask`` like any new file. The ``.npz`` is streamed to disk
and from it (never held twice in memory); files of format 1 (no hashes) load only with ``legacy=True``.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import Any, BinaryIO

import numpy as np

FORMAT_VERSION = 2
LEGACY_FORMAT_VERSIONS = (1,)  # written before the hashes existed: read only with load(..., legacy=True)
META_HASH_ARRAY = "_pde_sgd_meta_sha256"
_SAVEZ_RESERVED = ("file", "allow_pickle")  # keyword names of numpy.savez itself


TYPE_TAG = "__pde_sgd_type__"  # params entry written for an object that load rebuilds (see _decodable)


def _decodable() -> dict[str, type]:
    """The classes whose instances in params are saved with a type tag and rebuilt by :meth:`Result.load`."""
    from .diffusion import Diffusion
    from .grid import Grid
    from .landscapes import Landscape
    return {"Grid": Grid, "Landscape": Landscape, "Diffusion": Diffusion}


def _jsonable(obj: Any, where: str = "params") -> Any:
    """``obj`` as JSON-ready values; ValueError naming ``where`` (e.g. ``params['f']``) for anything else.

    Tagged classes (see :func:`_decodable`) and objects with ``to_dict`` become dicts, tuples and arrays
    lists, numpy scalars and paths plain values; an object JSON cannot describe is refused, never saved as
    its ``repr`` (which :meth:`Result.load` could not give back)."""
    tagged = _decodable()
    if type(obj).__name__ in tagged and isinstance(obj, tagged[type(obj).__name__]):
        return {TYPE_TAG: type(obj).__name__, **_jsonable(obj.to_dict(), where)}
    if isinstance(obj, dict):
        return {str(k): _jsonable(v, f"{where}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise ValueError(f"Result {where} is an array of Python objects, which JSON cannot hold")
        return obj.tolist()
    if isinstance(obj, np.generic):
        return _jsonable(obj.item(), where)
    if hasattr(obj, "to_dict"):
        return _jsonable(obj.to_dict(), where)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    raise ValueError(f"Result {where} is a {type(obj).__name__} ({obj!r:.60}), which cannot be saved as JSON; "
                     f"store a number, string, list or dict (or the object's description) instead")


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
    except (ValueError, TypeError, KeyError):  # not a description this version can rebuild
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


def _umask() -> int:
    """The process's umask, read without changing it where /proc allows (``os.umask`` sets it to query it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(fh)`` on a temporary file in ``path``'s folder, then rename it to ``path`` atomically.

    The file gets the mode of any newly created file, ``0o666 & ~umask`` (not the 0600 of ``mkstemp``). The
    temporary name ``.NAME.pid<PID>.<random>.tmp`` is unique per writer (no collision between processes) and
    removed on any exception; one orphaned by a killed writer is removed by the next write to ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_orphaned_temps(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{_tmp_prefix(path)}{os.getpid()}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w+b") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through :func:`atomic_write`."""
    atomic_write(path, lambda fh: fh.write(data))


def _file_sha256(fh: BinaryIO) -> str:
    """SHA-256 of an open file's whole content, read in chunks from the start (the position is left at 0)."""
    fh.seek(0)
    digest = hashlib.file_digest(fh, "sha256").hexdigest()
    fh.seek(0)
    return digest


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
        if name not in self.arrays and name in (self.params or {}):
            raise KeyError(f"{name!r} is a parameter of this {self.kind!r} Result, not an array: read "
                           f"res.params[{name!r}]")
        return self.arrays[name]

    def __getattr__(self, name: str) -> np.ndarray:
        arrays = self.__dict__.get("arrays")
        if arrays is not None and name in arrays:
            return arrays[name]
        if name in (self.__dict__.get("params") or {}):
            raise AttributeError(f"Result {self.__dict__.get('kind')!r}: {name!r} is a parameter, not an array: "
                                 f"read res.params[{name!r}]")
        raise AttributeError(f"Result {self.__dict__.get('kind')!r} has no attribute or array {name!r}; arrays: "
                             f"{sorted(arrays) if arrays is not None else []}")

    def __contains__(self, name: str) -> bool:
        return name in self.arrays

    def save(self, path: str | os.PathLike) -> tuple[Path, Path]:
        """Write ``path.npz`` and ``path.json`` atomically, tied by hashes; returns both paths.

        Raises ValueError before writing anything that :meth:`load` could not read back. The arrays are
        streamed to the temporary file (no in-memory copy of the ``.npz``) and hashed from it.
        """
        base = _base(path)
        arrays = {k: np.asarray(v) for k, v in self.arrays.items()}
        params, stats = _jsonable(self.params), _jsonable(self.stats, "stats")
        _check_savable(self.kind, arrays, params)
        if _first_non_finite(stats, "stats"):
            raise ValueError(f"Result {_first_non_finite(stats, 'stats')} is NaN or inf, which JSON cannot hold")
        from ._version import __version__
        core = {"kind": self.kind, "arrays": sorted(arrays), "params": params, "stats": stats,
                "save_id": uuid.uuid4().hex}
        npz, js = _pair(base)
        npz_sha256 = []

        def write_npz(fh: BinaryIO) -> None:
            np.savez(fh, **arrays, **{META_HASH_ARRAY: np.array(_sha256(_canonical(core)))})
            fh.flush()
            npz_sha256.append(_file_sha256(fh))

        atomic_write(npz, write_npz)
        meta = dict(core, format_version=FORMAT_VERSION, pde_sgd_version=__version__, npz_sha256=npz_sha256[0])
        atomic_write_bytes(js, json.dumps(meta, indent=2, sort_keys=True, allow_nan=False).encode())
        return npz, js

    @classmethod
    def load(cls, path: str | os.PathLike, *, legacy: bool = False) -> "Result":
        """Read a result written by :meth:`save`.

        Raises ValueError for missing, unreadable, corrupt or mismatched files: the ``.npz`` bytes must have
        the hash the ``.json`` records, and the ``.json``'s kind, params and array names the hash the ``.npz``
        records. Files of format 1 (written before the hashes existed) cannot be verified and are refused
        unless ``legacy=True``. The ``.npz`` is read once, as a stream (hashed, then its arrays read).
        """
        npz, js = _pair(_base(path))
        for p in (npz, js):
            if not p.is_file():
                raise ValueError(f"result file {p} is missing")
        meta = _read_meta(js, legacy=legacy)
        version = meta["format_version"]
        try:
            with open(npz, "rb") as fh:
                npz_sha256 = _file_sha256(fh)
                with np.load(fh, allow_pickle=False) as data:
                    arrays = {k: data[k] for k in data.files}
        except Exception as exc:  # zipfile/format/OS errors all mean the file is unusable
            raise ValueError(f"result arrays {npz} cannot be read: {type(exc).__name__}: {exc}") from None
        if version == FORMAT_VERSION and npz_sha256 != meta.get("npz_sha256"):
            raise ValueError(f"{npz} and {js} do not belong together: the arrays are not the ones saved with "
                             f"this metadata (interrupted save, or a file copied from another run)")
        stored = arrays.pop(META_HASH_ARRAY, None)
        if sorted(arrays) != sorted(meta["arrays"]):
            raise ValueError(f"{npz} holds arrays {sorted(arrays)} but {js} lists {meta['arrays']}")
        if version == FORMAT_VERSION:
            core = {k: meta.get(k) for k in ("kind", "arrays", "params", "save_id")}
            if "stats" in meta:
                core["stats"] = meta["stats"]
            if stored is None or str(stored) != _sha256(_canonical(core)):
                raise ValueError(f"{js} was changed after saving (its kind, params or array names no longer "
                                 f"match the hash recorded in {npz}); re-run to regenerate the result")
        return cls(meta["kind"], arrays, _decode(meta["params"]), meta["stats"])


def _read_meta(js: Path, *, legacy: bool) -> dict:
    """The ``.json`` of a result, its structure checked; ValueError for anything :meth:`Result.load` cannot use."""
    try:
        meta = json.loads(js.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"result metadata {js} is not valid JSON: {exc}") from None
    except OSError as exc:
        raise ValueError(f"result metadata {js} cannot be read: {exc}") from None
    version = meta.get("format_version") if isinstance(meta, dict) else None
    if version in LEGACY_FORMAT_VERSIONS and not legacy:
        raise ValueError(f"result {js} has format_version {version}, written before results were tied to their "
                         f"arrays by hashes: it cannot be verified; re-run it, or read it with "
                         f"Result.load(..., legacy=True) if you trust the files")
    if version not in (FORMAT_VERSION, *LEGACY_FORMAT_VERSIONS):
        raise ValueError(f"result metadata {js} has an unknown format (format_version != {FORMAT_VERSION})")
    meta.setdefault("params", {})
    meta.setdefault("stats", {})
    for name, typ in {"kind": str, "arrays": list, "params": dict, "stats": dict}.items():
        if not isinstance(meta.get(name), typ):
            raise ValueError(f"result metadata {js}: field {name!r} is missing or not a {typ.__name__}")
    if not all(isinstance(a, str) for a in meta["arrays"]):
        raise ValueError(f"result metadata {js}: field 'arrays' must list array names (strings)")
    return meta


def _base(path: str | os.PathLike) -> Path:
    base = Path(path)
    return base.with_suffix("") if base.suffix in (".npz", ".json") else base


def _pair(base: Path) -> tuple[Path, Path]:
    return base.with_name(base.name + ".npz"), base.with_name(base.name + ".json")
