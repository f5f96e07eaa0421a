"""New run tab: upload, Run, and the progress poll.

An upload becomes a run folder with a server-minted id; only that id goes back to the browser.
A Run request is validated field by field (:func:`hercules.app.runner.validate_run`) and a
second Run over the same upload gets a new folder, so no result is ever overwritten.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from dash import Dash, Input, Output, State, html, no_update

from hercules.app.context import AppContext
from hercules.app.layout import MAX_UPLOAD_BYTES, UPLOAD_SUFFIXES
from hercules.app.runner import image_like_columns, read_upload, run_job, validate_run
from hercules.app.store import UnknownIdError
from hercules.app.validate import BadRequest, clip, decode_upload, guarded

log = logging.getLogger(__name__)

RUN_FIELDS = (
    "text_column",
    "labels_column",
    "levels",
    "representation",
    "embedder",
    "llm",
    "topic_seed",
    "guide",
    "resampling",
    "seed",
)


def _refuse(message: str) -> tuple:
    """Upload outputs for a refused file: nothing stored, the reason shown."""
    return no_update, message, [], None, [], None


def _preview(frame: Any, cols: list[str]) -> html.Table:
    head = [html.Tr([html.Th(c) for c in cols])]
    return html.Table(
        head + [html.Tr([html.Td(str(v)[:60]) for v in row]) for row in frame.head(5).itertuples(index=False)], className="kv"
    )


def handle_upload(ctx: AppContext, contents: Any, filename: Any) -> tuple:
    """Store an uploaded file in a new run folder, read it, and describe it for the form."""
    try:
        data, filename = decode_upload(contents, filename, MAX_UPLOAD_BYTES)
    except ValueError as e:
        return _refuse(str(e))
    name = Path(filename.replace("\\", "/")).name[:80]
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        return _refuse(f"Unsupported file type {clip(suffix, 20)!r}; use one of {', '.join(sorted(UPLOAD_SUFFIXES))}.")
    max_bytes = ctx.retention.max_bytes
    if max_bytes is not None and len(data) > max_bytes:
        return _refuse(f"File too large for this server's storage limit ({max_bytes / 2**30:.1f} GB).")
    rid = ctx.store.new_id()
    path = ctx.store.dir(rid) / f"upload{suffix}"
    path.write_bytes(data)
    ctx.store.write_meta(rid, name=name, created=time.time(), status="uploaded", upload=path.name)
    try:
        frame = read_upload(ctx.store, rid, path)
    except Exception as e:  # noqa: BLE001 - any reader failure is the user's file: shown, and the folder removed
        ctx.store.delete(rid)
        log.info("refused an upload %s: %s", clip(name, 80), clip(str(e)))
        return _refuse(f"Cannot read {name}: {clip(str(e), 300)}")
    from hercules.data.dataset import pick_text_column

    cols = [str(c) for c in frame.columns]
    kind = "images" if suffix == ".zip" else "table"
    try:
        default: str | None = str(pick_text_column(frame))
    except Exception:  # noqa: BLE001 - no text column: a numeric table
        default = None
    image_like = [] if kind == "images" else image_like_columns(frame)
    meta = {"columns": cols, "rows": len(frame), "text_default": default, "image_like": image_like, "kind": kind}
    ctx.store.write_meta(rid, **meta)
    ctx.retain(rid)
    info = f"{name}: {len(frame):,} rows, columns {', '.join(cols)}"
    if image_like:
        info += f". Column(s) {', '.join(image_like)} name image files: a table cannot use files on the server; upload a zip of images."
    return rid, info, cols, default, cols, _preview(frame, cols)


def start_run(ctx: AppContext, rid: Any, form: dict[str, Any]) -> tuple:
    """Validate a Run request and start it in the background; outputs: job id, poll disabled, status."""
    if rid is None:
        return no_update, True, "Upload data first."
    meta = ctx.store.meta(rid)  # checks the id first
    job = ctx.jobs.get(rid)
    if job is not None and job.active:
        return no_update, True, "This upload is already running."
    try:
        config = validate_run(form, meta, ctx.choices)
    except BadRequest:
        raise
    except ValueError as e:
        return no_update, True, clip(str(e), 300)
    if job is not None or ctx.store.has_result(rid):
        rid = ctx.store.fork_upload(rid)  # a second run over the same upload: a new folder
    ctx.store.write_meta(rid, config=config.to_meta(), status="running")
    planned = len(config.levels) if isinstance(config.levels, list) else None
    ctx.jobs.submit(rid, lambda job: run_job(ctx.store, rid, config, job), planned_levels=planned)
    return rid, False, "Running…"


def poll(ctx: AppContext, rid: Any) -> tuple:
    """Progress, status line and log of the job ``rid``; when done, open its result in the Explore tab."""
    job = ctx.jobs.get(rid)
    if job is None:
        return no_update, no_update, no_update, True, no_update, no_update, no_update
    logtext = "\n".join(job.log[-200:])
    if job.status == "done":
        return "1", "Done.", logtext, True, ctx.result_options(), rid, "explore"
    if job.status == "error":
        return str(job.progress), f"Failed: {job.message}", logtext, True, no_update, no_update, no_update
    return str(job.progress), f"{job.status}: {job.message}", logtext, False, no_update, no_update, no_update


def register(app: Dash, ctx: AppContext) -> None:
    """The New run tab's callbacks."""

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
    @guarded
    def on_upload(contents: Any, filename: Any) -> tuple:
        return handle_upload(ctx, contents, filename)

    @app.callback(
        Output("job-run", "data"),
        Output("poll", "disabled"),
        Output("status", "children", allow_duplicate=True),
        Input("run", "n_clicks"),
        State("upload-run", "data"),
        *[State(f.replace("_", "-"), "value") for f in RUN_FIELDS],
        prevent_initial_call=True,
    )
    @guarded
    def on_run(_: Any, rid: Any, *values: Any) -> tuple:
        try:
            return start_run(ctx, rid, dict(zip(RUN_FIELDS, values)))
        except UnknownIdError:
            return no_update, True, "This upload is no longer on the server; upload it again."

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
    @guarded
    def on_poll(_: Any, rid: Any) -> tuple:
        return poll(ctx, rid)
