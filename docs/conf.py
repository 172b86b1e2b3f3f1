"""Sphinx configuration of the pde_sgd documentation (``make docs``; offline, warnings are errors).

Before Sphinx reads anything this file generates, from the source tree:

* ``api.rst``: one autodoc section per public module of the package (every module whose dotted name has no
  part starting with ``_``), so a new module appears without editing the docs;
* ``gallery.md``: one entry per ``figures/fig_*.py`` (its docstring's first line, the command that makes it,
  the image), see :mod:`gallery`;
* docstrings pass through :mod:`docstrings` (plain-text maths escaped; invalid RST shown verbatim);
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
exclude_patterns = ["_build", "**.ipynb_checkpoints", "**.part"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # executed by notebooks/lessons.py (quick setting) before Sphinx reads them
nb_ipywidgets_js = {}  # no widget manager from a CDN: the lessons' widgets fall back to static figures
nb_merge_streams = True
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_ivar = True  # "Attributes" as fields: dataclass members are not described twice
html_theme = "alabaster"
html_title = f"pde_sgd {release}"
html_theme_options = {"description": "The continuous-time theory of SGD, computable and checkable",
                      "fixed_sidebar": True, "page_width": "1160px", "font_family": "sans-serif", "head_font_family": "sans-serif"}
html_static_path: list[str] = []


def setup(app):
    app.connect("autodoc-process-docstring", docstrings.process)


def public_modules() -> list[str]:
    """Dotted names of the package's modules, skipping any with a part that starts with '_'."""
    pkg = importlib.import_module("pde_sgd")
    names = ["pde_sgd"]
    for info in pkgutil.walk_packages(pkg.__path__, "pde_sgd."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def write_api(path: Path) -> None:
    lines = ["API reference", "=============", "",
             "Every public module of the package, generated from the docstrings (numpy style). ``import pde_sgd``",
             "imports neither torch nor matplotlib; :mod:`pde_sgd.networks`, :mod:`pde_sgd.optim` and",
             ":mod:`pde_sgd.sde.torch_bridge` import torch when used.", "",
             ".. contents:: Modules", "   :local:", "   :depth: 1", ""]
    for name in public_modules():
        # a package's page shows its docstring; its objects are documented once, in the defining module
        package = hasattr(importlib.import_module(name), "__path__")
        lines += [name, "-" * len(name), "", f".. automodule:: {name}"] + (["   :no-members:"] if package else []) + [""]
    text = "\n".join(lines)
    if not path.exists() or path.read_text() != text:  # unchanged text: no rebuild of the page
        path.write_text(text)


def execute_lessons() -> None:
    for src in lessons.sources():
        if not lessons.is_current(src, lessons.EXECUTED, quick=True):
            path, seconds = lessons.execute(src, lessons.EXECUTED, quick=True)
            print(f"[lessons] executed {src.name} in {seconds:.1f} s -> {path}")


write_api(DOCS / "api.rst")
gallery.write_gallery(DOCS / "gallery.md")
execute_lessons()
