"""Server-side storage of uploads and results, and background runs with per-run logs.

The browser only ever holds opaque ids minted here (32 hex characters); every path is
built by the server from such an id and checked to stay inside the app's data directory,
so no client value can name a file or folder (pyhercules took paths from the client).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import shutil
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_ID = re.compile(r"^[0-9a-f]{32}$")


class UnknownIdError(KeyError):
    """An id that this server did not mint (or that was forged)."""


class Store:
    """``root/runs/<id>/`` holds one run: ``upload.*``, ``meta.json``, ``result/``, ``run.log``."""

    def __init__(self, root: str | Path, max_loaded: int = 4) -> None:
        self.root = Path(root).resolve()
        (self.root / "runs").mkdir(parents=True, exist_ok=True)
        self._models: OrderedDict[str, Any] = OrderedDict()
        self._max_loaded = max_loaded
        self._lock = threading.Lock()

    def new_id(self) -> str:
        rid = secrets.token_hex(16)
        self.dir(rid, create=True)
        return rid

    def dir(self, rid: Any, create: bool = False) -> Path:
        if not isinstance(rid, str) or not _ID.match(rid):
            raise UnknownIdError(f"invalid id {str(rid)[:40]!r}")
        path = (self.root / "runs" / rid).resolve()
        if path.parent != self.root / "runs":
            raise UnknownIdError("id escapes the data directory")
        if create:
            path.mkdir(exist_ok=True)
        elif not path.is_dir():
            raise UnknownIdError(f"no run {rid}")
        return path

    def meta(self, rid: str) -> dict:
        p = self.dir(rid) / "meta.json"
        return json.loads(p.read_text()) if p.exists() else {}

    def write_meta(self, rid: str, **fields: Any) -> None:
        meta = {**self.meta(rid), **fields}
        (self.dir(rid) / "meta.json").write_text(json.dumps(meta, indent=1, default=str))

    def results(self) -> list[tuple[str, dict]]:
        """Finished runs, newest first."""
        out = []
        for d in (self.root / "runs").iterdir():
            if _ID.match(d.name) and (d / "result" / "hercules.json").exists():
                out.append((d.name, self.meta(d.name)))
        return sorted(out, key=lambda x: x[1].get("created", 0), reverse=True)

    def import_result(self, folder: str | Path, name: str | None = None) -> str:
        """Copy a saved result folder (``hercules app RESULT``) into the store."""
        rid = self.new_id()
        shutil.copytree(folder, self.dir(rid) / "result")
        self.write_meta(rid, name=name or Path(folder).name, created=time.time(), status="done")
        return rid

    def model(self, rid: str) -> Any:
        """The loaded model of a finished run (a few are kept in memory)."""
        import hercules

        with self._lock:
            if rid in self._models:
                self._models.move_to_end(rid)
                return self._models[rid]
        model = hercules.load(self.dir(rid) / "result")
        with self._lock:
            self._models[rid] = model
            while len(self._models) > self._max_loaded:
                self._models.popitem(last=False)
        return model


@dataclass
class Job:
    rid: str
    status: str = "queued"  # queued, running, done, error
    progress: float = 0.0
    message: str = ""
    planned_levels: int | None = None  # known for fixed levels: drives the progress bar
    log: list[str] = field(default_factory=list)
    thread: threading.Thread | None = None


class _JobLogHandler(logging.Handler):
    """Routes log records of the thread that runs a job into that job's log only."""

    def __init__(self, jobs: JobManager) -> None:
        super().__init__(logging.INFO)
        self.jobs = jobs
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        job = self.jobs.by_thread.get(record.thread)
        if job is not None:
            job.log.append(self.format(record))
            self.jobs.on_record(job, record)


class JobManager:
    """Runs jobs in threads; each job's log holds only its own thread's records."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.jobs: dict[str, Job] = {}
        self.by_thread: dict[int, Job] = {}
        handler = _JobLogHandler(self)
        logger = logging.getLogger("hercules")
        logger.addHandler(handler)
        logger.setLevel(min(logger.level or logging.INFO, logging.INFO))

    def on_record(self, job: Job, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        planned = job.planned_levels
        if msg.startswith("level ") and "clusters" in msg and planned:
            job.progress = min(0.95, 0.3 + 0.65 * int(msg.split()[1].rstrip(":")) / planned)
        job.message = msg

    def submit(self, rid: str, fn: Callable[[Job], None], planned_levels: int | None = None) -> Job:
        job = Job(rid, planned_levels=planned_levels)
        self.jobs[rid] = job

        def target() -> None:
            self.by_thread[threading.get_ident()] = job
            job.status = "running"
            try:
                fn(job)
                job.status, job.progress = "done", 1.0
            except Exception as e:  # shown to the user, with the traceback in the log
                job.status, job.message = "error", f"{type(e).__name__}: {e}"
                job.log.append(traceback.format_exc())
            finally:
                (self.store.dir(rid) / "run.log").write_text("\n".join(job.log) + "\n")
                self.store.write_meta(rid, status=job.status, message=job.message)
                self.by_thread.pop(threading.get_ident(), None)

        job.thread = threading.Thread(target=target, name=f"hercules-run-{rid[:8]}", daemon=True)
        job.thread.start()
        return job
