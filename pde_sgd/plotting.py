"""Shared matplotlib helpers: one style for every figure, atomic PNG + PDF output.

Only figure scripts and the CLI import this module; solvers return data and never draw.
"""
from __future__ import annotations

import io
import os
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


def save_figure(fig, out_dir: str | os.PathLike, name: str) -> list[Path]:
    """Write ``name.png`` and ``name.pdf`` into ``out_dir`` atomically and close the figure.

    Each file is drawn into a temporary file unique to this writer (``.NAME.pid<PID>.<random>.tmp``, see
    :func:`pde_sgd.results.atomic_write_bytes`) and renamed into place; an error or Ctrl-C removes it.
    """
    out = Path(out_dir)
    paths = []
    try:
        with plt.rc_context(STYLE):
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
