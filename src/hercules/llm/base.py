"""The LLM provider interface: one async method, capability flags, options as a pydantic model.

Providers translate their own failures into the small error vocabulary below, so
the batching layer can decide what to do (wait, retry, shrink the batch, give up)
without knowing which backend it talks to.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field


class LLMError(RuntimeError):
    """A call failed for good (bad request, authentication, ...): retrying will not help."""


class PermanentLLMError(LLMError):
    """The server refused in a way no retry can fix (HTTP 401 bad API key, 404 unknown model,
    400 bad request): the run stops at once with the server's message instead of falling back."""


class TransientLLMError(LLMError):
    """A call failed in a way worth retrying (timeout, 5xx, dropped connection)."""


class RateLimitError(TransientLLMError):
    """429: wait ``retry_after`` seconds (when the server says) before retrying."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ContextOverflowError(LLMError):
    """The prompt does not fit the model's context: send fewer clusters per prompt."""


class LLMOptions(BaseModel):
    """Generation options shared by every provider."""

    temperature: float = Field(0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(1024, gt=0, description="Upper bound on generated tokens per call.")
    timeout: float = Field(120.0, gt=0, description="Seconds before one call is abandoned and retried.")
    seed: int | None = 0
    json_schema: bool | None = Field(
        None,
        description="Constrain answers to the JSON schema where the backend can (None: the backend's default, on). "
        "Off: the tolerant parser reads plain JSON; on llama.cpp the schema keeps answers about 20% shorter at the same speed (bench_llm --schema).",
    )


@dataclass
class LLMResponse:
    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    #: llama.cpp's own accounting where the server sends it: prompt_n (tokens evaluated, the cached
    #: prefix excluded), prompt_ms, predicted_n, predicted_ms.
    timings: dict[str, float] | None = None


class LLMProvider(ABC):
    """Chat-completion provider. Implement :meth:`acomplete`; :meth:`complete` is its sync twin."""

    #: Stable id of provider + model; part of every cache key.
    model_id: str = "llm"
    #: Whether the backend can constrain output to a JSON schema.
    supports_json_schema: bool = False
    #: Whether constraining is on when ``options.json_schema`` is None.
    json_schema_default: bool = True
    #: Context window in tokens (prompts are budgeted against it).
    context_window: int = 8192
    #: Requests the backend serves in parallel (client-side concurrency default).
    max_concurrency: int = 4

    def __init__(self, options: LLMOptions | None = None) -> None:
        self.options = options or LLMOptions()

    @abstractmethod
    async def acomplete(self, messages: list[dict[str, str]], *, schema: dict[str, Any] | None = None) -> LLMResponse:
        """One chat completion; ``schema`` asks for JSON matching it where supported. A provider may also
        take ``max_tokens: int | None = None`` (a lower cap for this call; see :meth:`acomplete_capped`)."""

    async def acomplete_capped(
        self, messages: list[dict[str, str]], *, schema: dict[str, Any] | None = None, max_tokens: int | None = None
    ) -> LLMResponse:
        """:meth:`acomplete` with the answer cut at ``max_tokens`` (below ``options.max_tokens``) where
        the provider's ``acomplete`` takes a ``max_tokens`` keyword (the built-in ones do); else uncapped."""
        if max_tokens is not None and _takes_max_tokens(type(self)):
            return await self.acomplete(messages, schema=schema, max_tokens=max_tokens)  # type: ignore[call-arg]
        return await self.acomplete(messages, schema=schema)

    def answer_cap(self, max_tokens: int | None) -> int:
        """The completion tokens one call may generate: ``max_tokens``, never above ``options.max_tokens``."""
        return self.options.max_tokens if max_tokens is None else max(1, min(max_tokens, self.options.max_tokens))

    def use_json_schema(self) -> bool:
        """Whether callers should send a schema: the backend can, and the options (or its default) want it."""
        wanted = self.options.json_schema
        return self.supports_json_schema and (self.json_schema_default if wanted is None else wanted)

    def complete(self, messages: list[dict[str, str]], *, schema: dict[str, Any] | None = None) -> LLMResponse:
        return asyncio.run(self.acomplete(messages, schema=schema))

    @property
    def cache_id(self) -> str:
        """What identifies this provider's answers in the response cache (the model id, plus
        the server address for HTTP providers: two servers may both call their model "qwen")."""
        return self.model_id

    def with_options(self, **changes: Any) -> LLMProvider:
        """A shallow copy with some options changed (e.g. ``timeout``), so a labeler can override
        them without mutating the provider the user passed in."""
        new = copy.copy(self)
        new.options = self.options.model_copy(update=changes)
        new._reset_connections()
        return new

    def _reset_connections(self) -> None:  # noqa: B027 - optional hook
        """Drop clients built from the old options (called on the copy made by :meth:`with_options`)."""

    def count_tokens(self, text: str) -> int:
        """Token estimate; providers with a tokenizer override this."""
        return max(1, int(len(text) / 3.2) + 1)

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections or models."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model_id!r})"


@functools.cache
def _takes_max_tokens(cls: type) -> bool:
    """Whether ``cls.acomplete`` accepts a ``max_tokens`` keyword (providers written before the cap did not)."""
    return "max_tokens" in inspect.signature(cls.acomplete).parameters
