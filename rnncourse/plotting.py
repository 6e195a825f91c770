"""One plotting style for the whole course.

Colours are the Okabe–Ito palette, which stays distinguishable under the common forms of
colour blindness; lines also cycle through dash patterns so that a plot printed in grey still
reads (markers would smother curves of thousands of points).
Call :func:`use_style` once at the top of a notebook.

The diagrams of the course (chapter 1's unrolled RNNs, chapter 3's computational graph,
chapter 7's stacked layers) are drawn in data coordinates with three primitives: :func:`box`
(a labelled node), :func:`arrow` (an edge, optionally labelled) and :func:`finish_diagram`
(limits, equal aspect, no axes).
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
from cycler import cycler
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

__all__ = ["PALETTE", "use_style", "new_figure", "box", "arrow", "finish_diagram"]

# Okabe & Ito (2008), "Color Universal Design": black first for single-line plots.
PALETTE: dict[str, str] = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}
_CYCLE = ["blue", "orange", "green", "vermillion", "sky", "purple", "black", "yellow"]
_DASHES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 3)), (0, (8, 3))]


def use_style() -> None:
    """Set matplotlib's defaults to the course style (palette, sizes, grid, labels)."""
    mpl.rcParams.update({
        "axes.prop_cycle": cycler(color=[PALETTE[c] for c in _CYCLE]) + cycler(linestyle=_DASHES),
        "lines.markersize": 4,
        "lines.linewidth": 1.8,
        "figure.figsize": (6.4, 3.6),
        "figure.dpi": 110,
        "savefig.dpi": 110,
        "figure.constrained_layout.use": True,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": 11,
        "axes.labelsize": 10,
        "legend.fontsize": 9,
        "legend.frameon": False,
        "font.size": 10,
        "image.cmap": "viridis",
    })


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 6.4,
               height: float = 3.6, **kwargs: object) -> tuple[plt.Figure, object]:
    """``plt.subplots`` in the course style; returns ``(figure, axes)``."""
    use_style()
    return plt.subplots(nrows, ncols, figsize=(width, height), **kwargs)


# ------------------------------------------------------------------------------- diagrams
def box(ax: plt.Axes, x: float, y: float, text: str, colour: str, width: float = 0.62,
        height: float = 0.42, *, fontsize: float = 10, linewidth: float = 1.0,
        rounding: float | None = 0.08, alpha: float = 0.9, zorder: float = 1) -> FancyBboxPatch:
    """Draw a rounded box of ``width`` x ``height`` centred at ``(x, y)``, ``text`` in its middle.

    Args:
        ax: the axes (data coordinates; see :func:`finish_diagram`).
        x, y: centre of the box.
        text: label, centred (mathtext such as ``"$h_1$"`` allowed; ``""`` for none).
        colour: fill colour, e.g. ``PALETTE["orange"]``; the edge is black.
        width, height: size in data units (the round corners add a pad of 0.02 around it).
        fontsize, linewidth, alpha: of the label, of the edge, and of the whole box.
        rounding: radius of the corners; ``None`` for matplotlib's default (the pad).
        zorder: of the box; the label is drawn above it (``zorder`` 3 or more). Give the boxes
            a higher ``zorder`` than the arrows to hide arrows that pass behind a box.

    Returns:
        The ``FancyBboxPatch`` added to ``ax.patches`` (the label goes to ``ax.texts``).
    """
    style = "round,pad=0.02" if rounding is None else f"round,pad=0.02,rounding_size={rounding}"
    patch = FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle=style,
                           facecolor=colour, edgecolor="black", linewidth=linewidth,
                           alpha=alpha, zorder=zorder)
    ax.add_patch(patch)
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, color="black",
            zorder=max(3, zorder + 1))
    return patch


def arrow(ax: plt.Axes, start: tuple[float, float], end: tuple[float, float],
          colour: str = "black", *, label: str | None = None,
          label_offset: tuple[float, float] = (0.0, 0.0), linewidth: float = 1.1,
          head_size: float = 11, linestyle: str = "-", rad: float = 0.0, shrink: float = 0.0,
          zorder: float = 1) -> FancyArrowPatch:
    """Draw an arrow from ``start`` to ``end`` (data coordinates), its head at ``end``.

    Args:
        ax: the axes.
        start, end: the two points; the arrow points from ``start`` to ``end``.
        colour: of the line and head.
        label: optional text (e.g. ``"$W_{hh}$"``) at the midpoint plus ``label_offset``, in
            small vermillion type.
        linewidth, linestyle: of the line (``"--"`` for dashed).
        head_size: matplotlib's ``mutation_scale``, the size of the head in points.
        rad: curvature (``connectionstyle="arc3,rad=..."``): 0 is straight, a negative value
            bends to the right of the direction of travel; ``-2.6`` makes a self-loop.
        shrink: points cut off at both ends, to stop short of round nodes.
        zorder: of the arrow.

    Returns:
        The ``FancyArrowPatch`` added to ``ax.patches``.
    """
    patch = FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=head_size,
                            linewidth=linewidth, linestyle=linestyle, color=colour,
                            connectionstyle=f"arc3,rad={rad}", shrinkA=shrink, shrinkB=shrink,
                            zorder=zorder)
    ax.add_patch(patch)
    if label:
        ax.text((start[0] + end[0]) / 2 + label_offset[0],
                (start[1] + end[1]) / 2 + label_offset[1], label,
                ha="center", va="center", fontsize=8, color=PALETTE["vermillion"])
    return patch


def finish_diagram(ax: plt.Axes, xlim: tuple[float, float], ylim: tuple[float, float],
                   title: str | None = None, *, equal: bool = True) -> None:
    """Turn ``ax`` into a blank canvas for a diagram: limits, no axes, optional title.

    Args:
        ax: the axes drawn on with :func:`box` and :func:`arrow`.
        xlim, ylim: the visible region in data units.
        title: axes title, if any.
        equal: one data unit is as long across as up (round boxes stay round).
    """
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    if equal:
        ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title)
