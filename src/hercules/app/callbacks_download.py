"""Downloads of the chosen result: membership CSV, tree text, evaluation, result zip, HTML map, run log.

The files come from the run's own folder, named by the server; the browser only says which
button was pressed and which result (a server-minted id, checked first).
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from dash import Dash, Input, Output, State, ctx, dcc, no_update

from hercules.app.context import AppContext
from hercules.app.layout import DOWNLOADS
from hercules.app.validate import guarded


def _result_zip(folder: Any) -> bytes:
    """The run's ``result/`` folder as a zip (links are skipped: only files the app wrote)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted((folder / "result").rglob("*")):
            if p.is_file() and not p.is_symlink():
                zf.write(p, p.relative_to(folder))
    return buf.getvalue()


def _map_html(model: Any) -> bytes:
    """The same self-contained map as ``hercules export --html`` (written to a temporary file)."""
    import tempfile
    from pathlib import Path

    from hercules.viz import export_html

    with tempfile.TemporaryDirectory(prefix="hercules-map-") as tmp:
        return export_html(model, Path(tmp) / "map.html").read_bytes()


def download(actx: AppContext, which: Any, rid: Any) -> Any:
    """What the pressed download button sends, or no update (unknown button, missing file)."""
    if not rid:
        return no_update
    folder = actx.store.dir(rid)  # checks the id before the model cache is asked
    model = actx.store.model(rid)
    evaluation, run_log = folder / "result" / "evaluation.csv", folder / "run.log"
    if which == "dl-membership":
        return dcc.send_data_frame(model.membership().to_csv, "membership.csv")
    if which == "dl-tree":
        return {"content": model.tree_text(max_children=None), "filename": "tree.txt"}
    if which == "dl-evaluation" and evaluation.is_file():
        return dcc.send_file(str(evaluation))
    if which == "dl-log" and run_log.is_file():
        return dcc.send_file(str(run_log))
    if which == "dl-result":
        return dcc.send_bytes(_result_zip(folder), "hercules-result.zip")
    if which == "dl-map":
        return dcc.send_bytes(_map_html(model), "hercules-map.html")
    return no_update


def register(app: Dash, actx: AppContext) -> None:
    """The download buttons' callback."""

    @app.callback(
        Output("download", "data"),
        *[Input(f"dl-{key}", "n_clicks") for key, _ in DOWNLOADS],
        State("result", "value"),
        prevent_initial_call=True,
    )
    @guarded
    def on_download(*args: Any) -> Any:
        return download(actx, ctx.triggered_id, args[-1])
