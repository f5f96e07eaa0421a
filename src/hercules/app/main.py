"""The hercules web app (Dash + Plotly): upload, run in the background, explore, download.

Results stay on the server; the browser holds only server-minted ids and the id of the
selected cluster. Start with ``hercules app [RESULT]`` (binds 127.0.0.1 unless told otherwise).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate
from flask import Response, abort

from hercules.app.store import JobManager, Store, UnknownIdError

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 200 * 2**20
UPLOAD_SUFFIXES = {".csv", ".tsv", ".tab", ".jsonl", ".ndjson", ".json", ".parquet", ".pq", ".txt", ".zip"}
MAX_PLOT_ITEMS = 100_000
PALETTE = ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#EECA3B", "#B279A2", "#FF9DA6", "#9D755D", "#BAB0AC"]

CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 0; background: #f6f7f9; color: #1f2933; }
.header { background: #1f2933; color: #fff; padding: 10px 20px; display: flex; align-items: baseline; gap: 14px; }
.header h1 { font-size: 20px; margin: 0; letter-spacing: .5px; } .header span { color: #9aa5b1; font-size: 13px; }
.grid { display: grid; grid-template-columns: 300px 1fr 360px; gap: 12px; padding: 12px; }
.card { background: #fff; border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.08); padding: 12px; overflow: auto; }
.card h3 { margin: 0 0 8px; font-size: 14px; text-transform: uppercase; color: #52606d; letter-spacing: .6px; }
.tree { max-height: 52vh; overflow: auto; font-size: 13px; } .tree details { margin-left: 12px; }
.node { background: none; border: none; padding: 2px 4px; cursor: pointer; text-align: left; color: #1f2933; font-size: 13px; }
.node:hover { background: #e4e7eb; border-radius: 4px; } .node.sel { background: #ffe8a3; border-radius: 4px; font-weight: 600; }
.muted { color: #7b8794; font-size: 12px; } .pill { background: #e4e7eb; border-radius: 10px; padding: 1px 8px; font-size: 12px; }
.pane p { margin: 6px 0; } .btn { background: #3e4c59; color: #fff; border: none; border-radius: 5px; padding: 6px 10px;
 cursor: pointer; margin: 2px; font-size: 13px; } .btn:hover { background: #1f2933; } .btn.primary { background: #2f80ed; }
.form label { display: block; font-size: 12px; color: #52606d; margin-top: 8px; }
.form input[type=text], .form input:not([type]) { width: 100%; padding: 5px; box-sizing: border-box; }
.upload { border: 2px dashed #9aa5b1; border-radius: 8px; padding: 22px; text-align: center; cursor: pointer; background: #fff; }
pre.log { background: #1f2933; color: #d9e2ec; padding: 8px; border-radius: 6px; max-height: 260px; overflow: auto; font-size: 12px; }
table.kv td { padding: 2px 8px 2px 0; font-size: 13px; vertical-align: top; } .thumb { max-width: 96px; margin: 3px; border-radius: 4px; }
"""


def _safe(fn):
    """Callbacks never trust ids from the browser: a forged or stale id yields no update, not an error page."""

    def wrapper(*args, **kw):
        try:
            return fn(*args, **kw)
        except UnknownIdError as e:
            log.warning("rejected a request with %s", e)
            raise PreventUpdate from None

    wrapper.__name__ = fn.__name__
    return wrapper


def _cluster_tree(model: Any, selected: str | None, query: str) -> list:
    """Nested <details> of the hierarchy; with a query, a flat list of matching clusters."""
    h = model.hierarchy_
    if query:
        q = query.lower()
        hits = [c for t in range(h.depth, 0, -1) for c in model.clusters(t) if q in c.title.lower() or q in c.description.lower()]
        return [html.Div(f"{len(hits)} match(es)", className="muted")] + [
            html.Button(
                f"{c.id}  {c.title} ({c.size:,})",
                id={"type": "node", "cid": c.id, "src": "tree"},
                className="node sel" if c.id == selected else "node",
            )
            for c in hits[:200]
        ]
    open_ids = set()
    if selected:
        c = model.cluster(selected)
        open_ids = {a.id for a in c.ancestors} | {c.id}

    def node(c) -> Any:
        label = html.Button(
            f"{c.id}  {c.title} ({c.size:,})",
            id={"type": "node", "cid": c.id, "src": "tree"},
            className="node sel" if c.id == selected else "node",
        )
        if c.level == 1:
            return html.Div(label)
        return html.Details([html.Summary(label), *[node(k) for k in c.children]], open=c.id in open_ids)

    return [node(c) for c in model.clusters()]


def _related(model: Any, selected: str | None, level: int) -> set[int] | None:
    """Indices at ``level`` related to the selected cluster (itself, its ancestor or its descendants)."""
    if not selected:
        return None
    c = model.cluster(selected)
    h = model.hierarchy_
    if c.level == level:
        return {c.index}
    if c.level < level:
        return {a.index for a in c.ancestors if a.level == level}
    labels_at = h.item_labels(level)[c.item_indices]
    return set(np.unique(labels_at).tolist())


def _figure(model: Any, level: int, size_mode: str, selected: str | None, show_items: bool) -> go.Figure:
    h = model.hierarchy_
    lvl = h.level(level)
    fig = go.Figure()
    coords = np.asarray(model.coords_)
    related = _related(model, selected, level)
    if show_items and coords.shape[0]:
        n = coords.shape[0]
        idx = np.arange(n) if n <= MAX_PLOT_ITEMS else np.sort(np.random.default_rng(0).choice(n, MAX_PLOT_ITEMS, replace=False))
        lab = h.item_labels(level)[idx]
        colors = np.array(PALETTE)[lab % len(PALETTE)]
        if selected:  # the selected cluster's own items stay, the rest fades
            sel = model.cluster(selected)
            opacity = np.where(h.item_labels(sel.level)[idx] == sel.index, 0.85, 0.06)
        else:
            opacity = 0.55
        hover = None
        if len(idx) <= 20_000:
            texts = model.dataset_.item_texts()
            hover = [texts[i][:90] for i in idx]
        fig.add_trace(
            go.Scattergl(
                x=coords[idx, 0],
                y=coords[idx, 1],
                mode="markers",
                name="items",
                marker={"size": 4, "color": colors.tolist(), "opacity": opacity},
                hovertext=hover,
                hoverinfo="text" if hover else "skip",
            )
        )
    sizes = lvl.sizes.astype(float)
    scaled = {"linear": sizes, "sqrt": np.sqrt(sizes), "log": np.log1p(sizes)}[size_mode]
    px = 14 + 46 * scaled / max(scaled.max(), 1e-9)
    ids = [f"L{level}-{j}" for j in range(lvl.k)]
    bubble_opacity = [0.9 if related is None or j in related else 0.15 for j in range(lvl.k)]
    line = [3 if selected == cid else 1 for cid in ids]
    fig.add_trace(
        go.Scatter(
            x=lvl.coords[:, 0],
            y=lvl.coords[:, 1],
            mode="markers+text",
            name=f"level {level} clusters",
            marker={
                "size": px,
                "color": [PALETTE[j % len(PALETTE)] for j in range(lvl.k)],
                "opacity": bubble_opacity,
                "line": {"width": line, "color": "#1f2933"},
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


def _overview(model: Any, meta: dict) -> list:
    h = model.hierarchy_
    rows = [
        ("items", f"{h.n_items:,} ({model.dataset_.modality})"),
        ("levels", " → ".join(str(k) for k in reversed(model.levels_))),
        ("embedder", model.embedder_id_),
        ("representation", model.representation),
        ("labels", "LLM" if any(lb.source == "llm" for lvl in h.levels for lb in lvl.labels) else "keywords"),
    ]
    out = [
        html.H3("Overview"),
        html.Table([html.Tr([html.Td(k), html.Td(v)]) for k, v in rows], className="kv"),
        html.P("Top clusters", className="muted"),
    ]
    out += [
        html.Button(f"{c.title} ({c.size:,})", id={"type": "node", "cid": c.id, "src": "pane"}, className="node")
        for c in model.clusters()
    ]
    cfg = meta.get("config")
    if cfg:
        out += [html.Details([html.Summary("Run configuration"), html.Pre(json.dumps(cfg, indent=1), className="muted")])]
    return out


def _cluster_pane(model: Any, rid: str, cid: str, meta: dict) -> list:
    c = model.cluster(cid)
    ds = model.dataset_
    out = [
        html.H3(f"Cluster {c.id}"),
        html.P(html.B(c.title), id="pane-title"),
        html.P(c.description),
        html.P(
            [
                html.Span(f"level {c.level}", className="pill"),
                " ",
                html.Span(f"{c.size:,} items", className="pill"),
                " ",
                html.Span(ds.modality, className="pill"),
            ]
        ),
    ]
    if c.keywords:
        out.append(html.P("Keywords: " + ", ".join(c.keywords[:8]), className="muted"))
    nav = []
    if c.parent is not None:
        nav.append(
            html.Button(
                f"↑ {c.parent.id} {c.parent.title}", id={"type": "node", "cid": c.parent.id, "src": "pane"}, className="node"
            )
        )
    nav += [
        html.Button(f"↓ {k.id} {k.title} ({k.size:,})", id={"type": "node", "cid": k.id, "src": "pane"}, className="node")
        for k in c.children[:15]
    ]
    out += nav
    # representative items: closest to the centroid in the item space
    idx = c.item_indices
    if model.embeddings_ is not None and len(idx):
        E = np.asarray(model.embeddings_[idx], dtype=np.float32)
        centre = E.mean(axis=0)
        idx = idx[np.argsort(((E - centre) ** 2).sum(axis=1))[:6]]
    else:
        idx = idx[:6]
    out.append(html.H3("Representative items"))
    if ds.modality == "image":
        out.append(html.Div([html.Img(src=f"/thumb/{rid}/{int(i)}", className="thumb", title=ds.item_texts()[i]) for i in idx]))
    texts = ds.item_texts()
    out += [html.P(f"• {texts[i][:200]}", className="muted") for i in idx]
    if ds.modality == "numeric":
        from hercules.labeling.base import LevelContext
        from hercules.labeling.keywords import KeywordLabeler

        lab = model.hierarchy_.item_labels(c.level)
        lctx = LevelContext(c.level, ds, lab, model.hierarchy_.level(c.level).k, None, None)
        out += [html.H3("Statistics (original scale)")] + [
            html.P(s, className="muted") for s in KeywordLabeler.numeric_stats(lctx)[c.index]
        ]
    return out


def create_app(data_dir: str | Path, result: str | Path | None = None) -> Dash:
    """Build the Dash app over a data directory (created if missing); optionally open a saved result."""
    store = Store(data_dir)
    jobs = JobManager(store)
    initial = store.import_result(result) if result else None
    app = Dash(__name__, title="hercules", suppress_callback_exceptions=True, update_title=None)
    app.server.config["MAX_CONTENT_LENGTH"] = int(MAX_UPLOAD_BYTES * 1.4)  # base64 overhead
    app.index_string = app.index_string.replace("{%css%}", "{%css%}<style>" + CSS + "</style>")
    app.hercules_store = store  # type: ignore[attr-defined]

    @app.server.route("/thumb/<rid>/<int:idx>")
    def thumb(rid: str, idx: int):
        """A thumbnail of item ``idx`` of a run: the file comes from the result, never from the client."""
        try:
            model = store.model(rid)
        except (UnknownIdError, FileNotFoundError):
            abort(404)
        paths = model.dataset_.image_paths or []
        if not 0 <= idx < len(paths):
            abort(404)
        from PIL import Image

        try:
            with Image.open(paths[idx]) as im:
                im.thumbnail((128, 128))
                buf = io.BytesIO()
                im.convert("RGB").save(buf, format="PNG")
        except OSError:
            abort(404)
        return Response(buf.getvalue(), mimetype="image/png")

    def result_options() -> list[dict]:
        return [
            {"label": f"{m.get('name', rid[:8])} · {time.strftime('%H:%M', time.localtime(m.get('created', 0)))}", "value": rid}
            for rid, m in store.results()
        ]

    explore = html.Div(
        className="grid",
        children=[
            html.Div(
                className="card",
                children=[
                    html.H3("Result"),
                    dcc.Dropdown(
                        id="result",
                        options=result_options(),
                        value=initial,
                        clearable=False,
                        placeholder="Choose a result or start a new run",
                    ),
                    html.Label("Level", className="muted"),
                    dcc.RadioItems(id="level", inline=True),
                    html.Label("Bubble size", className="muted"),
                    dcc.RadioItems(id="size-mode", options=["linear", "sqrt", "log"], value="sqrt", inline=True),
                    dcc.Checklist(id="show-items", options=[{"label": " show items", "value": "items"}], value=["items"]),
                    html.H3("Hierarchy"),
                    dcc.Input(id="search", placeholder="search titles and descriptions", debounce=True, style={"width": "100%"}),
                    html.Div(id="tree", className="tree"),
                    html.H3("Downloads"),
                    html.Div(
                        [
                            html.Button(label, id=f"dl-{key}", className="btn")
                            for key, label in [
                                ("membership", "Membership CSV"),
                                ("tree", "Tree (text)"),
                                ("evaluation", "Evaluation CSV"),
                                ("result", "Result (zip)"),
                                ("log", "Run log"),
                            ]
                        ]
                    ),
                    dcc.Download(id="download"),
                ],
            ),
            html.Div(
                className="card",
                children=[
                    dcc.Graph(
                        id="scatter",
                        style={"height": "78vh"},
                        clear_on_unhover=True,
                        config={"displaylogo": False, "scrollZoom": True},
                    ),
                    dcc.Tooltip(id="hover-thumbs"),
                ],
            ),
            html.Div(className="card pane", id="pane"),
        ],
    )
    new_run = html.Div(
        className="grid",
        style={"gridTemplateColumns": "1fr 1fr"},
        children=[
            html.Div(
                className="card form",
                children=[
                    html.H3("1. Data"),
                    dcc.Upload(
                        id="upload",
                        className="upload",
                        max_size=MAX_UPLOAD_BYTES,
                        children=html.Div(["Drop a CSV, TSV, JSONL, Parquet, TXT or a zip of images, or ", html.B("click")]),
                    ),
                    html.Div(id="upload-info", className="muted"),
                    html.Label("Text column (or image paths)"),
                    dcc.Dropdown(id="text-column"),
                    html.Label("Ground-truth labels column (optional, for evaluation)"),
                    dcc.Dropdown(id="labels-column"),
                    html.Div(id="preview"),
                ],
            ),
            html.Div(
                className="card form",
                children=[
                    html.H3("2. Configure"),
                    html.Label("Clusters per level, bottom-up (e.g. 100,20,5), or auto"),
                    dcc.Input(id="levels", value="auto"),
                    html.Label("Representation"),
                    dcc.RadioItems(id="representation", options=["direct", "description"], value="direct", inline=True),
                    html.Label("Text embedder"),
                    dcc.Dropdown(
                        id="embedder", value="auto", clearable=False, options=["auto", "minilm", "wordllama", "hashing"]
                    ),
                    html.Label("LLM for titles (none, local, llamacpp:qwen0.5b, openai:gpt-4o-mini, ollama:llama3.2, fake)"),
                    dcc.Input(id="llm", value="none"),
                    html.Label("Topic seed (optional)"),
                    dcc.Input(id="topic-seed", value=""),
                    dcc.Checklist(
                        id="resampling", options=[{"label": " resampling refinement (Vo et al.)", "value": "on"}], value=[]
                    ),
                    html.Label("Random seed"),
                    dcc.Input(id="seed", value="0"),
                    html.Br(),
                    html.Button("Run", id="run", className="btn primary"),
                    html.Progress(id="progress", value="0", max="1", style={"width": "100%", "marginTop": "10px"}),
                    html.Div(id="status", className="muted"),
                    html.Pre(id="log", className="log"),
                ],
            ),
        ],
    )
    app.layout = html.Div(
        [
            dcc.Store(id="selected"),
            dcc.Store(id="upload-run"),
            dcc.Store(id="job-run"),
            dcc.Interval(id="poll", interval=800, disabled=True),
            html.Div(
                className="header", children=[html.H1("hercules"), html.Span("hierarchical clusters with titles you can read")]
            ),
            dcc.Tabs(
                id="tabs",
                value="explore" if initial else "new",
                children=[
                    dcc.Tab(label="Explore", value="explore", children=explore),
                    dcc.Tab(label="New run", value="new", children=new_run),
                ],
            ),
        ]
    )

    # ---------------------------------------------------------------- new run
    @app.callback(
        Output("upload-run", "data"),
        Output("upload-info", "children"),
        Output("text-column", "options"),
        Output("text-column", "value"),
        Output("labels-column", "options"),
        Output("preview", "children"),
        Input("upload", "contents"),
        State("upload", "filename"),
        prevent_initial_call=True,
    )
    def on_upload(contents, filename):
        suffix = Path(str(filename or "")).suffix.lower()
        if suffix not in UPLOAD_SUFFIXES:
            return (
                no_update,
                f"Unsupported file type {suffix!r}; use one of {', '.join(sorted(UPLOAD_SUFFIXES))}.",
                [],
                None,
                [],
                None,
            )
        data = base64.b64decode(contents.split(",", 1)[1])
        if len(data) > MAX_UPLOAD_BYTES:
            return no_update, "File too large.", [], None, [], None
        rid = store.new_id()
        path = store.dir(rid) / f"upload{suffix}"
        path.write_bytes(data)
        store.write_meta(rid, name=Path(filename).name[:80], created=time.time(), status="uploaded", upload=path.name)
        from hercules.data.readers import extract_images_zip, read_path

        try:
            frame = read_path(extract_images_zip(path, store.dir(rid)) if suffix == ".zip" else path)
        except Exception as e:  # shown to the user
            return no_update, f"Cannot read {filename}: {e}", [], None, [], None
        cols = [str(c) for c in frame.columns]
        from hercules.data.dataset import pick_text_column

        try:
            default = str(pick_text_column(frame))
        except Exception:
            default = None
        table = html.Table(
            [html.Tr([html.Th(c) for c in cols])]
            + [html.Tr([html.Td(str(v)[:60]) for v in row]) for row in frame.head(5).itertuples(index=False)],
            className="kv",
        )
        return rid, f"{Path(filename).name}: {len(frame):,} rows, columns {', '.join(cols)}", cols, default, cols, table

    @app.callback(
        Output("job-run", "data"),
        Output("poll", "disabled"),
        Output("status", "children", allow_duplicate=True),
        Input("run", "n_clicks"),
        State("upload-run", "data"),
        State("text-column", "value"),
        State("labels-column", "value"),
        State("levels", "value"),
        State("representation", "value"),
        State("embedder", "value"),
        State("llm", "value"),
        State("topic-seed", "value"),
        State("resampling", "value"),
        State("seed", "value"),
        prevent_initial_call=True,
    )
    @_safe
    def on_run(_, rid, text_col, label_col, levels, representation, embedder, llm, topic, resampling, seed):
        if not rid:
            return no_update, True, "Upload data first."
        try:
            lv = "auto" if str(levels).strip().lower() == "auto" else [int(x) for x in str(levels).split(",") if x.strip()]
            seed_v = int(seed or 0)
        except ValueError:
            return no_update, True, "Levels must be comma-separated integers (bottom-up) or auto."
        meta = store.meta(rid)
        upload = store.dir(rid) / meta["upload"]
        config = {
            "levels": lv,
            "representation": representation,
            "embedder": embedder,
            "llm": llm or "none",
            "topic_seed": topic or None,
            "resampling": bool(resampling),
            "random_state": seed_v,
            "text_column": text_col,
            "labels_column": label_col,
        }
        store.write_meta(rid, config=config, status="running")

        def work(job):
            from hercules import Hercules
            from hercules.data.readers import extract_images_zip, read_path

            frame = read_path(extract_images_zip(upload, store.dir(rid)) if upload.suffix == ".zip" else upload)
            modality = "image" if list(frame.columns) == ["path"] else "auto"
            model = Hercules(
                lv,
                representation=representation,
                embedder=embedder,
                llm=None if config["llm"] == "none" else config["llm"],
                topic_seed=config["topic_seed"],
                resampling=config["resampling"],
                random_state=seed_v,
                text_column=text_col or ("path" if modality == "image" else None),
                modality=modality,
                missing="drop",
                progress=False,
            )
            job.progress = 0.1
            model.fit(frame)
            model.save(store.dir(rid) / "result")
            if label_col and model.dataset_.metadata is not None and label_col in model.dataset_.metadata.columns:
                model.evaluate(labels=label_col).to_csv(store.dir(rid) / "result" / "evaluation.csv")

        jobs.submit(rid, work, planned_levels=len(lv) if isinstance(lv, list) else None)
        return rid, False, "Running…"

    @app.callback(
        Output("progress", "value"),
        Output("status", "children"),
        Output("log", "children"),
        Output("poll", "disabled", allow_duplicate=True),
        Output("result", "options"),
        Output("result", "value"),
        Output("tabs", "value"),
        Input("poll", "n_intervals"),
        State("job-run", "data"),
        prevent_initial_call=True,
    )
    def on_poll(_, rid):
        job = jobs.jobs.get(rid) if isinstance(rid, str) else None
        if job is None:
            return no_update, no_update, no_update, True, no_update, no_update, no_update
        logtext = "\n".join(job.log[-200:])
        if job.status == "done":
            return "1", "Done.", logtext, True, result_options(), rid, "explore"
        if job.status == "error":
            return str(job.progress), f"Failed: {job.message}", logtext, True, no_update, no_update, no_update
        return str(job.progress), f"{job.status}: {job.message}", logtext, False, no_update, no_update, no_update

    # ---------------------------------------------------------------- explore
    @app.callback(
        Output("level", "options"),
        Output("level", "value"),
        Output("selected", "data", allow_duplicate=True),
        Input("result", "value"),
        prevent_initial_call="initial_duplicate",
    )
    @_safe
    def on_result(rid):
        if not rid:
            return [], None, None
        model = store.model(rid)
        levels = list(range(model.n_levels_, 0, -1))
        return [{"label": f"L{t}", "value": t} for t in levels], levels[0], None

    @app.callback(
        Output("selected", "data"),
        Input("scatter", "clickData"),
        Input({"type": "node", "cid": ALL, "src": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def on_select(click, _):
        trig = ctx.triggered_id
        if isinstance(trig, dict) and trig.get("type") == "node":
            if not any(t["value"] for t in ctx.triggered):
                return no_update
            return trig["cid"]
        if trig == "scatter" and click:
            cid = click["points"][0].get("customdata")
            return cid if isinstance(cid, str) else no_update
        return no_update

    @app.callback(
        Output("scatter", "figure"),
        Input("result", "value"),
        Input("level", "value"),
        Input("size-mode", "value"),
        Input("selected", "data"),
        Input("show-items", "value"),
    )
    @_safe
    def on_figure(rid, level, size_mode, selected, show):
        if not rid or not level:
            return go.Figure(
                layout={
                    "xaxis": {"visible": False},
                    "yaxis": {"visible": False},
                    "annotations": [{"text": "No result yet: start a new run", "showarrow": False}],
                }
            )
        model = store.model(rid)
        try:
            model.cluster(selected) if selected else None
        except (KeyError, IndexError):
            selected = None
        return _figure(model, int(level), size_mode or "sqrt", selected, bool(show))

    @app.callback(
        Output("hover-thumbs", "show"),
        Output("hover-thumbs", "bbox"),
        Output("hover-thumbs", "children"),
        Input("scatter", "hoverData"),
        State("result", "value"),
    )
    @_safe
    def on_hover(hover, rid):
        """Image results: thumbnails of the hovered item, or of a hovered cluster's central items."""
        if not hover or not rid:
            return False, no_update, no_update
        model = store.model(rid)
        if model.dataset_.modality != "image":
            return False, no_update, no_update
        pt = hover["points"][0]
        cd = pt.get("customdata")
        if isinstance(cd, str):
            c = model.cluster(cd)
            items, caption = c.item_indices[:4], f"{c.id} · {c.title} · {c.size:,} items"
        elif isinstance(cd, int):
            items, caption = [cd], model.dataset_.item_texts()[cd][:80]
        else:
            return False, no_update, no_update
        return (
            True,
            pt["bbox"],
            [
                html.Div([html.Img(src=f"/thumb/{rid}/{int(i)}", className="thumb") for i in items]),
                html.Div(caption, className="muted"),
            ],
        )

    @app.callback(Output("tree", "children"), Input("result", "value"), Input("search", "value"), Input("selected", "data"))
    @_safe
    def on_tree(rid, query, selected):
        if not rid:
            return html.P("No result.", className="muted")
        return _cluster_tree(store.model(rid), selected, (query or "").strip())

    @app.callback(Output("pane", "children"), Input("result", "value"), Input("selected", "data"))
    @_safe
    def on_pane(rid, selected):
        if not rid:
            return [
                html.H3("Welcome"),
                html.P("Upload data in the New run tab, or open a saved result with `hercules app RESULT`."),
            ]
        model = store.model(rid)
        meta = store.meta(rid)
        try:
            if selected:
                return _cluster_pane(model, rid, selected, meta)
        except (KeyError, IndexError):
            pass
        out = _overview(model, meta)
        ev = store.dir(rid) / "result" / "evaluation.csv"
        if ev.exists():
            df = pd.read_csv(ev).set_index("level")
            cols = [c for c in ("n_clusters", "ari", "nmi", "accuracy", "items_silhouette") if c in df.columns]
            out += [
                html.H3("Evaluation"),
                html.Table(
                    [html.Tr([html.Th("level")] + [html.Th(c) for c in cols])]
                    + [
                        html.Tr(
                            [html.Td(str(lv))]
                            + [
                                html.Td(f"{df.loc[lv, c]:.3f}" if isinstance(df.loc[lv, c], float) else str(df.loc[lv, c]))
                                for c in cols
                            ]
                        )
                        for lv in df.index
                    ],
                    className="kv",
                ),
            ]
        return out

    @app.callback(
        Output("download", "data"),
        Input("dl-membership", "n_clicks"),
        Input("dl-tree", "n_clicks"),
        Input("dl-evaluation", "n_clicks"),
        Input("dl-result", "n_clicks"),
        Input("dl-log", "n_clicks"),
        State("result", "value"),
        prevent_initial_call=True,
    )
    @_safe
    def on_download(*args):
        rid = args[-1]
        if not rid:
            return no_update
        model = store.model(rid)
        folder = store.dir(rid)
        which = ctx.triggered_id
        if which == "dl-membership":
            return dcc.send_data_frame(model.membership().to_csv, "membership.csv")
        if which == "dl-tree":
            return {"content": model.tree_text(max_children=None), "filename": "tree.txt"}
        if which == "dl-evaluation" and (folder / "result" / "evaluation.csv").exists():
            return dcc.send_file(str(folder / "result" / "evaluation.csv"))
        if which == "dl-log" and (folder / "run.log").exists():
            return dcc.send_file(str(folder / "run.log"))
        if which == "dl-result":
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                for p in (folder / "result").rglob("*"):
                    if p.is_file():
                        zf.write(p, p.relative_to(folder))
            return dcc.send_bytes(buf.getvalue(), "hercules-result.zip")
        return no_update

    return app


def serve(
    data_dir: str | Path, result: str | None = None, host: str = "127.0.0.1", port: int = 8050, debug: bool = False
) -> None:
    app = create_app(data_dir, result)
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s: anyone who can reach this address can use the app (there is no login)", host)
    app.run(host=host, port=port, debug=debug)
