"""OpenAI-compatible chat completions (official ``openai`` SDK): OpenAI, Gemini, Ollama, vLLM,
LM Studio and llama.cpp's server all speak this protocol."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any

from hercules.llm.base import (
    ContextOverflowError,
    LLMError,
    LLMOptions,
    LLMProvider,
    LLMResponse,
    PermanentLLMError,
    RateLimitError,
    TransientLLMError,
)


@dataclass(frozen=True)
class Preset:
    base_url: str | None
    api_key_env: str | None
    schema_style: str  # "json_schema" (OpenAI structured outputs) or "json_object" (llama.cpp: schema inside)
    concurrency: int
    context_window: int


PRESETS: dict[str, Preset] = {
    "openai": Preset(None, "OPENAI_API_KEY", "json_schema", 16, 128_000),
    "gemini": Preset("https://generativelanguage.googleapis.com/v1beta/openai/", "GEMINI_API_KEY", "json_schema", 8, 1_000_000),
    "ollama": Preset("http://localhost:11434/v1", None, "json_schema", 2, 8192),
    "vllm": Preset("http://localhost:8000/v1", None, "json_schema", 16, 32_768),
    "lmstudio": Preset("http://localhost:1234/v1", None, "json_schema", 2, 8192),
    "llamacpp-server": Preset("http://127.0.0.1:8080/v1", None, "json_object", 4, 4096),
}


def _retry_after(exc: Any) -> float | None:
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return float(value) * scale
            except ValueError:
                return None
    return None


_HINTS = {401: "check the API key", 403: "the API key may not use this model", 404: "unknown model or wrong base URL"}


def _server_words(exc: Any) -> str:
    """The server's own message (``{"error": {"message": ...}}``), else the SDK's text."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
    return str(getattr(exc, "message", exc))


def _permanent_message(model_id: str, base_url: str | None, status: int, exc: Any) -> str:
    """One line for the user: who refused, the server's own words, and what to check."""
    hint = _HINTS.get(status)
    where = f" at {base_url}" if base_url else ""
    text = " ".join(_server_words(exc).split())[:300]
    return f"{model_id}{where}: HTTP {status}: {text}" + (f" ({hint})" if hint else "")


class OpenAICompatibleProvider(LLMProvider):
    """Any OpenAI-compatible endpoint. ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` are honoured."""

    supports_json_schema = True

    def __init__(
        self,
        model: str,
        *,
        preset: str = "openai",
        base_url: str | None = None,
        api_key: str | None = None,
        options: LLMOptions | None = None,
        max_concurrency: int | None = None,
        context_window: int | None = None,
    ) -> None:
        super().__init__(options)
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
        p = PRESETS[preset]
        self.preset = preset
        self.model = model
        env_url = os.environ.get("OPENAI_BASE_URL") if preset == "openai" else None
        self.base_url = base_url or env_url or p.base_url
        key = api_key or (os.environ.get(p.api_key_env) if p.api_key_env else None)
        if key is None and preset == "gemini":
            key = os.environ.get("GOOGLE_API_KEY")
        if key is None and p.api_key_env and self.base_url is None:
            raise LLMError(f"set {p.api_key_env} (or pass api_key=) to use {preset}")
        self.api_key = key or "not-needed"
        self.schema_style = p.schema_style
        self.max_concurrency = max_concurrency or p.concurrency
        self.context_window = context_window or p.context_window
        self.model_id = f"{preset}:{model}"
        self._client = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    @property
    def cache_id(self) -> str:
        """Model id and server address: answers of two servers never mix in the cache."""
        return f"{self.model_id}@{self.base_url or 'default'}"

    def _reset_connections(self) -> None:
        self._client = None

    def _get_client(self):
        # An async client belongs to the event loop it was made in: each asyncio.run (one per
        # level, or a user's own) gets its own, and one left from a closed loop is dropped, not reused.
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            from openai import AsyncOpenAI

            # Retries are ours (with Retry-After and batch shrinking), so the SDK's are off.
            self._client = AsyncOpenAI(base_url=self.base_url, api_key=self.api_key, max_retries=0, timeout=self.options.timeout)
            self._client_loop = loop
        return self._client

    def _response_format(self, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        if schema is None:
            return None
        if self.schema_style == "json_object":
            return {"type": "json_object", "schema": schema}
        return {"type": "json_schema", "json_schema": {"name": "cluster_labels", "schema": schema}}

    async def acomplete(
        self, messages: list[dict[str, str]], *, schema: dict[str, Any] | None = None, max_tokens: int | None = None
    ) -> LLMResponse:
        import openai

        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.options.temperature,
            "max_tokens": self.answer_cap(max_tokens),
        }
        if self.options.seed is not None:
            kwargs["seed"] = self.options.seed
        fmt = self._response_format(schema)
        if fmt is not None:
            kwargs["response_format"] = fmt
        try:
            r = await self._get_client().chat.completions.create(**kwargs)
        except openai.RateLimitError as e:
            raise RateLimitError(f"{self.model_id}: rate limited ({e.message})", _retry_after(e)) from e
        except (openai.APITimeoutError, openai.APIConnectionError) as e:
            raise TransientLLMError(f"{self.model_id}: {type(e).__name__}: {e}") from e
        except openai.APIStatusError as e:
            msg = str(e.message).lower()
            if e.status_code in (400, 413) and ("context" in msg or "too long" in msg or "maximum" in msg and "token" in msg):
                raise ContextOverflowError(f"{self.model_id}: prompt too long ({e.message})") from e
            if e.status_code >= 500 or e.status_code in (408, 409):
                raise TransientLLMError(f"{self.model_id}: HTTP {e.status_code}: {e.message}") from e
            raise PermanentLLMError(_permanent_message(self.model_id, self.base_url, e.status_code, e)) from e
        if not r.choices:
            raise TransientLLMError(f"{self.model_id}: response without choices")
        choice = r.choices[0]
        usage = getattr(r, "usage", None)
        return LLMResponse(
            text=choice.message.content or "",
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
            finish_reason=choice.finish_reason,
            timings=(getattr(r, "model_extra", None) or {}).get("timings"),
        )

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._client_loop is asyncio.get_running_loop():
            await client.close()
