"""One palette for the HTML map and the static plots, so a cluster has the same colour everywhere."""

from __future__ import annotations

import colorsys

# 20 well-separated colours (Tableau 10 and a second, distinct set); beyond 20, golden-angle hues.
_BASE = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#6b8e23",
    "#1f77b4", "#d62728", "#9467bd", "#17becf", "#bcbd22", "#8c564b", "#e377c2", "#2ca02c", "#ff7f0e", "#7f7f7f",
]  # fmt: skip


def palette(k: int) -> list[str]:
    """``k`` hex colours: the first 20 hand-picked, then evenly spread hues."""
    out = list(_BASE[:k])
    for i in range(len(out), k):
        h = (i * 0.618033988749895) % 1.0
        r, g, b = colorsys.hls_to_rgb(h, 0.5 + 0.12 * ((i // 7) % 2), 0.55)
        out.append(f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}")
    return out


def shade(hex_color: str, amount: float) -> str:
    """Lighten (amount > 0) or darken (< 0) a colour, keeping its hue: child clusters in the sunburst."""
    r, g, b = (int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5))
    h, light, s = colorsys.rgb_to_hls(r, g, b)
    light = min(0.95, max(0.05, light + amount * (1 - light if amount > 0 else light)))
    r, g, b = colorsys.hls_to_rgb(h, light, s)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"
