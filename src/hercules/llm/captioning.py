"""Image captions from a vision LLM on an OpenAI-compatible API (the paper's image_captioning_client).

Each image goes as a base64 ``image_url`` content part next to the prompt; answers are cached
by (provider, server, prompt, file sha256), so re-runs caption nothing twice. Calls go through
the same :class:`~hercules.llm.runner.LLMRunner` as cluster labels: one retry policy, capped
``Retry-After``, a circuit breaker, and a permanent error (bad API key, unknown model) stops
the run at the first call instead of leaving every image without a caption.
"""

from __future__ import annotations

import base64
import logging
import mimetypes
from typing import Any

from hercules.common.aio import run_sync
from hercules.common.plugins import file_digest
from hercules.common.retry import RetryPolicy
from hercules.llm.base import LLMProvider
from hercules.llm.cache import ResponseCache
from hercules.llm.runner import GaveUpError, LLMRunner, first_then_rest

log = logging.getLogger(__name__)

DEFAULT_PROMPT = "Describe this image in one sentence: what it shows, its setting and notable details."


class VisionCaptioner:
    """Captions images with ``llm`` (an OpenAI-compatible provider whose model accepts images).

    ``retries``, ``backoff`` and ``max_wait`` make the retry policy; ``timeout`` overrides the
    provider's per-call timeout; ``breaker_failures`` failed calls in a row stop the pass.
    """

    def __init__(
        self,
        llm: LLMProvider,
        prompt: str = DEFAULT_PROMPT,
        concurrency: int | None = None,
        cache: bool | ResponseCache = True,
        retries: int = 3,
        *,
        backoff: float = 0.5,
        max_wait: float = 60.0,
        timeout: float | None = None,
        breaker_failures: int = 8,
    ) -> None:
        self.llm = llm if timeout is None else llm.with_options(timeout=timeout)
        self.prompt = prompt
        self.concurrency = concurrency or llm.max_concurrency
        self.cache = ResponseCache() if cache is True else (cache if isinstance(cache, ResponseCache) else None)
        self.policy = RetryPolicy(retries=retries, backoff=backoff, max_wait=max_wait)
        self.breaker_failures = breaker_failures

    def _messages(self, path: str, topic_seed: str | None) -> list[dict[str, Any]]:
        mime = mimetypes.guess_type(path)[0] or "image/png"
        with open(path, "rb") as f:
            data = base64.b64encode(f.read()).decode("ascii")
        text = self.prompt + (f" Focus on aspects related to '{topic_seed}' where relevant." if topic_seed else "")
        return [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": text},
                    {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{data}"}},
                ],
            }
        ]

    async def _one(self, runner: LLMRunner, path: str, topic_seed: str | None) -> str | None:
        key = [{"caption": file_digest(path), "prompt": self.prompt, "seed": topic_seed}]
        try:
            text = await runner.call(
                self._messages(path, topic_seed), lambda t: " ".join(t.split()), key_messages=key, ids=[path]
            )
        except GaveUpError as e:
            log.info("no caption for %s: %s", path, e)
            return None
        return text or None

    def caption(self, paths: list[str], topic_seed: str | None = None) -> list[str | None]:
        """One caption per image; ``None`` where captioning kept failing (never invented text)."""

        async def main() -> list[str | None]:
            runner = LLMRunner(
                self.llm,
                self.policy,
                what="image captions",
                concurrency=self.concurrency,
                cache=self.cache,
                breaker_failures=self.breaker_failures,
                on_breaker="the remaining images keep no caption",
            )
            try:
                return await first_then_rest(lambda p: self._one(runner, p, topic_seed), paths)
            finally:
                await self.llm.aclose()

        out = list(run_sync(main()))
        missing = sum(c is None for c in out)
        if missing:
            log.warning(
                "%d of %d images have no caption (the LLM kept failing); they are described by their image facts only",
                missing,
                len(out),
            )
        return out
