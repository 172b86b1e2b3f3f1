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
    """A figure has small text, overlapping tick labels, ASCII symbol names, colour without a colourbar or an
    unannounced zoomed axis (see :func:`layout_problems`)."""


MIN_FONTSIZE = 8.0  # points: the smallest text a journal figure may carry
# ASCII names of the package's symbols; in figures they are written in mathtext ($\\beta$) or as Unicode
ASCII_SYMBOLS = re.compile(r"(?<![\\A-Za-z])(beta|Phi|lambda|eta|epsilon|eps|rho_ss|gamma|sigma)(?![A-Za-z])")
# a linear axis not including 0 whose range is below this fraction of its largest |value| is zoomed: a
# difference of a few percent fills the panel, so the figure must say so (see _unstated_zooms)
ZOOM_MIN_RANGE = 0.05
_NO_COLORBAR = "_pde_sgd_no_colorbar"   # attribute no_colorbar sets on a mappable: why it needs no colourbar
_ZOOM_NOTES = "_pde_sgd_zoom_notes"     # attribute zoomed sets on an axes: {"x"|"y": the note's Text}


def _texts(fig):
    """Every visible, non-empty text artist of ``fig`` (titles, labels, tick labels, legends, annotations)."""
    from matplotlib.text import Text
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def _overlapping_ticks(fig, renderer) -> list[str]:
    found = []
    for ax in fig.axes:
        for axis, name in ((ax.xaxis, "x"), (ax.yaxis, "y")):
            boxes = sorted(((t.get_text(), t.get_window_extent(renderer)) for t in axis.get_ticklabels(which="both")
                            if t.get_visible() and t.get_text().strip()),
                           key=lambda tb: tb[1].x0 if name == "x" else tb[1].y0)  # majors and minors interleaved
            for (ta, a), (tb, b) in zip(boxes, boxes[1:]):
                if a.overlaps(b) and a.intersection(a, b).width * a.intersection(a, b).height > 1.0:
                    found.append(f"overlapping {name} tick labels {ta!r} and {tb!r} in panel "
                                 f"{_panel(ax)}")
    return found


def _cut_off_texts(fig, renderer) -> list[str]:
    """Text that runs over the figure's edge (a long title, a legend or a note placed outside the panels) and
    is not clipped to an axes on purpose; a pixel of slack. Tick labels are left out (matplotlib keeps the
    labels of ticks outside the view, undrawn; constrained layout makes room for the drawn ones)."""
    edge = fig.bbox
    ticks = {id(lab) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)
             for tick in axis.get_major_ticks() + axis.get_minor_ticks() for lab in (tick.label1, tick.label2)}
    found = []
    for t in _texts(fig):
        if id(t) in ticks or (t.get_clip_on() and t.get_clip_box() is not None):
            continue
        box = t.get_window_extent(renderer)
        if box.x0 < edge.x0 - 1 or box.x1 > edge.x1 + 1 or box.y0 < edge.y0 - 1 or box.y1 > edge.y1 + 1:
            found.append(f"text {t.get_text()[:40]!r} is cut off at the figure's edge")
    return found


def _panel(ax) -> str:
    """A panel's name in messages: its title, else its axis labels, else its place in the figure's axes."""
    labels = f"{ax.get_ylabel()} vs {ax.get_xlabel()}" if ax.get_ylabel() or ax.get_xlabel() else ""
    return repr((ax.get_title() or labels)[:40]) if ax.get_title() or labels else f"#{ax.figure.axes.index(ax)}"


def no_colorbar(mappable, reason: str):
    """Mark ``mappable`` (image, mesh, filled contours, scatter with ``c`` values) as needing no colourbar, and
    say why (e.g. ``"colour repeats the marker's x position"``); :func:`layout_problems` then accepts it.

    Keep it rare: colour that encodes a value needs a colourbar. Returns ``mappable``."""
    if not reason.strip():
        raise ValueError("no_colorbar needs a reason")
    setattr(mappable, _NO_COLORBAR, reason)
    return mappable


def _colour_mappables(ax) -> list:
    """Visible artists of ``ax`` whose colour encodes a value through a colormap: images of scalars, meshes
    (pcolormesh, tripcolor), filled contours, scatters with ``c`` values, unless marked by :func:`no_colorbar`.
    Line contours are left out: their levels are labelled on the lines or in the caption."""
    from matplotlib.contour import ContourSet
    found = [im for im in ax.images if im.get_array() is not None and im.get_array().ndim == 2]
    found += [c for c in ax.collections if c.get_array() is not None
              and not (isinstance(c, ContourSet) and not c.filled)]
    return [m for m in found if m.get_visible() and not getattr(m, _NO_COLORBAR, "")]


def _colorbars(fig) -> list:
    """The colourbars of ``fig`` (matplotlib sets ``cax._colorbar`` and ``mappable.colorbar``)."""
    return [ax._colorbar for ax in fig.axes if getattr(ax, "_colorbar", None) is not None]


def _colour_mapping(mappable) -> tuple:
    """What decides a mappable's value -> colour map: colormap name, norm type and limits."""
    norm = mappable.norm
    return mappable.get_cmap().name, type(norm).__name__, norm.vmin, norm.vmax


def _missing_colorbars(fig) -> list[str]:
    """Colour that encodes a value (see :func:`_colour_mappables`) must have a colourbar in the figure: on the
    artist itself or on one with the same colormap and norm (one colourbar for panels sharing levels)."""
    bars = _colorbars(fig)
    shown = {_colour_mapping(cb.mappable) for cb in bars}
    data_axes = [ax for ax in fig.axes if ax not in {cb.ax for cb in bars}]
    return [f"colour of {type(m).__name__} encodes values without a colourbar in panel {_panel(ax)}: add "
            f"fig.colorbar, or plotting.no_colorbar(artist, reason) if the colour encodes no value"
            for ax in data_axes for m in _colour_mappables(ax)
            if m.colorbar is None and _colour_mapping(m) not in shown]


def _relative_range(lo: float, hi: float) -> float | None:
    """``(hi - lo) / max(|lo|, |hi|)`` for limits that exclude 0; None where they include 0 (anchored)."""
    lo, hi = sorted((lo, hi))
    if lo <= 0.0 <= hi:
        return None
    return (hi - lo) / max(abs(lo), abs(hi))


def zoomed(ax, *, axis: str = "y"):
    """Say on ``ax`` that its ``axis`` ("x" or "y") is zoomed, so that :func:`layout_problems` accepts it.

    Writes ``"y axis zoomed: range 1.2%"`` (the view's range as a percentage of its largest ``|value|``, from
    the limits at the call: call it after plotting and setting limits) in the panel's lower right corner
    (lower left for x). Returns the note."""
    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', not {axis!r}")
    lo, hi = ax.get_ylim() if axis == "y" else ax.get_xlim()
    rel = _relative_range(lo, hi)
    if rel is None:
        raise ValueError(f"the {axis} axis of {_panel(ax)} includes 0: it is anchored, not zoomed")
    x = 0.98 if axis == "y" else 0.02
    note = ax.text(x, 0.02, f"{axis} axis zoomed: range {100 * rel:.2g}%", transform=ax.transAxes,
                   ha="right" if axis == "y" else "left", va="bottom", fontsize=MIN_FONTSIZE,
                   bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.8})
    setattr(ax, _ZOOM_NOTES, {**getattr(ax, _ZOOM_NOTES, {}), axis: note})
    return note


def _zoom_stated(ax, name: str, axis) -> bool:
    """Whether a zoomed axis says so: a visible :func:`zoomed` note, or tick labels shown relative to a
    visible offset (``+1.002e3``). Call after drawing (the offset is computed then)."""
    from matplotlib.ticker import ScalarFormatter
    note = getattr(ax, _ZOOM_NOTES, {}).get(name)
    if note is not None and note.get_visible() and note in ax.texts:
        return True
    fmt = axis.get_major_formatter()
    return isinstance(fmt, ScalarFormatter) and fmt.offset != 0 and axis.offsetText.get_visible()


def _unstated_zooms(fig) -> list[str]:
    """A linear data axis whose view excludes 0 and spans less than ``ZOOM_MIN_RANGE`` of its largest
    ``|value|`` must say it is zoomed (:func:`_zoom_stated`): there a difference of a few percent fills the
    panel. Checked: visible axes with data; skipped: colourbars, axes switched off, images, log scales."""
    bars = {cb.ax for cb in _colorbars(fig)}
    found = []
    for ax in fig.axes:
        if ax in bars or not (ax.get_visible() and ax.axison and ax.has_data()) or ax.images:
            continue
        for name, axis, lims in (("x", ax.xaxis, ax.get_xlim()), ("y", ax.yaxis, ax.get_ylim())):
            rel = _relative_range(*lims)
            if (axis.get_scale() == "linear" and rel is not None and rel < ZOOM_MIN_RANGE
                    and not _zoom_stated(ax, name, axis)):
                found.append(f"{name} axis zoomed to a range of {100 * rel:.2g}% of its values in panel "
                             f"{_panel(ax)} without saying so: include 0, or plotting.zoomed(ax, axis={name!r})")
    return found


def layout_problems(fig, *, min_fontsize: float = MIN_FONTSIZE) -> list[str]:
    """What would stop a journal accepting ``fig``: text smaller than ``min_fontsize`` points, tick labels of
    one axis overlapping each other, text cut off at the figure's edge, symbols written as ASCII names (``beta``) instead of mathtext, colour
    that encodes a value without a colourbar (:func:`_missing_colorbars`; opt out with :func:`no_colorbar`),
    and an axis zoomed below ``ZOOM_MIN_RANGE`` of its values without saying so (:func:`_unstated_zooms`;
    include 0 or mark it with :func:`zoomed`)."""
    renderer = fig.canvas.get_renderer()
    fig.draw_without_rendering()
    problems = [f"text {t.get_text()[:40]!r} at {t.get_fontsize():g} pt < {min_fontsize:g} pt"
                for t in _texts(fig) if t.get_fontsize() < min_fontsize - 1e-9]
    problems += _overlapping_ticks(fig, renderer) + _cut_off_texts(fig, renderer)
    for t in _texts(fig):
        plain = re.sub(r"\$[^$]*\$", "", t.get_text())
        if ASCII_SYMBOLS.search(plain):
            problems.append(f"ASCII symbol name in {t.get_text()[:60]!r}: write it in mathtext or Unicode")
    return problems + _missing_colorbars(fig) + _unstated_zooms(fig)


def save_figure(fig, out_dir: str | os.PathLike, name: str) -> list[Path]:
    """Write ``name.png`` and ``name.pdf`` into ``out_dir`` atomically and close the figure.

    A :class:`FigureQualityWarning` lists what :func:`layout_problems` finds (small text, overlapping tick
    labels, ASCII symbol names, colour without a colourbar, unannounced zoomed axes). Each file is drawn into
    a temporary file unique to this writer (``.NAME.pid<PID>.<random>.tmp``, see
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
