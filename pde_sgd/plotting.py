"""Shared matplotlib helpers: one style for every figure, atomic PNG + PDF output.

Only figure scripts and the CLI import this module; solvers return data and never draw.
"""
from __future__ import annotations

import io
import os
import re
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .results import atomic_write_bytes  # noqa: E402

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.4,
    "image.cmap": "viridis",
}


def subplots(nrows: int = 1, ncols: int = 1, *, width: float = 3.4, height: float = 2.8, **kw):
    """``plt.subplots`` in the package style, each panel ``width`` x ``height`` inches."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False,
                                 constrained_layout=True, **kw)
    return fig, axes


class FigureQualityWarning(UserWarning):
    """A figure has text below the minimum size, overlapping tick labels or ASCII symbol names."""


MIN_FONTSIZE = 8.0  # points: the smallest text a journal figure may carry
# ASCII names of the package's symbols; in figures they are written in mathtext ($\\beta$) or as Unicode
ASCII_SYMBOLS = re.compile(r"(?<![\\A-Za-z])(beta|Phi|lambda|eta|epsilon|rho_ss|gamma|sigma)(?![A-Za-z])")


def _texts(fig):
    """Every visible, non-empty text artist of ``fig`` (titles, labels, tick labels, legends, annotations)."""
    from matplotlib.text import Text
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def _overlapping_ticks(fig, renderer) -> list[str]:
    found = []
    for ax in fig.axes:
        for axis, name in ((ax.xaxis, "x"), (ax.yaxis, "y")):
            boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in axis.get_ticklabels(which="both")
                     if t.get_visible() and t.get_text().strip()]
            for (ta, a), (tb, b) in zip(boxes, boxes[1:]):
                if a.overlaps(b) and a.intersection(a, b).width * a.intersection(a, b).height > 1.0:
                    found.append(f"overlapping {name} tick labels {ta!r} and {tb!r} in panel "
                                 f"{ax.get_title()[:40]!r}")
    return found


def layout_problems(fig, *, min_fontsize: float = MIN_FONTSIZE) -> list[str]:
    """What would stop a journal accepting ``fig``: text smaller than ``min_fontsize`` points, tick labels of
    one axis overlapping each other, and symbols written as ASCII names (``beta``) instead of mathtext."""
    renderer = fig.canvas.get_renderer()
    fig.draw_without_rendering()
    problems = [f"text {t.get_text()[:40]!r} at {t.get_fontsize():g} pt < {min_fontsize:g} pt"
                for t in _texts(fig) if t.get_fontsize() < min_fontsize - 1e-9]
    problems += _overlapping_ticks(fig, renderer)
    for t in _texts(fig):
        plain = re.sub(r"\$[^$]*\$", "", t.get_text())
        if ASCII_SYMBOLS.search(plain):
            problems.append(f"ASCII symbol name in {t.get_text()[:60]!r}: write it in mathtext or Unicode")
    return problems


def save_figure(fig, out_dir: str | os.PathLike, name: str) -> list[Path]:
    """Write ``name.png`` and ``name.pdf`` into ``out_dir`` atomically and close the figure.

    A :class:`FigureQualityWarning` lists what :func:`layout_problems` finds (small text, overlapping tick
    labels, ASCII symbol names). Each file is drawn into a temporary file unique to this writer (``.NAME.pid<PID>.<random>.tmp``, see
    :func:`pde_sgd.results.atomic_write_bytes`) and renamed into place; an error or Ctrl-C removes it.
    """
    out = Path(out_dir)
    paths = []
    try:
        with plt.rc_context(STYLE):
            problems = layout_problems(fig)
            if problems:
                warnings.warn(FigureQualityWarning(f"{name}: " + "; ".join(problems)), stacklevel=2)
            for ext in ("png", "pdf"):
                final = out / f"{name}.{ext}"
                buf = io.BytesIO()
                fig.savefig(buf, format=ext)
                atomic_write_bytes(final, buf.getvalue())
                paths.append(final)
    finally:
        plt.close(fig)
    return paths


def save_titled(fig, out_dir: str | os.PathLike, name: str, title: str, *, full: bool,
                quick_note: str = "quick setting", fontsize: float = 8) -> list[Path]:
    """Set the figure's suptitle, ending in `` (quick_note)`` unless ``full``, then :func:`save_figure`.

    Every figure made in its quick setting says so in its title (the figures standard).
    """
    fig.suptitle(f"{title}{'' if full else f' ({quick_note})'}", fontsize=fontsize)
    return save_figure(fig, out_dir, name)


def mark_points(ax, points, label: str, marker: str = "x", color: str = "k", **kw) -> None:
    """Scatter a set of 2-D points (critical points, modes) on ``ax`` with a legend label."""
    import numpy as np
    pts = np.atleast_2d(points)
    if pts.size:
        ax.scatter(pts[:, 0], pts[:, 1], marker=marker, color=color, label=label, zorder=5, **kw)
