"""One plotting style for the whole course.

Colours are the Okabe–Ito palette, which stays distinguishable under the common forms of
colour blindness; lines also cycle through dash patterns so that a plot printed in grey still
reads (markers would smother curves of thousands of points).
Call :func:`use_style` once at the top of a notebook.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
from cycler import cycler

__all__ = ["PALETTE", "use_style", "new_figure"]

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
    return plt.subplots(nrows, ncols, figsize=(width, height), **kwargs)  # type: ignore[arg-type]
