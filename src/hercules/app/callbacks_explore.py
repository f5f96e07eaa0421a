"""Explore tab: choose a result and a level, select clusters (tree, scatter, pane), hover thumbnails.

Every value from the browser is checked before use: the result id by the store (before any
cache lookup), levels and cluster ids against the model (``L99-0`` is "nothing selected"),
click and hover payloads by shape. A bad value answers "no update", never an error page.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from dash import ALL, Dash, Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from hercules.app import views
from hercules.app.context import AppContext
from hercules.app.layout import SIZE_MODES
from hercules.app.validate import CLUSTER_ID, MAX_TEXT, BadRequest, checklist, cluster_of, guarded, level_of, one_of, opt_str


def selection_from(triggered_id: Any, triggered: Any, click: Any) -> str:
    """The cluster id a click asks for (tree/pane button or scatter bubble); PreventUpdate otherwise."""
    if isinstance(triggered_id, dict) and triggered_id.get("type") == "node":
        cid = triggered_id.get("cid")
        clicked = isinstance(triggered, list) and any(isinstance(t, dict) and t.get("value") for t in triggered)
        if clicked and isinstance(cid, str) and CLUSTER_ID.match(cid):
            return cid
        raise PreventUpdate
    if triggered_id == "scatter" and isinstance(click, dict):
        points = click.get("points")
        if isinstance(points, list) and points and isinstance(points[0], dict):
            cid = points[0].get("customdata")
            if isinstance(cid, str) and CLUSTER_ID.match(cid):
                return cid
    raise PreventUpdate


def pane(actx: AppContext, rid: Any, selected: Any) -> list:
    """The cluster pane of the selection, or the overview (with the evaluation) when nothing valid is selected."""
    if not rid:
        return [
            html.H3("Welcome"),
            html.P("Upload data in the New run tab, or open a saved result with `hercules app RESULT`."),
        ]
    model = actx.store.model(rid)
    c = cluster_of(model, selected)
    if c is not None:
        return views.cluster_pane(model, rid, c)
    out = views.overview(model, actx.store.meta(rid))
    ev = actx.store.dir(rid) / "result" / "evaluation.csv"
    if ev.exists():
        out += views.evaluation_table(pd.read_csv(ev).set_index("level"))
    return out


def hover(actx: AppContext, data: Any, rid: Any) -> tuple:
    """Image results: thumbnails of the hovered item, or of a hovered cluster's first items."""
    if not data or not rid:
        return False, no_update, no_update
    if not isinstance(data, dict) or not isinstance(data.get("points"), list) or not data["points"]:
        raise BadRequest("malformed hover data")
    pt = data["points"][0]
    if not isinstance(pt, dict):
        raise BadRequest("malformed hover point")
    model = actx.store.model(rid)
    if model.dataset_.modality != "image":
        return False, no_update, no_update
    found = views.hover_items(model, pt.get("customdata"))
    bbox = pt.get("bbox")
    if found is None or not isinstance(bbox, dict):
        return False, no_update, no_update
    items, caption = found
    thumbs = html.Div([html.Img(src=f"/thumb/{rid}/{i}", className="thumb") for i in items])
    return True, bbox, [thumbs, html.Div(caption, className="muted")]


def register(app: Dash, actx: AppContext) -> None:
    """The Explore tab's callbacks."""

    @app.callback(
        Output("level", "options"),
        Output("level", "value"),
        Output("selected", "data", allow_duplicate=True),
        Input("result", "value"),
        prevent_initial_call="initial_duplicate",
    )
    @guarded
    def on_result(rid: Any) -> tuple:
        if not rid:
            return [], None, None
        levels = list(range(actx.store.model(rid).n_levels_, 0, -1))
        return [{"label": f"L{t}", "value": t} for t in levels], levels[0], None

    @app.callback(
        Output("selected", "data"),
        Input("scatter", "clickData"),
        Input({"type": "node", "cid": ALL, "src": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    @guarded
    def on_select(click: Any, _: Any) -> str:
        return selection_from(ctx.triggered_id, ctx.triggered, click)

    @app.callback(
        Output("scatter", "figure"),
        Input("result", "value"),
        Input("level", "value"),
        Input("size-mode", "value"),
        Input("selected", "data"),
        Input("show-items", "value"),
    )
    @guarded
    def on_figure(rid: Any, level: Any, size_mode: Any, selected: Any, show: Any) -> Any:
        if not rid or not level:
            return views.empty_figure()
        model = actx.store.model(rid)
        mode = one_of(size_mode or "sqrt", SIZE_MODES, "size mode")
        items = bool(checklist(show, ["items"], "show items"))
        return views.figure(model, level_of(model, level), mode, cluster_of(model, selected), items)

    @app.callback(
        Output("hover-thumbs", "show"),
        Output("hover-thumbs", "bbox"),
        Output("hover-thumbs", "children"),
        Input("scatter", "hoverData"),
        State("result", "value"),
    )
    @guarded
    def on_hover(data: Any, rid: Any) -> tuple:
        return hover(actx, data, rid)

    @app.callback(Output("tree", "children"), Input("result", "value"), Input("search", "value"), Input("selected", "data"))
    @guarded
    def on_tree(rid: Any, query: Any, selected: Any) -> Any:
        if not rid:
            return html.P("No result.", className="muted")
        model = actx.store.model(rid)
        return views.cluster_tree(model, cluster_of(model, selected), (opt_str(query, "search", MAX_TEXT) or "").strip())

    @app.callback(Output("pane", "children"), Input("result", "value"), Input("selected", "data"))
    @guarded
    def on_pane(rid: Any, selected: Any) -> list:
        return pane(actx, rid, selected)
