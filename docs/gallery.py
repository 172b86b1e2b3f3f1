"""The figure gallery page, generated from ``figures/fig_*.py`` at every documentation build.

Each entry: the script's name, the first line of its module docstring (what it shows), the command that makes
it and its image(s). Images come from ``figures/out/NAME.png`` when that is newer than the script (``make
figures`` wrote it); otherwise the script's ``make(out_dir, full=False)`` (the quick setting) draws it into
``docs/_gallery/``. The environment variable PDE_SGD_GALLERY_MAKE limits which missing figures are drawn:
``all`` (the default), ``none``, or comma-separated script names; a figure neither found nor drawn gets a note
with its command instead of an image.
"""
from __future__ import annotations

import ast
import importlib.util
import os
import re
import shutil
import time
from pathlib import Path

from pde_sgd.cli import natural_key

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
FIGURES = ROOT / "figures"
FIGURES_OUT = FIGURES / "out"
IMAGES = DOCS / "_gallery"
MAKE_ENV = "PDE_SGD_GALLERY_MAKE"


def describe(script: Path) -> str:
    """The first line of the script's module docstring (read without importing it)."""
    doc = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8")))
    if not doc:
        raise ValueError(f"{script.name} has no module docstring (each figure script needs a one-line summary)")
    return doc.strip().splitlines()[0]


def escape_markdown(text: str) -> str:
    """Backslash-escape ASCII punctuation that Markdown / MyST would interpret (emphasis, math, HTML...)."""
    return re.sub(r"([\\`*_{}\[\]<>#+!|$~^])", r"\\\1", text)


def _allowed(name: str) -> bool:
    choice = os.environ.get(MAKE_ENV, "all").strip()
    if choice == "all":
        return True
    if choice == "none":
        return False
    return name in {c.strip() for c in choice.split(",")}


def _draw(script: Path) -> list[Path]:
    spec = importlib.util.spec_from_file_location(f"gallery_{script.stem}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    t0 = time.perf_counter()
    paths = [Path(p) for p in module.make(IMAGES, full=False)]
    print(f"[gallery] drew {script.stem} (quick setting) in {time.perf_counter() - t0:.1f} s")
    return [p for p in paths if p.suffix == ".png"]


def images(script: Path) -> list[Path]:
    """PNG images of the figure inside docs/_gallery (copied from figures/out, or drawn), [] if neither."""
    IMAGES.mkdir(exist_ok=True)
    made = FIGURES_OUT / f"{script.stem}.png"
    if made.is_file() and made.stat().st_mtime >= script.stat().st_mtime:
        target = IMAGES / made.name
        if not target.is_file() or target.stat().st_mtime < made.stat().st_mtime:
            shutil.copy2(made, target)
        return [target]
    drawn = IMAGES / f"{script.stem}.png"
    if drawn.is_file() and drawn.stat().st_mtime >= script.stat().st_mtime:
        return [drawn]
    return _draw(script) if _allowed(script.stem) else []


def write_gallery(path: Path) -> None:
    """Write the gallery page (MyST markdown) to ``path``, only if its text changed."""
    lines = ["# Figure gallery", "",
             "Every figure script in `figures/` with what it shows (the first line of its docstring), the command "
             "that makes it and the picture. Images are taken from `figures/out` (`make figures`) when present "
             "and up to date, otherwise drawn in the quick setting during the documentation build. "
             "`pde-sgd figures --full` makes the publication setting.", ""]
    for script in sorted(FIGURES.glob("fig_*.py"), key=natural_key):
        name = script.stem
        lines += [f"## {name}", "", escape_markdown(describe(script)), "",
                  "```bash", f"pde-sgd figures --only {name}", "```", ""]
        found = images(script)
        for img in found:
            lines += [f"```{{image}} {img.relative_to(DOCS).as_posix()}", f":alt: {name}", ":width: 100%",
                      "```", ""]
        if not found:
            lines += [f"*Not drawn in this build: run* `pde-sgd figures --only {name}` *and rebuild.*", ""]
    text = "\n".join(lines)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
