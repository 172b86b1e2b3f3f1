"""Numba's on-disk cache for the package's kernels, keyed by the hash of ALL the package's sources.

Numba keys a cached function by the file that defines it: a kernel that inlines a helper from another module
(``sde/blocks.py``, ``gridfields.py``, ``sde/rng.py``, ...) keeps its old machine code after that helper
changes, and an upgraded package could run stale kernels. :class:`PackageCacheLocator` (registered first in
Numba's locator list on ``import pde_sgd``) puts the cache of every function defined in a file of this package
in a directory named after the hash of the contents of all its ``.py`` files (:data:`SOURCE_HASH`, computed once
at import), so any edit, copy or upgrade starts from a fresh cache. Functions defined elsewhere (the user's own
``@njit`` code) are left to Numba's own locators.

The cache lives in the first writable one of: ``$NUMBA_CACHE_DIR/pde_sgd-<hash>`` (when set), else
``<package>/__pycache__/numba-<hash>`` and the user-wide Numba cache ``~/.cache/numba/pde_sgd-<hash>``; with a
read-only package and HOME, a temporary directory (one RuntimeWarning). Subpackages keep their own
subdirectory. In the package's ``__pycache__``, the directories of other hashes (earlier sources of the same
tree) untouched for :data:`PRUNE_AFTER_S` are removed (a running process whose directory was removed recreates it
on its next save); shared roots are left alone, as other installations may use them.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
import warnings

from numba.core import caching, config

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
PRUNE_AFTER_S = 600.0  # stale cache directories of other source hashes older than this are removed


def source_hash(package_dir: str = PACKAGE_DIR) -> str:
    """blake2b (16 hex digits) of the relative path and contents of every ``.py`` file under ``package_dir``
    (sorted; ``__pycache__`` skipped). Contents, not sizes and mtimes: a copy or a same-size edit changes it."""
    h = hashlib.blake2b(digest_size=8)
    for root, dirs, files in os.walk(package_dir):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(f for f in files if f.endswith(".py")):
            path = os.path.join(root, name)
            h.update(os.path.relpath(path, package_dir).encode() + b"\0")
            with open(path, "rb") as f:
                h.update(f.read())
            h.update(b"\0")
    return h.hexdigest()


SOURCE_HASH = source_hash()


def _writable(path: str) -> bool:
    try:
        os.makedirs(path, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
        return True
    except OSError:
        return False


def candidate_roots(source: str = SOURCE_HASH) -> list[str]:
    """Cache roots in order of preference (see the module docstring); the temporary one last."""
    if config.CACHE_DIR:
        roots = [os.path.join(config.CACHE_DIR, f"pde_sgd-{source}")]
    else:
        user = caching.AppDirs(appname="numba", appauthor=False).user_cache_dir
        roots = [os.path.join(PACKAGE_DIR, "__pycache__", f"numba-{source}"), os.path.join(user, f"pde_sgd-{source}")]
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return roots + [os.path.join(tempfile.gettempdir(), f"pde_sgd-numba-{uid}", source)]


_ROOT: list[str] = []  # the root chosen in this process (found on the first cached compile)


def cache_root() -> str | None:
    """The first writable root of :func:`candidate_roots` (memoised); a RuntimeWarning when it is the temporary
    one, None when none is writable (Numba then reports that it cannot cache)."""
    if not _ROOT:
        roots = candidate_roots()
        root = next((r for r in roots if _writable(r)), None)
        if root is None:
            return None
        if root == roots[-1]:
            warnings.warn(f"pde_sgd: neither the package directory nor the user cache directory is writable; "
                          f"compiled kernels are cached in {root} (set NUMBA_CACHE_DIR to choose a directory)",
                          RuntimeWarning, stacklevel=2)
        if root.startswith(PACKAGE_DIR + os.sep):  # beside it: caches of this tree's earlier sources only
            _prune_siblings(root)
        _ROOT.append(root)
    return _ROOT[0]


def _prune_siblings(root: str) -> None:
    """Remove the cache directories of other source hashes beside ``root`` (same name but for the hash)
    untouched for PRUNE_AFTER_S."""
    parent, mine = os.path.split(root)
    prefix = mine[:-len(SOURCE_HASH)]
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        path = os.path.join(parent, name)
        if name != mine and name.startswith(prefix) and len(name) == len(mine):
            try:
                if time.time() - os.path.getmtime(path) > PRUNE_AFTER_S:
                    shutil.rmtree(path, ignore_errors=True)
            except OSError:
                pass


class PackageCacheLocator(caching._CacheLocator):
    """Numba cache locator for functions defined in this package's files: ``<cache root>/<subpackage path>``,
    stamped with :data:`SOURCE_HASH`."""

    def __init__(self, py_func, py_file: str, root: str) -> None:
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = os.path.join(root, os.path.relpath(os.path.dirname(py_file), PACKAGE_DIR))

    def get_cache_path(self) -> str:
        return self._cache_path

    def get_source_stamp(self) -> str:
        return SOURCE_HASH

    def get_disambiguator(self) -> str:
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func, py_file):
        path = os.path.abspath(py_file)
        if not path.startswith(PACKAGE_DIR + os.sep) or not os.path.exists(path):
            return None
        root = cache_root()
        if root is None:
            return None
        self = cls(py_func, path, root)
        try:
            self.ensure_cache_path()
        except OSError:
            return None
        return self


def register() -> None:
    """Put :class:`PackageCacheLocator` first in Numba's locator list (once)."""
    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
    if PackageCacheLocator not in impl._locator_classes:
        impl._locator_classes.insert(0, PackageCacheLocator)


register()
