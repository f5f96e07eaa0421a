"""Server-side storage of uploads and results, with a retention policy.

The browser only ever holds opaque ids minted here (32 hex characters); every path is built
by the server from such an id and checked to stay inside the app's data directory, so no
client value can name a file or folder (pyhercules took paths from the client).

Layout: ``root/runs/<id>/`` holds one run: ``upload.*`` (what the user sent), the images of
an uploaded zip (extracted under the run's folder), ``meta.json``, ``result/``, ``run.log``,
and for a result opened with ``hercules app RESULT`` a copy of its images in ``images/``.

Retention (:meth:`Store.enforce_retention`): runs older than ``max_age_s`` are deleted, then
the oldest runs until the store fits in ``max_bytes``; runs in ``protect`` (running jobs, the
result the app was started with, the upload being handled) are never deleted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

_ID = re.compile(r"^[0-9a-f]{32}$")
log = logging.getLogger(__name__)


class UnknownIdError(KeyError):
    """An id that this server did not mint (or that was forged)."""


def _tree_bytes(path: Path) -> int:
    """Bytes used by the files under ``path`` (links are not followed)."""
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


def _is_inside(path: Path, root: Path) -> bool:
    """Whether the real path of ``path`` (links resolved) lies strictly under ``root``."""
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    return root.resolve() in real.parents


class Store:
    """Runs on disk under ``root/runs``, plus a small in-memory cache of loaded models."""

    def __init__(self, root: str | Path, max_loaded: int = 4) -> None:
        self.root = Path(root).resolve()
        self.runs_dir = self.root / "runs"
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self._models: OrderedDict[str, Any] = OrderedDict()
        self._max_loaded = max_loaded
        self._lock = threading.Lock()

    def new_id(self) -> str:
        rid = secrets.token_hex(16)
        self.dir(rid, create=True)
        return rid

    def dir(self, rid: Any, create: bool = False) -> Path:
        """The folder of run ``rid``; :class:`UnknownIdError` for anything this store did not mint."""
        if not isinstance(rid, str) or not _ID.match(rid):
            raise UnknownIdError(f"invalid id {str(rid)[:40]!r}")
        path = (self.runs_dir / rid).resolve()
        if path.parent != self.runs_dir:
            raise UnknownIdError("id escapes the data directory")
        if create:
            path.mkdir(exist_ok=True)
        elif not path.is_dir():
            raise UnknownIdError(f"no run {rid}")
        return path

    def meta(self, rid: str) -> dict:
        """The run's ``meta.json`` (empty when missing or unreadable)."""
        p = self.dir(rid) / "meta.json"
        try:
            meta = json.loads(p.read_text())
        except (OSError, ValueError):
            return {}
        return meta if isinstance(meta, dict) else {}

    def write_meta(self, rid: str, **fields: Any) -> None:
        meta = {**self.meta(rid), **fields}
        target = self.dir(rid) / "meta.json"
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(meta, indent=1, default=str))
        tmp.replace(target)  # a reader never sees half a file

    def has_result(self, rid: str) -> bool:
        return (self.dir(rid) / "result" / "hercules.json").exists()

    def results(self) -> list[tuple[str, dict]]:
        """Finished runs, newest first."""
        out = []
        for d in self.runs_dir.iterdir():
            if _ID.match(d.name) and (d / "result" / "hercules.json").exists():
                out.append((d.name, self.meta(d.name)))
        return sorted(out, key=lambda x: x[1].get("created", 0), reverse=True)

    def import_result(self, folder: str | Path, name: str | None = None) -> str:
        """Copy a saved result folder (``hercules app RESULT``) into the store, with its images.

        Thumbnails are only ever served from inside the store, so the images a saved image
        result names are copied (hard-linked where possible) to ``images/<item index><suffix>``.
        """
        rid = self.new_id()
        shutil.copytree(folder, self.dir(rid) / "result")
        self.write_meta(rid, name=name or Path(folder).name, created=time.time(), status="done", imported=True)
        paths = self.model(rid).dataset_.image_paths or []
        if paths:
            images = self.dir(rid) / "images"
            images.mkdir()
            for i, p in enumerate(paths):
                target = images / f"{i}{Path(p).suffix.lower()}"
                try:
                    os.link(p, target)
                except OSError:
                    try:
                        shutil.copyfile(p, target)
                    except OSError:
                        continue  # a missing image simply has no thumbnail
        return rid

    def image_file(self, rid: str, idx: int, model: Any) -> Path | None:
        """The file holding item ``idx`` of an image run, only if its real path is inside that run's folder."""
        paths = model.dataset_.image_paths or []
        if not isinstance(idx, int) or not 0 <= idx < len(paths):
            return None
        run = self.dir(rid)
        copied = run / "images"
        path = copied / f"{idx}{Path(paths[idx]).suffix.lower()}" if copied.is_dir() else Path(paths[idx])
        return path if _is_inside(path, run) else None

    def model(self, rid: str) -> Any:
        """The loaded model of a finished run (a few are kept in memory); the id is checked first."""
        import hercules

        folder = self.dir(rid) / "result"
        with self._lock:
            if rid in self._models:
                self._models.move_to_end(rid)
                return self._models[rid]
        if not (folder / "hercules.json").exists():
            raise UnknownIdError(f"run {rid} has no result")
        model = hercules.load(folder)
        with self._lock:
            self._models[rid] = model
            while len(self._models) > self._max_loaded:
                self._models.popitem(last=False)
        return model

    def fork_upload(self, rid: str) -> str:
        """A new run over the upload of ``rid``, so a second Run never overwrites the first one's result."""
        meta = self.meta(rid)
        src = self.dir(rid) / str(meta.get("upload", ""))
        if not meta.get("upload") or not _is_inside(src, self.dir(rid)):
            raise UnknownIdError(f"run {rid} has no upload")
        new = self.new_id()
        try:
            os.link(src, self.dir(new) / src.name)
        except OSError:
            shutil.copyfile(src, self.dir(new) / src.name)
        keep = {k: meta[k] for k in ("name", "upload", "columns", "rows", "text_default", "image_like", "kind") if k in meta}
        self.write_meta(new, **keep, created=time.time(), status="uploaded")
        return new

    def delete(self, rid: str) -> None:
        """Remove a run's folder and forget its loaded model."""
        path = self.dir(rid)
        with self._lock:
            self._models.pop(rid, None)
        shutil.rmtree(path, ignore_errors=True)

    def enforce_retention(
        self, max_bytes: int | None = None, max_age_s: float | None = None, protect: set[str] | frozenset[str] = frozenset()
    ) -> list[str]:
        """Delete runs by age, then oldest first until the store fits; returns the deleted ids.

        Runs in ``protect`` are never deleted, whatever their age or size.
        """
        if max_bytes is None and max_age_s is None:
            return []
        runs = []
        for d in self.runs_dir.iterdir():
            if not _ID.match(d.name) or not d.is_dir():
                continue
            created = self.meta(d.name).get("created")
            if not isinstance(created, (int, float)):
                created = d.stat().st_mtime
            runs.append((float(created), d.name, _tree_bytes(d)))
        runs.sort()
        total = sum(r[2] for r in runs)
        now, deleted = time.time(), []
        for created, rid, size in runs:
            too_old = max_age_s is not None and now - created > max_age_s
            too_big = max_bytes is not None and total > max_bytes
            if rid in protect or not (too_old or too_big):
                continue
            self.delete(rid)
            total -= size
            deleted.append(rid)
        if deleted:
            log.info("retention: deleted %d run(s); the store now holds %.1f MB", len(deleted), total / 2**20)
        return deleted
