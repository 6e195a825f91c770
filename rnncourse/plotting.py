"""One plotting style for the whole course.

Colours are the Okabe–Ito palette, which stays distinguishable under the common forms of
colour blindness; lines also cycle through dash patterns so that a plot printed in grey still
reads (markers would smother curves of thousands of points).
Call :func:`use_style` once at the top of a notebook.

The diagrams of the course (chapter 1's unrolled RNNs, chapter 3's computational graph,
chapter 7's stacked layers) are drawn in data coordinates with three primitives: :func:`box`
(a labelled node), :func:`arrow` (an edge, optionally labelled) and :func:`finish_diagram`
(limits, equal aspect, no axes). The gated-cell diagrams of chapters 5 and 6, built up stage by
stage, add :class:`CellDiagram` (layers, element-wise nodes, junctions, fading of earlier
stages), :func:`node_edge`, :func:`panel_grid` and :func:`symbol_legend`.
"""

from __future__ import annotations

from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
from cycler import cycler
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

__all__ = ["PALETTE", "use_style", "new_figure", "box", "arrow", "finish_diagram", "CellDiagram",
           "node_edge", "panel_grid", "symbol_legend"]

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


# -------------------------------------------------------------- gated-cell diagram primitives
# The cell diagrams of chapters 5 and 6, drawn with rnncourse.plotting's box and arrow in data
# units: the state line runs along the top, the inputs enter along a bus at the bottom, the
# layers (boxes) sit in a row between, and round nodes are element-wise operations. A stage
# draws the elements introduced up to it; with ``highlight`` the earlier ones are faded.

class CellDiagram:
    """Draws the elements of one stage of a gated-cell diagram on ``ax`` and counts them.

    Elements are drawn only from the stage ``since`` that introduces them (``until`` the last);
    with ``highlight`` those of earlier stages are faded, so that each panel shows what it adds.
    Sizes are in data units: layers are ``LAYER_W × LAYER_H`` boxes, operations round nodes of
    radius ``NODE_R``.
    """

    LAYER_W, LAYER_H, NODE_R = 0.9, 0.5, 0.2
    FADED = 0.3  # alpha of the elements of earlier stages

    def __init__(self, ax: Any, stage: int, highlight: bool, stages: int = 4) -> None:
        from .validation import check_positive_int

        stage = check_positive_int(stage, "stage")
        if stage > stages:
            raise ValueError(f"stage must be one of 1, ..., {stages}, got {stage}")
        self.ax, self.stage, self.highlight = ax, stage, highlight
        self.counts = {"layers": 0, "ops": 0, "arrows": 0, "junctions": 0}

    def shown(self, since: int, until: int = 99) -> bool:
        return since <= self.stage <= until

    def _alpha(self, since: int) -> float:
        return self.FADED if self.highlight and since < self.stage else 1.0

    def layer(self, since: int, x: float, y: float, text: str, colour: str,
              width: float | None = None, until: int = 99) -> None:
        """A layer: an affine map of its inputs, then ``text`` (σ, tanh), as a box."""
        if self.shown(since, until):
            patch = box(self.ax, x, y, text, colour, width or self.LAYER_W, self.LAYER_H,
                        fontsize=9, alpha=1.0, zorder=2)
            patch.set_alpha(self._alpha(since))
            self.ax.texts[-1].set_alpha(max(self._alpha(since), 0.55))
            self.counts["layers"] += 1

    def op(self, since: int, x: float, y: float, symbol: str, width: float | None = None,
           until: int = 99) -> None:
        """An element-wise operation (⊙, +, 1−) as a round node."""
        if self.shown(since, until):
            patch = box(self.ax, x, y, symbol, "white", width or 2 * self.NODE_R,
                        2 * self.NODE_R, fontsize=9, rounding=self.NODE_R + 0.02, alpha=1.0,
                        zorder=2)
            patch.set_alpha(self._alpha(since))
            self.ax.texts[-1].set_alpha(max(self._alpha(since), 0.55))
            self.counts["ops"] += 1

    def arrow(self, since: int, start: tuple[float, float], end: tuple[float, float],
              label: str | None = None, offset: tuple[float, float] = (0.0, 0.0),
              colour: str = "black", linewidth: float = 1.1, until: int = 99,
              zorder: float = 1) -> None:
        if self.shown(since, until):
            patch = arrow(self.ax, start, end, colour, label=label,
                                        label_offset=offset, linewidth=linewidth,
                                        head_size=9, zorder=zorder)
            patch.set_alpha(self._alpha(since))
            if label:
                self.ax.texts[-1].set_fontsize(9)
                self.ax.texts[-1].set_alpha(max(self._alpha(since), 0.55))
            self.counts["arrows"] += 1

    def line(self, since: int, xs: list[float], ys: list[float], colour: str = "black",
             linewidth: float = 1.1, until: int = 99) -> None:
        """A connection without a head (a bus, or the first legs of a bent arrow)."""
        if self.shown(since, until):
            self.ax.plot(xs, ys, color=colour, linewidth=linewidth, linestyle="-", zorder=1,
                         solid_capstyle="butt", alpha=self._alpha(since))

    def junction(self, since: int, x: float, y: float, until: int = 99) -> None:
        """A dot where one signal splits into two."""
        if self.shown(since, until):
            self.ax.plot([x], [y], marker="o", linestyle="", color="black", markersize=3.5,
                         zorder=1.5,
                         alpha=self._alpha(since))
            self.counts["junctions"] += 1

    def bridge(self, since: int, x: float, y: float, vertical: bool = True,
               until: int = 99) -> None:
        """Cut a gap into the line at ``(x, y)`` that the next (crossing) line jumps over."""
        if self.shown(since, until):
            d = 0.13
            xs, ys = ([x - d, x + d], [y, y]) if vertical else ([x, x], [y - d, y + d])
            self.ax.plot(xs, ys, color="white", linewidth=4, linestyle="-", zorder=1.2)

    def text(self, since: int, x: float, y: float, text: str, until: int = 99,
             fontsize: float = 10, **kwargs: Any) -> None:
        """An input or output name at the end of a line."""
        if self.shown(since, until):
            self.ax.text(x, y, text, fontsize=fontsize, zorder=3,
                         alpha=max(self._alpha(since), 0.55), **kwargs)


def node_edge(start: tuple[float, float], centre: tuple[float, float],
             radius: float = CellDiagram.NODE_R + 0.03) -> tuple[float, float]:
    """The point where the segment from ``start`` to a round node's ``centre`` meets its edge."""
    dx, dy = centre[0] - start[0], centre[1] - start[1]
    norm = (dx * dx + dy * dy) ** 0.5
    return centre[0] - radius * dx / norm, centre[1] - radius * dy / norm


def symbol_legend(fig: Any, entries: list[tuple[str, str, bool]], ncol: int | None = None
                 ) -> None:
    """A key below the panels: ``(label, fill colour, round)`` per kind of element."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="o" if round_ else "s", markersize=11, linestyle="",
                      markerfacecolor=colour, markeredgecolor="black", markeredgewidth=0.8,
                      label=label) for label, colour, round_ in entries]
    fig.legend(handles=handles, loc="outside lower center", ncol=ncol or len(handles),
               frameon=False, fontsize=9)


def panel_grid(n: int, ncols: int, width: float, height: float) -> tuple[Any, list[Any]]:
    """A figure with ``n`` panels, ``ncols`` a row (constrained layout); unused cells removed."""
    from .validation import check_positive_int

    ncols = min(check_positive_int(ncols, "ncols"), n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False,
                             layout="constrained")
    axes = list(axes.flat)
    for ax in axes[n:]:
        ax.remove()
    return fig, axes[:n]
