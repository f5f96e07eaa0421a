"""The state one app instance shares between its callbacks: store, jobs, offered choices, retention."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from hercules.app.jobs import Job, JobManager
from hercules.app.runner import Choices
from hercules.app.store import Store

log = logging.getLogger(__name__)


@dataclass
class Retention:
    """Limits on what the store keeps: total size and age (None: no limit)."""

    max_bytes: int | None = None
    max_age_s: float | None = None

    @classmethod
    def from_options(cls, max_store_gb: float | None, max_age_days: float | None) -> Retention:
        for name, v in (("max_store_gb", max_store_gb), ("max_age_days", max_age_days)):
            if v is not None and not v > 0:
                raise ValueError(f"{name} must be positive, got {v}")
        return cls(
            None if max_store_gb is None else int(max_store_gb * 2**30),
            None if max_age_days is None else max_age_days * 86400.0,
        )


@dataclass
class AppContext:
    """Everything a callback may touch; built once per :func:`hercules.app.create_app`."""

    store: Store
    choices: Choices = field(default_factory=Choices)
    retention: Retention = field(default_factory=Retention)
    pinned: set[str] = field(default_factory=set)  # never deleted: the result the app was started with
    jobs: JobManager = field(init=False)

    def __post_init__(self) -> None:
        self.jobs = JobManager(self.store, on_finish=self._finished)

    def _finished(self, job: Job) -> None:
        self.retain()

    def retain(self, *keep: str) -> list[str]:
        """Apply the retention policy, sparing running jobs, pinned results and ``keep``."""
        protect = self.jobs.active_ids() | self.pinned | set(keep)
        try:
            return self.store.enforce_retention(self.retention.max_bytes, self.retention.max_age_s, protect)
        except OSError as e:  # a full or read-only disk must not break the request that triggered it
            log.warning("retention failed: %s", e)
            return []

    def result_options(self) -> list[dict]:
        """Dropdown entries for the finished runs, newest first."""
        out = []
        for rid, m in self.store.results():
            created = m.get("created", 0)
            when = time.strftime("%H:%M", time.localtime(created if isinstance(created, (int, float)) else 0))
            out.append({"label": f"{str(m.get('name', rid[:8]))[:80]} · {when}", "value": rid})
        return out
