"""Plain Flask routes next to Dash: image thumbnails, and no error page for a malformed request.

A thumbnail is named by (run id, item index); the file is looked up by the server and served
only if its real path is inside that run's folder in the store. An uploaded table can never
point it at a file on the server (:mod:`hercules.app.runner`), and an imported result's images
are copied into the store when it is opened.
"""

from __future__ import annotations

import io
import logging

from flask import Flask, Response, abort
from werkzeug.exceptions import HTTPException

from hercules.app.context import AppContext
from hercules.app.store import UnknownIdError

log = logging.getLogger(__name__)

THUMB_PX = 128
MAX_THUMB_SOURCE_PIXELS = 50_000_000  # larger images are not decoded for a thumbnail


def thumbnail_png(path: str) -> bytes | None:
    """A PNG thumbnail of the image at ``path`` (None when it cannot be read safely)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.width * im.height > MAX_THUMB_SOURCE_PIXELS:
                return None
            im.thumbnail((THUMB_PX, THUMB_PX))
            buf = io.BytesIO()
            im.convert("RGB").save(buf, format="PNG")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    return buf.getvalue()


def register(server: Flask, actx: AppContext) -> None:
    """Add the thumbnail route, and turn unexpected server errors into a plain 400."""

    @server.route("/thumb/<rid>/<int:idx>")
    def thumb(rid: str, idx: int) -> Response:
        try:
            actx.store.dir(rid)  # the id is checked before any cache or file is touched
            model = actx.store.model(rid)
        except (UnknownIdError, OSError, ValueError):
            abort(404)
        if model.dataset_.modality != "image":
            abort(404)
        path = actx.store.image_file(rid, idx, model)
        png = thumbnail_png(str(path)) if path is not None else None
        if png is None:
            abort(404)
        return Response(png, mimetype="image/png", headers={"Cache-Control": "private, max-age=3600"})

    @server.errorhandler(Exception)
    def no_500(e: Exception) -> tuple[str, int] | HTTPException:
        """A malformed request (a forged Dash payload that Dash itself cannot parse) is a 400, not a 500."""
        if isinstance(e, HTTPException):
            return e
        log.warning("bad request: %s: %s", type(e).__name__, str(e)[:200])
        return "bad request", 400
