"""Pure functions from a fitted model to what the page shows: scatter figure, tree, panes.

They take already-validated values (a level that exists, a :class:`~hercules.hierarchy.Cluster`
or None), so they can be tested without a server and never see a raw browser value.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import html

from hercules.app.validate import cluster_of
from hercules.hierarchy import cluster_id

log = logging.getLogger(__name__)

MAX_PLOT_ITEMS = 100_000
MAX_HOVER_ITEMS = 20_000
MAX_TREE_HITS = 200
PALETTE = ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#EECA3B", "#B279A2", "#FF9DA6", "#9D755D", "#BAB0AC"]


def empty_figure(text: str = "No result yet: start a new run") -> go.Figure:
    return go.Figure(
        layout={
            "xaxis": {"visible": False},
            "yaxis": {"visible": False},
            "annotations": [{"text": text, "showarrow": False}],
        }
    )


def _node(c: Any, selected: Any, src: str, text: str | None = None) -> html.Button:
    """A clickable cluster; its id carries only the public cluster id."""
    sel = selected is not None and c.id == selected.id
    return html.Button(
        text or f"{c.id}  {c.title} ({c.size:,})",
        id={"type": "node", "cid": c.id, "src": src},
        className="node sel" if sel else "node",
    )


def cluster_tree(model: Any, selected: Any, query: str) -> list:
    """Nested <details> of the hierarchy, opened along the selection; with a query, the matching clusters."""
    h = model.hierarchy_
    if query:
        q = query.lower()
        hits = [c for t in range(h.depth, 0, -1) for c in model.clusters(t) if q in c.title.lower() or q in c.description.lower()]
        return [html.Div(f"{len(hits)} match(es)", className="muted")] + [
            _node(c, selected, "tree") for c in hits[:MAX_TREE_HITS]
        ]
    open_ids = {a.id for a in selected.ancestors} | {selected.id} if selected is not None else set()

    def node(c: Any) -> Any:
        label = _node(c, selected, "tree")
        if c.level == 1:
            return html.Div(label)
        return html.Details([html.Summary(label), *[node(k) for k in c.children]], open=c.id in open_ids)

    return [node(c) for c in model.clusters()]


def related(model: Any, selected: Any, level: int) -> set[int] | None:
    """Indices at ``level`` related to the selected cluster (itself, its ancestor or its descendants)."""
    if selected is None:
        return None
    if selected.level == level:
        return {selected.index}
    if selected.level < level:
        return {a.index for a in selected.ancestors if a.level == level}
    labels_at = model.hierarchy_.item_labels(level)[selected.item_indices]
    return set(np.unique(labels_at).tolist())


def _items_trace(model: Any, level: int, selected: Any) -> go.Scattergl:
    """The items (a fixed sample of at most MAX_PLOT_ITEMS), coloured by cluster; the selection stays opaque."""
    h = model.hierarchy_
    coords = np.asarray(model.coords_)
    n = coords.shape[0]
    idx = np.arange(n) if n <= MAX_PLOT_ITEMS else np.sort(np.random.default_rng(0).choice(n, MAX_PLOT_ITEMS, replace=False))
    colors = np.array(PALETTE)[h.item_labels(level)[idx] % len(PALETTE)]
    if selected is not None:  # the selected cluster's own items stay, the rest fades
        opacity: Any = np.where(h.item_labels(selected.level)[idx] == selected.index, 0.85, 0.06)
    else:
        opacity = 0.55
    hover = None
    if len(idx) <= MAX_HOVER_ITEMS:
        texts = model.dataset_.item_texts()
        hover = [texts[i][:90] for i in idx]
    return go.Scattergl(
        x=coords[idx, 0],
        y=coords[idx, 1],
        mode="markers",
        name="items",
        marker={"size": 4, "color": colors.tolist(), "opacity": opacity},
        hovertext=hover,
        hoverinfo="text" if hover else "skip",
    )


def _size_scale(sizes: np.ndarray, size_mode: str) -> np.ndarray:
    scaled = {"linear": sizes, "sqrt": np.sqrt(sizes), "log": np.log1p(sizes)}[size_mode]
    return 14 + 46 * scaled / max(scaled.max(), 1e-9)


def figure(model: Any, level: int, size_mode: str, selected: Any, show_items: bool) -> go.Figure:
    """Scatter of the level's clusters (bubbles sized by ``size_mode``) over the items, selection highlighted."""
    lvl = model.hierarchy_.level(level)
    fig = go.Figure()
    if show_items and np.asarray(model.coords_).shape[0]:
        fig.add_trace(_items_trace(model, level, selected))
    px = _size_scale(lvl.sizes.astype(float), size_mode)
    rel = related(model, selected, level)
    ids = [cluster_id(level, j) for j in range(lvl.k)]
    sel_id = selected.id if selected is not None else None
    fig.add_trace(
        go.Scatter(
            x=lvl.coords[:, 0],
            y=lvl.coords[:, 1],
            mode="markers+text",
            name=f"level {level} clusters",
            marker={
                "size": px,
                "color": [PALETTE[j % len(PALETTE)] for j in range(lvl.k)],
                "opacity": [0.9 if rel is None or j in rel else 0.15 for j in range(lvl.k)],
                "line": {"width": [3 if sel_id == cid else 1 for cid in ids], "color": "#1f2933"},
            },
            text=[lb.title[:22] if p >= 30 else "" for lb, p in zip(lvl.labels, px)],
            textposition="middle center",
            textfont={"size": 10},
            customdata=ids,
            hovertext=[f"{cid} · {lb.title} · {s:,} items" for cid, lb, s in zip(ids, lvl.labels, lvl.sizes)],
            hoverinfo="text",
        )
    )
    fig.update_layout(
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        showlegend=False,
        plot_bgcolor="#fff",
        title={"text": f"Level {level}: {lvl.k} clusters (PCA of the item vectors)", "font": {"size": 13}},
        xaxis={"showgrid": False, "zeroline": False, "visible": False},
        yaxis={"showgrid": False, "zeroline": False, "visible": False},
        clickmode="event",
        uirevision="keep",
    )
    return fig


def overview(model: Any, meta: dict) -> list:
    """The pane with nothing selected: facts about the result and its top clusters."""
    h = model.hierarchy_
    rows = [
        ("items", f"{h.n_items:,} ({model.dataset_.modality})"),
        ("levels", " → ".join(str(k) for k in reversed(model.levels_))),
        ("embedder", model.embedder_id_),
        ("representation", model.representation),
        ("labels", "LLM" if any(lb.source.startswith("llm") for lvl in h.levels for lb in lvl.labels) else "keywords"),
    ]
    out = [
        html.H3("Overview"),
        html.Table([html.Tr([html.Td(k), html.Td(v)]) for k, v in rows], className="kv"),
        html.P("Top clusters", className="muted"),
    ]
    out += [_node(c, None, "pane", f"{c.title} ({c.size:,})") for c in model.clusters()]
    cfg = meta.get("config")
    if cfg:
        out += [html.Details([html.Summary("Run configuration"), html.Pre(json.dumps(cfg, indent=1), className="muted")])]
    return out


def evaluation_table(df: pd.DataFrame) -> list:
    """The evaluation of a run with a ground-truth column, one row per level."""
    cols = [c for c in ("n_clusters", "ari", "nmi", "accuracy", "items_silhouette") if c in df.columns]

    def cell(v: Any) -> html.Td:
        return html.Td(f"{v:.3f}" if isinstance(v, float) else str(v))

    header = html.Tr([html.Th("level")] + [html.Th(c) for c in cols])
    rows = [html.Tr([html.Td(str(lv))] + [cell(df.loc[lv, c]) for c in cols]) for lv in df.index]
    return [html.H3("Evaluation"), html.Table([header, *rows], className="kv")]


def _numeric_stats(model: Any, c: Any) -> list:
    """Original-scale statistics of a numeric cluster's most distinctive variables."""
    from hercules.labeling.base import LevelContext
    from hercules.labeling.keywords import KeywordLabeler

    h = model.hierarchy_
    lctx = LevelContext(
        level=c.level,
        dataset=model.dataset_,
        item_labels=h.item_labels(c.level),
        n_clusters=h.level(c.level).k,
        item_vectors=None,
        centroids=None,
    )
    return [html.H3("Statistics (original scale)")] + [
        html.P(s, className="muted") for s in KeywordLabeler.numeric_stats(lctx)[c.index]
    ]


def cluster_pane(model: Any, rid: str, c: Any) -> list:
    """The pane of a selected cluster: title, description, navigation, representative items, statistics."""
    ds = model.dataset_
    pills = [html.Span(f"level {c.level}", className="pill"), " ", html.Span(f"{c.size:,} items", className="pill")]
    out = [
        html.H3(f"Cluster {c.id}"),
        html.P(html.B(c.title), id="pane-title"),
        html.P(c.description),
        html.P([*pills, " ", html.Span(ds.modality, className="pill")]),
    ]
    if c.keywords:
        out.append(html.P("Keywords: " + ", ".join(c.keywords[:8]), className="muted"))
    if c.parent is not None:
        out.append(_node(c.parent, None, "pane", f"↑ {c.parent.id} {c.parent.title}"))
    out += [_node(k, None, "pane", f"↓ {k.id} {k.title} ({k.size:,})") for k in c.children[:15]]
    idx = c.representative_indices(6)
    texts = ds.item_texts()
    out.append(html.H3("Representative items"))
    if ds.modality == "image":
        out.append(html.Div([html.Img(src=f"/thumb/{rid}/{int(i)}", className="thumb", title=texts[i]) for i in idx]))
    out += [html.P(f"• {texts[i][:200]}", className="muted") for i in idx]
    if ds.modality == "numeric":
        try:
            out += _numeric_stats(model, c)
        except Exception:  # noqa: BLE001 - statistics are an extra; the pane must still open
            log.exception("numeric statistics failed for %s", c.id)
    return out


def hover_items(model: Any, custom: Any) -> tuple[list[int], str] | None:
    """Items to show as thumbnails for a hovered point: a cluster's first items, or one item."""
    if isinstance(custom, str):
        c = cluster_of(model, custom)
        if c is None:
            return None
        return [int(i) for i in c.item_indices[:4]], f"{c.id} · {c.title} · {c.size:,} items"
    if isinstance(custom, int) and not isinstance(custom, bool) and 0 <= custom < model.hierarchy_.n_items:
        return [custom], model.dataset_.item_texts()[custom][:80]
    return None
