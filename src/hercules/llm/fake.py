"""A deterministic offline provider for tests and dry runs: answers every cluster id it finds."""

from __future__ import annotations

import json
import re
from typing import Any

from hercules.llm.base import LLMProvider, LLMResponse

_BLOCK = re.compile(r"### (?:Cluster|Item) (\S+)\n(.*?)(?=\n### (?:Cluster|Item) |\Z)", re.S)
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{3,}")
_STOP = {
    "items",
    "item",
    "examples",
    "keywords",
    "size",
    "level",
    "subclusters",
    "distinctive",
    "closest",
    "from",
    "with",
    "this",
    "that",
    "have",
    "about",
    "what",
    "when",
    "does",
    "your",
    "their",
    "which",
    "cluster",
    "siblings",
    "title",
    "must",
    "contain",
}


class FakeLLM(LLMProvider):
    """Titles from the most frequent words of each cluster block: real JSON, no model, instant."""

    supports_json_schema = True
    max_concurrency = 8

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.model_id = "fake:keywords"
        self.calls = 0
        self.max_tokens_seen: list[int] = []  # the answer cap of each call

    async def acomplete(self, messages, *, schema=None, max_tokens=None) -> LLMResponse:
        self.calls += 1
        self.max_tokens_seen.append(self.answer_cap(max_tokens))
        prompt = messages[-1]["content"]
        out = {}
        for cid, body in _BLOCK.findall(prompt):
            words: dict[str, int] = {}
            for w in _WORD.findall(body.lower()):
                if w not in _STOP:
                    words[w] = words.get(w, 0) + 1
            top = sorted(words, key=lambda w: (-words[w], w))[:3] or ["misc"]
            out[cid] = {"title": " ".join(t.capitalize() for t in top), "description": f"Items about {', '.join(top)}."}
        text = json.dumps(out)
        return LLMResponse(
            text, prompt_tokens=self.count_tokens(prompt), completion_tokens=self.count_tokens(text), finish_reason="stop"
        )
