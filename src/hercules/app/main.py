"""The hercules web app (Dash + Plotly): upload, run in the background, explore, download.

Results stay on the server; the browser holds only server-minted ids and the id of the
selected cluster. Start with ``hercules app [RESULT]`` (binds 127.0.0.1 unless told otherwise).

Modules: :mod:`~hercules.app.layout` (the page), :mod:`~hercules.app.views` (figures and panes
from a model), ``callbacks_run`` / ``callbacks_explore`` / ``callbacks_download`` (callbacks by
concern), :mod:`~hercules.app.routes` (thumbnails), :mod:`~hercules.app.validate` (checks on
browser values), :mod:`~hercules.app.runner` (what a run may ask for), :mod:`~hercules.app.jobs`
(background runs), :mod:`~hercules.app.store` (files and retention).

Retention: with ``max_store_gb`` and/or ``max_age_days`` the store deletes runs (uploads,
extracted images, results, logs) older than the age limit, then the oldest until it fits the
size limit; it checks at start, after each upload and after each run. A running job and the
result the app was started with are never deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from dash import Dash

from hercules.app import callbacks_download, callbacks_explore, callbacks_run, routes
from hercules.app.context import AppContext, Retention
from hercules.app.layout import CSS, MAX_UPLOAD_BYTES, page
from hercules.app.runner import DEFAULT_EMBEDDERS, DEFAULT_LLMS, Choices
from hercules.app.store import Store

log = logging.getLogger(__name__)


def create_app(
    data_dir: str | Path,
    result: str | Path | None = None,
    *,
    llm_choices: Sequence[str] | None = None,
    embedder_choices: Sequence[str] | None = None,
    max_store_gb: float | None = None,
    max_age_days: float | None = None,
) -> Dash:
    """Build the Dash app over a data directory (created if missing); optionally open a saved result.

    ``llm_choices`` / ``embedder_choices``: the specs the form offers, and the only ones a Run
    request may use (defaults: :data:`~hercules.app.runner.DEFAULT_LLMS`, ``DEFAULT_EMBEDDERS``);
    offer a paid API (``openai:gpt-4o-mini``) only on purpose. ``max_store_gb`` / ``max_age_days``:
    the retention policy (see the module docstring).
    """
    choices = Choices(
        embedders=tuple(embedder_choices or DEFAULT_EMBEDDERS),
        llms=tuple(dict.fromkeys(["none", *(llm_choices or DEFAULT_LLMS)])),
    )
    actx = AppContext(Store(data_dir), choices, Retention.from_options(max_store_gb, max_age_days))
    initial = actx.store.import_result(result) if result else None
    if initial:
        actx.pinned.add(initial)
    actx.retain()
    app = Dash(__name__, title="hercules", suppress_callback_exceptions=True, update_title=None)
    app.server.config["MAX_CONTENT_LENGTH"] = int(MAX_UPLOAD_BYTES * 1.4)  # base64 overhead
    app.index_string = app.index_string.replace("{%css%}", "{%css%}<style>" + CSS + "</style>")
    app.hercules_store = actx.store  # type: ignore[attr-defined]
    app.hercules_context = actx  # type: ignore[attr-defined]
    app.layout = lambda: page(actx, initial)
    routes.register(app.server, actx)
    callbacks_run.register(app, actx)
    callbacks_explore.register(app, actx)
    callbacks_download.register(app, actx)
    return app


def serve(
    data_dir: str | Path,
    result: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8050,
    debug: bool = False,
    *,
    llm_choices: Sequence[str] | None = None,
    embedder_choices: Sequence[str] | None = None,
    max_store_gb: float | None = None,
    max_age_days: float | None = None,
) -> None:
    """Run the app (see :func:`create_app` for the options); warns when reachable from other hosts."""
    app = create_app(
        data_dir,
        result,
        llm_choices=llm_choices,
        embedder_choices=embedder_choices,
        max_store_gb=max_store_gb,
        max_age_days=max_age_days,
    )
    if host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s: anyone who can reach this address can use the app (there is no login)", host)
    app.run(host=host, port=port, debug=debug)
