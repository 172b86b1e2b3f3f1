"""Named sweeps of the source tree: every ``simulations/*.py`` may define ``SWEEPS = {name: factory}``.

A factory ``factory(full: bool) -> Sweep`` builds the quick (``full=False``) or the publication setting.
``simulations/`` is not an importable package: its files are loaded by path, under the module name
``pde_sgd_simulations_<stem>`` (registered in ``sys.modules``, so that their functions pickle; the Dask
backend sends such modules to workers by value).
"""
from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from .spec import Sweep

SIMULATIONS_DIR = Path(__file__).resolve().parents[2] / "simulations"
_DEFINES_SWEEPS = re.compile(r"^SWEEPS\s*[:=]", re.MULTILINE)


def load_module(path: str | Path, name: str | None = None) -> ModuleType:
    """Import the Python file ``path`` as module ``name`` (default ``pde_sgd_simulations_<stem>``), once."""
    path = Path(path).resolve()
    name = name or f"pde_sgd_simulations_{path.stem}"
    known = sys.modules.get(name)
    if known is not None and Path(getattr(known, "__file__", "")).resolve() == path:
        return known
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{path} is not a Python file that can be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def discover_sweeps(folder: str | Path | None = None) -> dict[str, Callable[[bool], Sweep]]:
    """``{name: factory}`` over the ``SWEEPS`` dicts of ``folder/*.py`` (default: ``simulations/``).

    Only files whose text defines ``SWEEPS`` at top level are imported. Raises ValueError if two files define
    the same name or a SWEEPS is not a dict of callables.
    """
    folder = SIMULATIONS_DIR if folder is None else Path(folder)
    found: dict[str, Callable[[bool], Sweep]] = {}
    origin: dict[str, Path] = {}
    for path in sorted(folder.glob("*.py")):
        if not _DEFINES_SWEEPS.search(path.read_text()):
            continue
        sweeps = getattr(load_module(path), "SWEEPS", None)
        if not isinstance(sweeps, dict) or not all(isinstance(k, str) and callable(f) for k, f in sweeps.items()):
            raise ValueError(f"{path}: SWEEPS must be a dict {{name: factory(full) -> Sweep}}")
        for name, factory in sweeps.items():
            if name in found:
                raise ValueError(f"sweep {name!r} is defined in both {origin[name]} and {path}")
            found[name], origin[name] = factory, path
    return found
