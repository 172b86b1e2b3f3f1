"""Sphinx configuration of the pde_sgd documentation (``make docs``; offline, warnings are errors).

Before Sphinx reads anything this file generates, from the source tree:

* ``api.rst`` and ``reference/NAME.rst``: one autodoc page per public module of the package (every module whose
  dotted name has no part starting with ``_``), so a new module appears without editing the docs; ``api.rst``
  lists the user API first and the internals (:data:`INTERNALS`: kernels, stencils, JIT helpers, argument
  checks, the driver, command-line front ends) apart;
* ``gallery.md``: one entry per ``figures/fig_*.py`` (its docstring's first line, the command that makes it,
  the image), see :mod:`gallery`;
* docstrings pass through :mod:`docstrings`: before napoleon, the compact numpy sections become standard
  ones; after it, plain-text maths is escaped and invalid RST shown verbatim;
* ``lessons/NN_*.ipynb``: the lessons of ``notebooks/`` executed in the quick setting, reused when already
  executed from the present source (``python notebooks/lessons.py`` or the notebook tests write them).

Maths is rendered by MathJax copied from the ``sphinx-mathjax-offline`` package: no page loads a remote script.
"""
from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path[:0] = [str(ROOT), str(DOCS), str(ROOT / "notebooks")]
os.environ.setdefault("MPLBACKEND", "Agg")

import docstrings  # noqa: E402  (docs/docstrings.py)
import gallery  # noqa: E402  (docs/gallery.py)
import lessons  # noqa: E402  (notebooks/lessons.py)

project = "pde_sgd"
author = "pde_sgd authors"
copyright = "pde_sgd authors"
release = importlib.import_module("pde_sgd").__version__

extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax",
              "sphinx-mathjax-offline"]
# _gallery holds the images of figures drawn during the build, and whatever else a figure script writes beside
# them (the verdict tables, fig_*_verdicts.md): never a page of the site
exclude_patterns = ["_build", "_gallery", "**.ipynb_checkpoints", "**.part"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # executed by notebooks/lessons.py (quick setting) before Sphinx reads them
nb_ipywidgets_js = {}  # no widget manager from a CDN: the lessons' widgets fall back to static figures
nb_merge_streams = True
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"  # types in the signature; the Parameters field holds each description once
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_param = False  # "a, b : text" stays one entry (with :param: fields it showed the text twice)
napoleon_use_ivar = True  # "Attributes" as fields: dataclass members are not described twice
html_theme = "alabaster"
html_title = f"pde_sgd {release}"
html_theme_options = {"description": "The continuous-time theory of SGD, computable and checkable",
                      "fixed_sidebar": True, "page_width": "1160px", "font_family": "sans-serif", "head_font_family": "sans-serif"}
html_static_path: list[str] = []


def setup(app):
    app.connect("autodoc-process-docstring", docstrings.before_napoleon, priority=400)  # napoleon's is 500
    app.connect("autodoc-process-docstring", docstrings.process, priority=600)


# internals: documented for contributors, listed apart from the user API (a module not named here is user API)
INTERNALS = frozenset({
    "pde_sgd.cli", "pde_sgd.driver", "pde_sgd.jitfuncs", "pde_sgd.schemes", "pde_sgd.validation",
    "pde_sgd.hj.schemes", "pde_sgd.hj.separable",
    "pde_sgd.fokker_planck.coefficients", "pde_sgd.fokker_planck.evolve", "pde_sgd.fokker_planck.operator",
    "pde_sgd.fokker_planck.steady", "pde_sgd.fokker_planck.stencil",
    "pde_sgd.sde.blocks", "pde_sgd.sde.common", "pde_sgd.sde.fields", "pde_sgd.sde.kernels", "pde_sgd.sde.rng",
    "pde_sgd.networks.capture_cli", "pde_sgd.optim.common", "pde_sgd.training.cli",
    "pde_sgd.sweeps.cli", "pde_sgd.sweeps.dask_backend", "pde_sgd.sweeps.discover", "pde_sgd.sweeps.store",
})
REFERENCE = DOCS / "reference"


def public_modules() -> list[str]:
    """Dotted names of the package's modules, skipping any with a part that starts with '_'."""
    pkg = importlib.import_module("pde_sgd")
    names = ["pde_sgd"]
    for info in pkgutil.walk_packages(pkg.__path__, "pde_sgd."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:  # unchanged text: no rebuild of the page
        path.write_text(text)


def write_module_page(name: str) -> None:
    """reference/NAME.rst: the module's docstring and members (a package's page: its docstring only, since
    its objects are documented once, in the defining module)."""
    package = hasattr(importlib.import_module(name), "__path__")
    lines = [name, "=" * len(name), "", f".. automodule:: {name}"] + (["   :no-members:"] if package else [])
    _write_if_changed(REFERENCE / f"{name}.rst", "\n".join(lines) + "\n")


def write_api(path: Path) -> None:
    """The API index (user API, then internals) and one page per public module; stale pages are removed."""
    names = public_modules()
    REFERENCE.mkdir(exist_ok=True)
    for stale in set(REFERENCE.glob("*.rst")) - {REFERENCE / f"{n}.rst" for n in names}:
        stale.unlink()
    for name in names:
        write_module_page(name)

    def toctree(group: list[str]) -> list[str]:
        return [".. toctree::", "   :maxdepth: 1", ""] + [f"   reference/{n}" for n in group] + [""]

    lines = ["API reference", "=============", "",
             "One page per public module, generated from the docstrings (numpy style). ``import pde_sgd``",
             "imports neither torch nor matplotlib; :mod:`pde_sgd.networks`, :mod:`pde_sgd.optim` and",
             ":mod:`pde_sgd.sde.torch_bridge` import torch when used.", "",
             "User API", "--------", "",
             "What a user calls: the solvers, the specifications of losses, drifts and diffusions, results, checks,",
             "the network tools, the optimizers, training and sweeps.", ""]
    lines += toctree([n for n in names if n not in INTERNALS])
    lines += ["Internals", "---------", "",
              "The machinery behind the user API: Numba kernels, stencils and JIT helpers, argument checks, the",
              "stepping driver and the command-line front ends. Documented for contributors; these names may",
              "change between versions.", ""]
    lines += toctree([n for n in names if n in INTERNALS])
    _write_if_changed(path, "\n".join(lines))


def execute_lessons() -> None:
    for src in lessons.sources():
        if not lessons.is_current(src, lessons.EXECUTED, quick=True):
            path, seconds = lessons.execute(src, lessons.EXECUTED, quick=True)
            print(f"[lessons] executed {src.name} in {seconds:.1f} s -> {path}")


write_api(DOCS / "api.rst")
gallery.write_gallery(DOCS / "gallery.md")
execute_lessons()
