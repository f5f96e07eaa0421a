"""Image captions from a vision LLM on an OpenAI-compatible API (the paper's image_captioning_client).

Each image goes as a base64 ``image_url`` content part next to the prompt; answers are cached
by (model, prompt, file sha256), so re-runs caption nothing twice.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import mimetypes

from hercules.common.aio import run_sync
from hercules.common.plugins import file_digest
from hercules.llm.base import LLMError, LLMProvider
from hercules.llm.cache import ResponseCache, request_key

log = logging.getLogger(__name__)

DEFAULT_PROMPT = "Describe this image in one sentence: what it shows, its setting and notable details."


class VisionCaptioner:
    """Captions images with ``llm`` (an OpenAI-compatible provider whose model accepts images)."""

    def __init__(
        self,
        llm: LLMProvider,
        prompt: str = DEFAULT_PROMPT,
        concurrency: int | None = None,
        cache: bool | ResponseCache = True,
        retries: int = 3,
    ) -> None:
        self.llm = llm
        self.prompt = prompt
        self.concurrency = concurrency or llm.max_concurrency
        self.cache = ResponseCache() if cache is True else (cache if isinstance(cache, ResponseCache) else None)
        self.retries = retries

    def _messages(self, path: str, topic_seed: str | None) -> list[dict]:
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

    async def _one(self, path: str, sem: asyncio.Semaphore, topic_seed: str | None) -> str | None:
        key = request_key(
            self.llm.model_id,
            [{"caption": file_digest(path), "prompt": self.prompt, "seed": topic_seed}],
            None,
            self.llm.options.model_dump(exclude={"timeout"}),
        )
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            return hit.text
        for attempt in range(self.retries + 1):
            try:
                async with sem:
                    r = await asyncio.wait_for(self.llm.acomplete(self._messages(path, topic_seed)), self.llm.options.timeout)
                text = " ".join(r.text.split())
                if text:
                    if self.cache is not None:
                        self.cache.put(key, self.llm.model_id, r)
                    return text
            except (LLMError, asyncio.TimeoutError) as e:
                log.info("caption of %s failed (%s), attempt %d", path, e, attempt + 1)
            await asyncio.sleep(0.5 * 2**attempt)
        return None

    def caption(self, paths: list[str], topic_seed: str | None = None) -> list[str | None]:
        """One caption per image; ``None`` where captioning kept failing (never invented text)."""
        async def main():
            sem = asyncio.Semaphore(self.concurrency)
            try:
                return await asyncio.gather(*(self._one(p, sem, topic_seed) for p in paths))
            finally:
                await self.llm.aclose()

        return list(run_sync(main()))
