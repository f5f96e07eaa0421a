"""The page: an Explore tab (result, levels, tree, scatter, cluster pane, downloads) and a New run tab.

Built per page load (``app.layout`` is a function), so the result list is current and the
form offers exactly the embedder and LLM choices the server will accept.
"""

from __future__ import annotations

from dash import dcc, html

from hercules.app.context import AppContext
from hercules.app.runner import REPRESENTATIONS

MAX_UPLOAD_BYTES = 200 * 2**20
UPLOAD_SUFFIXES = frozenset({".csv", ".tsv", ".tab", ".jsonl", ".ndjson", ".json", ".parquet", ".pq", ".txt", ".zip"})
SIZE_MODES = ("linear", "sqrt", "log")
DOWNLOADS = [
    ("membership", "Membership CSV"),
    ("tree", "Tree (text)"),
    ("evaluation", "Evaluation CSV"),
    ("result", "Result (zip)"),
    ("map", "Export map (HTML)"),
    ("log", "Run log"),
]

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


def _explore_controls(ctx: AppContext, initial: str | None) -> html.Div:
    """Left column of the Explore tab: result, level, display options, tree, downloads."""
    return html.Div(
        className="card",
        children=[
            html.H3("Result"),
            dcc.Dropdown(
                id="result",
                options=ctx.result_options(),
                value=initial,
                clearable=False,
                placeholder="Choose a result or start a new run",
            ),
            html.Label("Level", className="muted"),
            dcc.RadioItems(id="level", inline=True),
            html.Label("Bubble size", className="muted"),
            dcc.RadioItems(id="size-mode", options=list(SIZE_MODES), value="sqrt", inline=True),
            dcc.Checklist(id="show-items", options=[{"label": " show items", "value": "items"}], value=["items"]),
            html.H3("Hierarchy"),
            dcc.Input(id="search", placeholder="search titles and descriptions", debounce=True, style={"width": "100%"}),
            html.Div(id="tree", className="tree"),
            html.H3("Downloads"),
            html.Div([html.Button(label, id=f"dl-{key}", className="btn") for key, label in DOWNLOADS]),
            dcc.Download(id="download"),
        ],
    )


def explore_tab(ctx: AppContext, initial: str | None) -> html.Div:
    """Controls, the scatter plot and the cluster pane."""
    scatter = html.Div(
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
    )
    return html.Div(
        className="grid", children=[_explore_controls(ctx, initial), scatter, html.Div(className="card pane", id="pane")]
    )


def _data_card() -> html.Div:
    return html.Div(
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
            html.Label("Text column (a zip of images uses its images)"),
            dcc.Dropdown(id="text-column"),
            html.Label("Ground-truth labels column (optional, for evaluation)"),
            dcc.Dropdown(id="labels-column"),
            html.Div(id="preview"),
        ],
    )


def _config_card(ctx: AppContext) -> html.Div:
    return html.Div(
        className="card form",
        children=[
            html.H3("2. Configure"),
            html.Label("Clusters per level, bottom-up (e.g. 100,20,5), auto, or guided (the guide chooses level 1)"),
            dcc.Input(id="levels", value="auto"),
            html.Label("Representation"),
            dcc.RadioItems(id="representation", options=list(REPRESENTATIONS), value="direct", inline=True),
            html.Label("Text embedder"),
            dcc.Dropdown(id="embedder", value=ctx.choices.embedders[0], clearable=False, options=list(ctx.choices.embedders)),
            html.Label("LLM for titles (none: keyword titles)"),
            dcc.Dropdown(id="llm", value=ctx.choices.llms[0], clearable=False, options=list(ctx.choices.llms)),
            html.Label("Topic seed (optional)"),
            dcc.Input(id="topic-seed", value=""),
            html.Label("Guide (optional): llm, or labels:COLUMN[:NOISE] to let known labels shape the clusters"),
            dcc.Input(id="guide", value=""),
            dcc.Checklist(id="resampling", options=[{"label": " resampling refinement (Vo et al.)", "value": "on"}], value=[]),
            html.Label("Random seed"),
            dcc.Input(id="seed", value="0"),
            html.Br(),
            html.Button("Run", id="run", className="btn primary"),
            html.Progress(id="progress", value="0", max="1", style={"width": "100%", "marginTop": "10px"}),
            html.Div(id="status", className="muted"),
            html.Pre(id="log", className="log"),
        ],
    )


def new_run_tab(ctx: AppContext) -> html.Div:
    """Upload and configure a run; progress and the run's log."""
    return html.Div(className="grid", style={"gridTemplateColumns": "1fr 1fr"}, children=[_data_card(), _config_card(ctx)])


def page(ctx: AppContext, initial: str | None) -> html.Div:
    """The whole page; ``initial`` is the result opened at start (shown in the Explore tab)."""
    return html.Div(
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
                    dcc.Tab(label="Explore", value="explore", children=explore_tab(ctx, initial)),
                    dcc.Tab(label="New run", value="new", children=new_run_tab(ctx)),
                ],
            ),
        ]
    )
