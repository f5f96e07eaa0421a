"""SQLite cache of embedding vectors keyed by content hash (model id + input)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from hercules.common.paths import default_cache_dir
from hercules.common.plugins import open_sqlite

_SQL_BATCH = 900  # stays under SQLite's default host-parameter limit


class EmbeddingCache:
    """A persistent ``key -> float32 vector`` store. Safe to share between runs and processes."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_cache_dir() / "embeddings.sqlite"
        self._lock = threading.Lock()
        self._conn = open_sqlite(
            self.path, "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, model TEXT NOT NULL, vec BLOB NOT NULL)"
        )

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), _SQL_BATCH):
                chunk = keys[start : start + _SQL_BATCH]
                q = f"SELECT key, vec FROM vectors WHERE key IN ({','.join('?' * len(chunk))})"
                for key, blob in self._conn.execute(q, chunk):
                    out[key] = np.frombuffer(blob, dtype=np.float32)
        return out

    def put_many(self, model: str, keys: list[str], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        rows = [(k, model, vectors[i].tobytes()) for i, k in enumerate(keys)]
        with self._lock:
            self._conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)
            self._conn.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        self._conn.close()
