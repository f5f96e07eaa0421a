"""Structured progress events: the CLI and the web app subscribe to these instead of parsing logs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a fit.

    ``stage`` is one of ``"embed"``, ``"guide"`` (a judge is asked), ``"space"`` (the clustering space), ``"cluster"``,
    ``"label"``, ``"level"`` (a level finished),
    ``"layout"``, ``"done"``. ``level`` is the hierarchy level it concerns (None for item stages).
    ``done``/``total`` count levels for ``"level"`` events (``total`` is None when k is automatic).
    """

    stage: str
    level: int | None = None
    done: int = 0
    total: int | None = None
    message: str = ""


ProgressCallback = Callable[[ProgressEvent], None]


def emit(callback: ProgressCallback | None, event: ProgressEvent) -> None:
    """Send ``event`` to ``callback`` if there is one; a failing subscriber never breaks a fit."""
    if callback is None:
        return
    try:
        callback(event)
    except Exception:  # noqa: BLE001 - a UI bug must not cost an hour of LLM calls
        import logging

        logging.getLogger(__name__).exception("progress callback failed")
