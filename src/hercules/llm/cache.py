"""Content-hash cache of LLM responses (SQLite) and a JSONL prompt/response log.

The key covers the model id, the messages, the schema and the generation options,
so a re-run, or a run resumed after Ctrl-C or a crash, repeats no call already answered.
Each response is committed as soon as it arrives.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any

from hercules.common.paths import default_cache_dir
from hercules.common.plugins import open_sqlite
from hercules.llm.base import LLMResponse


def request_key(model_id: str, messages: list[dict[str, str]], schema: dict[str, Any] | None, options: dict[str, Any]) -> str:
    blob = json.dumps({"m": model_id, "msg": messages, "s": schema, "o": options}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """Persistent ``request key -> response`` store, safe across threads and processes."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_cache_dir() / "llm.sqlite"
        self._lock = threading.Lock()
        self._conn = open_sqlite(
            self.path,
            "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, model TEXT, text TEXT, prompt_tokens INT,"
            " completion_tokens INT, created REAL)",
        )

    def get(self, key: str) -> LLMResponse | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT text, prompt_tokens, completion_tokens FROM responses WHERE key=?", (key,)
            ).fetchone()
        return None if row is None else LLMResponse(row[0], row[1], row[2], "cached")

    def put(self, key: str, model: str, r: LLMResponse) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?)",
                (key, model, r.text, r.prompt_tokens, r.completion_tokens, time.time()),
            )
            self._conn.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0])


class PromptLog:
    """Append-only JSONL of every call: prompt, response, tokens, timing, outcome."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False)
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
