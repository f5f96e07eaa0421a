"""Static pictures of a fitted model with matplotlib: a labelled map, a sunburst of the tree, cluster sizes.

Figures are built with ``matplotlib.figure.Figure`` and an Agg canvas, never pyplot, so plotting touches no
global backend or figure registry (safe in servers and notebooks alike).
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from hercules.viz.colors import shade
from hercules.viz.data import MapModel, VizError, map_model

SUFFIXES = (".png", ".svg", ".pdf")
_HALO = [patheffects.withStroke(linewidth=3, foreground="white")]


def _new_figure(size: tuple[float, float]) -> Figure:
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _wrap(s: str, width: int = 24, lines: int = 2) -> str:
    out = textwrap.wrap(s, width) or [""]
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][: width - 1] + "\u2026"
    return "\n".join(out)


def _place_labels(fig: Figure, ax: Any, specs: list[tuple[float, float, str, dict]]) -> int:
    """Add texts in priority order, dropping any that would overlap one already placed; returns how many stayed."""
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    placed: list[Any] = []
    for x, y, s, style in specs:
        t = ax.text(x, y, s, ha="center", va="center", path_effects=_HALO, **style)
        bb = t.get_window_extent(renderer).expanded(1.05, 1.1)
        if any(bb.overlaps(b) for b in placed):
            t.remove()
            continue
        placed.append(bb)
    return len(placed)


def map_figure(mm: MapModel, max_points: int = 200_000, figsize: tuple[float, float] = (12, 9), seed: int = 0) -> Figure:
    """Items coloured by top-level cluster; top titles in bold, the level below where room is left."""
    fig = _new_figure(figsize)
    ax = fig.add_subplot()
    n = mm.n_items
    pts = np.random.default_rng(seed).permutation(n)[:max_points]
    top = mm.labels[-1][pts]
    colors = np.array(mm.colors)[top % len(mm.colors)]
    size = float(np.clip(30_000 / max(len(pts), 1), 0.3, 12))
    ax.scatter(*mm.coords[pts].T, c=colors, s=size, alpha=0.55, linewidths=0, rasterized=True)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_axis_off()
    specs = []
    lv = mm.levels[-1]
    for j in np.argsort(-lv.sizes):
        specs.append((*lv.anchors[j], _wrap(lv.titles[j], 22), {"fontsize": 13, "fontweight": "bold", "color": "#1d2330"}))
    if mm.depth > 1:
        lv = mm.levels[-2]
        for j in np.argsort(-lv.sizes):
            specs.append((*lv.anchors[j], _wrap(lv.titles[j], 20), {"fontsize": 7.5, "color": "#3a4150"}))
    fig.canvas.draw()
    _place_labels(fig, ax, specs)
    ax.set_title(f"{n:,} items, levels {' / '.join(str(lv.k) for lv in reversed(mm.levels))}", fontsize=11, color="#5b6475")
    return fig


def _spans(mm: MapModel, depth: int) -> list[list[tuple[int, float, float]]]:
    """Per ring (top level first): (cluster, start, width) in fractions of the circle; children nest in parents."""
    top = mm.levels[-1]
    total = float(top.sizes.sum())
    starts = np.concatenate([[0.0], np.cumsum(top.sizes / total)[:-1]])
    prev = [(j, float(starts[j]), float(top.sizes[j] / total)) for j in range(top.k)]
    rings = [prev]
    for r in range(1, depth):
        lv, parent = mm.levels[-1 - r], mm.levels[-1 - r].parent
        assert parent is not None
        ring = []
        for p, s0, _ in prev:
            kids = np.flatnonzero(parent == p)
            kids = kids[np.argsort(-lv.sizes[kids], kind="stable")]
            for c in kids:
                w = lv.sizes[c] / total
                ring.append((int(c), s0, w))
                s0 += w
        rings.append(ring)
        prev = ring
    return rings


def sunburst_figure(mm: MapModel, max_depth: int = 3, figsize: tuple[float, float] = (12, 12)) -> Figure:
    """Rings from the top level (inside) down; angle = share of items; titles where the wedge has room."""
    depth = max(1, min(max_depth, mm.depth))
    fig = _new_figure(figsize)
    ax = fig.add_subplot(projection="polar")
    ax.set_theta_zero_location("N")
    ax.set_theta_direction(-1)
    ax.set_axis_off()
    r0, dr = 0.3, 1.0
    rings = _spans(mm, depth)
    tops = {}
    for r, ring in enumerate(rings):
        lv = mm.levels[-1 - r]
        inner = r0 + r * dr
        for idx, (j, s0, w) in enumerate(ring):
            top = j if r == 0 else tops[(r - 1, _parent_of(mm, r, j))]
            tops[(r, j)] = top
            base = mm.colors[top % len(mm.colors)]
            color = base if r == 0 else shade(base, 0.22 * r + (0.08 if idx % 2 else 0))
            theta = 2 * math.pi * (s0 + w / 2)
            ax.bar(theta, dr, width=2 * math.pi * w, bottom=inner, color=color, edgecolor="white", linewidth=0.6, align="center")
            _wedge_text(ax, lv.titles[j], theta, w, inner + dr / 2, r)
    ax.set_ylim(0, r0 + depth * dr)
    ax.text(0, 0, f"{mm.n_items:,}\nitems", ha="center", va="center", fontsize=11, color="#3a4150")
    return fig


def _parent_of(mm: MapModel, ring: int, j: int) -> int:
    parent = mm.levels[-1 - ring].parent
    assert parent is not None
    return int(parent[j])


def _wedge_text(ax: Any, title: str, theta: float, w: float, r_mid: float, ring: int) -> None:
    """Radial text along the wedge (flipped on the left half so it never reads upside down)."""
    if w * r_mid < 0.012 * (ring + 1) or w < 0.006:
        return
    deg = 90 - math.degrees(theta)
    if deg < -90:
        deg += 180
    if ring == 0 and w > 0.08:
        text, rot = _wrap(title, 18), 0.0
    elif w > 0.03:  # room for two radial lines
        text, rot = _wrap(title, 16 if ring == 0 else 24), deg
    else:
        chars = 16 if ring == 0 else 30
        text, rot = (title if len(title) <= chars else title[: chars - 1] + "\u2026"), deg
    ax.text(theta, r_mid, text, rotation=rot, rotation_mode="anchor", ha="center", va="center",
            fontsize=(9 if ring == 0 else 7 if ring == 1 else 6), color="#111", path_effects=_HALO)  # fmt: skip


def sizes_figure(mm: MapModel, figsize: tuple[float, float] | None = None) -> Figure:
    """One histogram of cluster sizes per level (log-spaced bins), with k, min, median and max."""
    L = mm.depth
    fig = _new_figure(figsize or (4.2 * L, 3.6))
    axes = fig.subplots(1, L, squeeze=False)[0]
    for ax, lv in zip(axes, reversed(mm.levels)):
        s = lv.sizes[lv.sizes > 0]
        lo, hi = max(1, int(s.min())), max(2, int(s.max()))
        bins = np.geomspace(lo, hi * 1.0001, min(30, max(5, lv.k // 2)) + 1) if hi / lo > 20 else min(30, max(5, lv.k))
        ax.hist(s, bins=bins, color=mm.colors[0], edgecolor="white")
        if hi / lo > 20:
            ax.set_xscale("log")
        stats = f"min {int(s.min()):,} \u00b7 median {int(np.median(s)):,} \u00b7 max {int(s.max()):,}"
        ax.set_title(f"level {lv.level}: {lv.k:,} clusters\n{stats}", fontsize=10)
        ax.set_xlabel("items per cluster")
        ax.set_ylabel("clusters")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle("Cluster sizes per level", fontsize=11)
    return fig


def plot(model: Any, kind: str = "map", path: str | Path | None = None, dpi: int = 150, **kw: Any) -> Figure:
    """See :func:`hercules.viz.plot`."""
    builders = {"map": map_figure, "sunburst": sunburst_figure, "sizes": sizes_figure}
    if kind not in builders:
        raise VizError(f"unknown plot kind {kind!r}; use one of {', '.join(builders)}")
    if path is not None and Path(path).suffix.lower() not in SUFFIXES:
        raise VizError(f"cannot write {Path(path).name!r}: use a file ending in {', '.join(SUFFIXES)}")
    fig = builders[kind](map_model(model), **kw)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    return fig
