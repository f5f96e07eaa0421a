"""Checks on every value a browser sends, before it is used or looked up anywhere.

A Dash request can be forged by hand, so the type, shape and range of each input are checked
here; a value the form could not have sent raises :class:`BadRequest` (the callback answers
"no update"), a value the user typed wrongly raises ``ValueError`` with a message to show.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import re
import traceback
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from dash.exceptions import PreventUpdate

from hercules.app.store import UnknownIdError

log = logging.getLogger(__name__)

CLUSTER_ID = re.compile(r"^L([1-9][0-9]{0,2})-(0|[1-9][0-9]{0,6})$")
MAX_LOGGED = 200  # characters of a user-supplied value that may reach a log line
MAX_TEXT = 500  # characters kept of a free-text form field (topic seed, search)

F = TypeVar("F", bound=Callable[..., Any])


class BadRequest(ValueError):
    """A request value that the app's own page could not have sent (forged or stale)."""


def clip(value: Any, n: int = MAX_LOGGED) -> str:
    """``value`` as text of at most ``n`` characters, so a forged value cannot flood a log line."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= n else text[:n] + f"…(+{len(text) - n} chars)"


def guarded(fn: F) -> F:
    """Wrap a callback so that no input, however forged, turns into a 500: it answers "no update".

    Ids the store did not mint and impossible values are logged (clipped) as rejected requests;
    any other exception is a bug, logged with its stack, and still never reaches the client.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kw: Any) -> Any:
        try:
            return fn(*args, **kw)
        except PreventUpdate:
            raise
        except (UnknownIdError, BadRequest) as e:
            log.warning("rejected a request to %s: %s", fn.__name__, clip(str(e)))
            raise PreventUpdate from None
        except Exception as e:  # a bug: the traceback's frames, but only a clipped message (it may quote input)
            frames = "".join(traceback.format_tb(e.__traceback__))
            log.error("callback %s failed: %s: %s\n%s", fn.__name__, type(e).__name__, clip(str(e)), frames)
            raise PreventUpdate from None

    return wrapper  # type: ignore[return-value]


def opt_str(value: Any, name: str, max_len: int = MAX_TEXT) -> str | None:
    """A string field that may be empty: None or a string no longer than ``max_len``."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string, got {type(value).__name__}")
    return value[:max_len]


def one_of(value: Any, allowed: Iterable[str], name: str) -> str:
    """``value`` if it is one of the choices the form offers, else :class:`BadRequest`."""
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise BadRequest(f"{name} {clip(value, 60)} is not one of the offered choices")
    return value


def checklist(value: Any, allowed: Iterable[str], name: str) -> list[str]:
    """A checklist value: a list of offered options (None means nothing ticked)."""
    if value is None:
        return []
    allowed = set(allowed)
    if not isinstance(value, list) or not all(isinstance(v, str) and v in allowed for v in value):
        raise BadRequest(f"{name} must be a list of offered options")
    return value


def small_int(value: Any, name: str, lo: int, hi: int) -> int:
    """An integer (or a short string of digits) in ``[lo, hi]``; raises ``ValueError`` with a user message."""
    if isinstance(value, bool):
        raise BadRequest(f"{name} must be a number")
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"-?[0-9]{1,12}", text):
            raise ValueError(f"{name} must be a whole number between {lo} and {hi}, got {clip(value, 40)!r}")
        value = int(text)
    if not isinstance(value, int):
        raise BadRequest(f"{name} must be a number, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def level_of(model: Any, value: Any) -> int:
    """A level number of ``model`` (1 = the finest), from an int or a short digit string."""
    try:
        return small_int(value, "level", 1, int(model.hierarchy_.depth))
    except ValueError as e:
        raise BadRequest(str(e)) from None


def cluster_of(model: Any, cid: Any) -> Any | None:
    """The :class:`~hercules.hierarchy.Cluster` named by ``cid`` if it exists in ``model``, else None.

    Checked against the model's own levels and sizes first, so ``L99-0`` or ``L1-999999`` is
    simply "nothing selected" instead of an exception deep inside a view.
    """
    if not isinstance(cid, str):
        return None
    m = CLUSTER_ID.match(cid)
    if m is None:
        return None
    t, j = int(m.group(1)), int(m.group(2))
    h = model.hierarchy_
    if not 1 <= t <= h.depth or not 0 <= j < h.level(t).k:
        return None
    from hercules.hierarchy import cluster_id

    return model.cluster(cluster_id(t, j))


def decode_upload(contents: Any, filename: Any, max_bytes: int) -> tuple[bytes, str]:
    """The bytes and file name of a ``dcc.Upload`` value; ``ValueError`` with a message on anything else.

    The size is checked on the base64 text before decoding, so a huge forged body costs no memory.
    """
    if not isinstance(contents, str) or not isinstance(filename, str) or not filename.strip():
        raise ValueError("The upload did not arrive as a file; try again.")
    head, sep, body = contents.partition(",")
    if not sep or not head.startswith("data:") or ";base64" not in head:
        raise ValueError("The upload could not be decoded (expected a base64 data URL).")
    if len(body) // 4 * 3 > max_bytes + 3:
        raise ValueError(f"File too large: the limit is {max_bytes // 2**20} MB.")
    try:
        data = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("The upload could not be decoded (broken base64).") from None
    if len(data) > max_bytes:
        raise ValueError(f"File too large: the limit is {max_bytes // 2**20} MB.")
    return data, filename
