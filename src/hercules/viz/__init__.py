"""Pictures of a fitted model: a self-contained interactive HTML map, and static PNG/SVG plots.

>>> from hercules.viz import export_html, plot
>>> export_html(model, "map.html")                 # zoomable WebGL map; opens offline, shares as one file
>>> plot(model, kind="sunburst", path="tree.svg")  # "map", "sunburst" or "sizes"; returns the matplotlib figure

``export_html`` needs nothing beyond the base install; ``plot`` needs matplotlib (``hercules-cluster[viz]``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from hercules.viz.data import VizError
from hercules.viz.html import DEFAULT_MAX_POINTS, export_html

__all__ = ["DEFAULT_MAX_POINTS", "PLOT_KINDS", "VizError", "export_html", "plot"]

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PLOT_KINDS = ("map", "sunburst", "sizes")


def plot(model: Any, kind: str = "map", path: str | Path | None = None, **kw: Any) -> Figure:
    """Draw ``kind`` ("map", "sunburst" or "sizes") and save it to ``path`` (.png, .svg or .pdf) when given.

    Returns the matplotlib ``Figure``. Extra keyword arguments go to the drawing function
    (e.g. ``max_depth`` for the sunburst, ``max_points`` for the map).
    """
    from hercules.viz.plots import plot as _plot  # matplotlib is imported only when a plot is asked for

    return _plot(model, kind=kind, path=path, **kw)
