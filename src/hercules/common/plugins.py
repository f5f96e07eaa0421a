"""Shared plumbing: spec-string registries with entry-point plugins, SQLite caches, file digests."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any


class Registry:
    """``name -> factory``; unknown names are looked up once in the entry-point ``group``."""

    def __init__(self, group: str, kind: str, builtin_extra: str = "") -> None:
        self.group, self.kind, self.builtin_extra = group, kind, builtin_extra
        self.factories: dict[str, Callable[..., Any]] = {}

    def register(self, name: str, factory: Callable[..., Any]) -> None:
        self.factories[name] = factory

    def factory(self, name: str, spec: str) -> Callable[..., Any]:
        if name not in self.factories:
            for ep in entry_points(group=self.group):
                if ep.name == name:
                    self.factories[name] = ep.load()
                    break
            else:
                known = ", ".join([*filter(None, [self.builtin_extra]), *sorted(self.factories)])
                raise ValueError(f"unknown {self.kind} {spec!r}; built-in: {known}")
        return self.factories[name]


def open_sqlite(path: Path, ddl: str) -> sqlite3.Connection:
    """A WAL-mode connection shared across threads (callers hold their own lock), with ``ddl`` applied."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=60, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(ddl)
    conn.commit()
    return conn


def file_digest(path: str | Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
