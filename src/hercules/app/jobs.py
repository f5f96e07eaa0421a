"""Background runs: one thread per job, its own log, and progress from the estimator's events.

Progress comes from :class:`hercules.common.progress.ProgressEvent` (``fit(on_progress=...)``),
never from the text of log messages. Each job's log handler is attached to the ``hercules``
logger only while that job runs and keeps only records of the job's own thread, so two tabs
running at once never mix logs and no handler outlives its job.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hercules.app.store import Store
from hercules.common.progress import ProgressEvent

MAX_LOG_LINES = 20_000  # a job's in-memory log keeps the latest lines
MAX_LINE = 2_000  # characters per log line (a record may quote user data)
MAX_MESSAGE = 500  # characters of a status message shown in the page

_STAGE_PROGRESS = {"embed": 0.1, "space": 0.2, "cluster": 0.3, "label": 0.3, "layout": 0.95, "done": 0.99}


@dataclass
class Job:
    rid: str
    status: str = "queued"  # queued, running, done, error
    progress: float = 0.0
    message: str = ""
    planned_levels: int | None = None  # known for fixed levels; the events' ``total`` wins when given
    log: list[str] = field(default_factory=list)
    thread: threading.Thread | None = None

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    def report(self, event: ProgressEvent) -> None:
        """The ``on_progress`` subscriber: moves the bar (never backwards) and sets the status line."""
        if event.stage == "level":
            total = event.total or self.planned_levels
            if total:
                value = 0.3 + 0.65 * min(event.done, total) / total
            else:  # automatic k: the number of levels is unknown, approach the end without reaching it
                value = 0.3 + 0.65 * (1 - 0.6 ** max(event.done, 0))
        else:
            value = _STAGE_PROGRESS.get(event.stage, self.progress)
        self.progress = max(self.progress, min(value, 0.99))
        where = f" (level {event.level})" if event.level is not None else ""
        self.message = (event.message or f"{event.stage}{where}")[:MAX_MESSAGE]

    def add_line(self, line: str) -> None:
        self.log.append(line[:MAX_LINE])
        if len(self.log) > MAX_LOG_LINES:
            del self.log[: len(self.log) - MAX_LOG_LINES]


class _JobLogHandler(logging.Handler):
    """Copies the records of one thread (the job's) into that job's log."""

    def __init__(self, job: Job, thread_id: int) -> None:
        super().__init__(logging.INFO)
        self.job = job
        self.thread_id = thread_id
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread_id:
            try:
                self.job.add_line(self.format(record))
            except Exception:  # noqa: BLE001 - logging must never break a run
                self.handleError(record)


class _InfoWhileRunning:
    """Lowers the ``hercules`` logger to INFO while at least one job runs, then restores its level."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._saved = logging.NOTSET

    def __enter__(self) -> None:
        logger = logging.getLogger("hercules")
        with self._lock:
            if self._count == 0:
                self._saved = logger.level
                if logger.getEffectiveLevel() > logging.INFO:
                    logger.setLevel(logging.INFO)
            self._count += 1

    def __exit__(self, *exc: Any) -> None:
        with self._lock:
            self._count -= 1
            if self._count == 0:
                logging.getLogger("hercules").setLevel(self._saved)


_INFO = _InfoWhileRunning()


class JobManager:
    """Runs jobs in threads; each job's log holds only its own thread's records."""

    def __init__(self, store: Store, on_finish: Callable[[Job], None] | None = None) -> None:
        self.store = store
        self.jobs: dict[str, Job] = {}
        self.on_finish = on_finish

    def get(self, rid: Any) -> Job | None:
        """The job of run ``rid`` (None for anything else, forged values included)."""
        return self.jobs.get(rid) if isinstance(rid, str) else None

    def active_ids(self) -> set[str]:
        """Runs that must not be deleted: queued or running."""
        return {rid for rid, job in list(self.jobs.items()) if job.active}

    def submit(self, rid: str, fn: Callable[[Job], None], planned_levels: int | None = None) -> Job:
        """Start ``fn(job)`` in a thread; its log ends in ``run.log`` and its status in ``meta.json``."""
        job = Job(rid, planned_levels=planned_levels)
        self.jobs[rid] = job
        job.thread = threading.Thread(target=self._run, args=(job, fn), name=f"hercules-run-{rid[:8]}", daemon=True)
        job.thread.start()
        return job

    def _run(self, job: Job, fn: Callable[[Job], None]) -> None:
        handler = _JobLogHandler(job, threading.get_ident())
        logger = logging.getLogger("hercules")
        logger.addHandler(handler)
        job.status = "running"
        try:
            with _INFO:
                fn(job)
            job.status, job.progress = "done", 1.0
        except Exception as e:  # shown to the user, with the traceback in the log
            job.status, job.message = "error", f"{type(e).__name__}: {e}"[:MAX_MESSAGE]
            frames = "".join(traceback.format_tb(e.__traceback__))
            job.log.append(f"Traceback (most recent call last):\n{frames}{type(e).__name__}: {str(e)[:MAX_LINE]}")
        finally:
            logger.removeHandler(handler)
            try:
                (self.store.dir(job.rid) / "run.log").write_text("\n".join(job.log) + "\n")
                self.store.write_meta(job.rid, status=job.status, message=job.message)
            except (OSError, KeyError):
                pass  # the run was deleted meanwhile
            if self.on_finish is not None:
                self.on_finish(job)
