"""Every LLM call of a stage goes through one :class:`LLMRunner`: response cache, bounded
concurrency, a per-call timeout, one :class:`~hercules.common.retry.RetryPolicy`, a JSONL prompt
log and a circuit breaker. Cluster labels, item descriptions and image captions share it, so
they fail the same way:

* a permanent error (bad API key, unknown model, bad request) is raised at once, never retried;
* a context overflow is raised at once (the caller sends fewer items per prompt);
* timeouts, 5xx and 429 are retried with backoff, ``Retry-After`` capped at ``max_wait``; once
  the retries are spent :class:`GaveUpError` is raised (the server is sick: the caller must not
  split the batch, which would only multiply the calls);
* after ``breaker_failures`` failed calls in a row the breaker opens: no more calls for this
  runner (one level, one captioning pass), a WARNING says so, and every caller gets GaveUpError;
* a call may cap its answer (``max_tokens``: what its ids need, not the provider's 1024), so a
  small model that rambles (repeats, pads with whitespace) stops early; an answer cut at the cap
  that does not parse is not asked again (the same prompt runs away the same way): the caller
  keeps its fallback and the cut is counted (``CallStats.truncated``); such an answer is never
  cached, so the cap is not part of the cache key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from hercules.common.retry import RetryPolicy
from hercules.llm.base import LLMError, LLMProvider, LLMResponse, RateLimitError, TransientLLMError
from hercules.llm.cache import PromptLog, ResponseCache, request_key
from hercules.llm.ratelimit import RateLimiter

log = logging.getLogger(__name__)

T = TypeVar("T")
X = TypeVar("X")
Messages = list[dict[str, Any]]


class GaveUpError(TransientLLMError):
    """Retries spent or circuit breaker open: the server is failing, not the prompt."""


@dataclass
class CallStats:
    """Accounting of one runner (one level): what the calls cost and how they went."""

    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retries: int = 0
    failed_calls: int = 0
    truncated: int = 0
    breaker_open: bool = False
    # where a llama.cpp server's time went (summed over calls; calls overlap, so not wall time)
    prompt_eval_tokens: int = 0
    prompt_eval_s: float = 0.0
    generation_s: float = 0.0


class CircuitBreaker:
    """Opens after ``threshold`` failed calls in a row; any answer from the server resets the count."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.consecutive = 0
        self._opened = asyncio.Event()

    @property
    def is_open(self) -> bool:
        return self._opened.is_set()

    def success(self) -> None:
        self.consecutive = 0

    def failure(self) -> bool:
        """Count a failed call; True when this one opened the breaker."""
        self.consecutive += 1
        if not self.is_open and self.consecutive >= self.threshold:
            self._opened.set()
            return True
        return False

    async def sleep(self, seconds: float) -> None:
        """Back off, but wake at once if the breaker opens meanwhile (nothing left to retry)."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._opened.wait(), timeout=seconds)


class LLMRunner:
    """Makes the calls of one stage pass (see module docstring). Create it inside the event loop
    that runs the calls, one per level, so its breaker and stats belong to that level only."""

    def __init__(
        self,
        llm: LLMProvider,
        policy: RetryPolicy,
        *,
        what: str,
        concurrency: int | None = None,
        cache: ResponseCache | None = None,
        prompt_log: PromptLog | None = None,
        breaker_failures: int = 8,
        on_breaker: str = "",
        limiter: RateLimiter | None = None,
    ) -> None:
        self.llm = llm
        self.policy = policy
        self.what = what
        self.cache = cache
        self.prompt_log = prompt_log
        self.breaker = CircuitBreaker(breaker_failures)
        self.on_breaker = on_breaker
        self.stats = CallStats()
        self._sem = asyncio.Semaphore(concurrency or llm.max_concurrency)
        self.limiter = limiter if limiter is not None and limiter.active else None

    async def call(
        self,
        messages: Messages,
        parse: Callable[[str], T],
        *,
        schema: dict[str, Any] | None = None,
        key_messages: list[dict[str, Any]] | None = None,
        ids: Sequence[str] = (),
        retry_empty: bool = True,
        max_tokens: int | None = None,
    ) -> T:
        """``parse(answer)`` of the first usable answer (cached or fresh).

        An answer that parses to nothing falsy is retried only if ``retry_empty`` (a batch
        of several ids is better split by the caller) and it was not cut at ``max_tokens``;
        if it stays empty it is returned as is.
        ``key_messages`` replaces the messages in the cache key (e.g. a file hash for an image).
        """
        cap = self.llm.answer_cap(max_tokens)
        # Options that change the answer are part of the key; the timeout is not, and neither is the
        # per-call cap: an answer cut at its cap is never cached, so a cached answer is the same
        # under any cap (and answers cached before the cap existed still hit).
        options = self.llm.options.model_dump(exclude={"timeout"})
        key = request_key(self.llm.cache_id, key_messages or messages, schema, options)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            parsed = parse(hit.text)
            if parsed:
                self.stats.cache_hits += 1
                return parsed
        async with self._sem:
            return await self._attempts(cap, messages, parse, schema, key, list(ids), retry_empty)

    async def _attempts(
        self,
        cap: int,
        messages: Messages,
        parse: Callable[[str], T],
        schema: dict[str, Any] | None,
        key: str,
        ids: list[str],
        retry_empty: bool,
    ) -> T:
        parsed: T | None = None
        error = ""
        for attempt in range(self.policy.retries + 1):
            if self.breaker.is_open:
                raise GaveUpError(f"{self.what}: no more calls after {self.breaker.threshold} failures in a row")
            retry_after: float | None = None
            if self.limiter is not None:
                await self.limiter.acquire(sum(self.llm.count_tokens(t) for t in _texts(messages)))
            t0 = time.perf_counter()
            try:
                call = self.llm.acomplete_capped(messages, schema=schema, max_tokens=cap)
                r = await asyncio.wait_for(call, timeout=self.llm.options.timeout)
            except (LLMError, asyncio.TimeoutError) as e:
                self.stats.calls += 1
                error = f"no answer within {self.llm.options.timeout:g} s" if isinstance(e, asyncio.TimeoutError) else str(e)
                self._log(messages, ids, None, error, t0, 0)
                if not isinstance(e, (TransientLLMError, asyncio.TimeoutError)):
                    raise  # context overflow: the caller sends less; anything else is permanent: the run stops
                retry_after = e.retry_after if isinstance(e, RateLimitError) else None
                parsed = None
                self._failed(error)
            else:
                self.breaker.success()
                parsed = parse(r.text)
                self._account(messages, r)
                self._log(messages, ids, r.text, None, t0, _count(parsed))
                if parsed:
                    if self.cache is not None:
                        self.cache.put(key, self.llm.model_id, r)
                    return parsed
                if r.finish_reason == "length":
                    self.stats.truncated += 1
                    log.info(
                        "%s: answer for %s cut at %d tokens and unusable; not asked again",
                        self.what,
                        ", ".join(ids) or "a call",
                        cap,
                    )
                    return parsed
                if not retry_empty:
                    return parsed
                error = "no usable answer"
            if attempt < self.policy.retries:
                wait = self.policy.delay(attempt, retry_after)
                self.stats.retries += 1
                log.info("%s: retrying %d id(s) in %.1f s after: %s", self.what, max(1, len(ids)), wait, error)
                await self.breaker.sleep(wait)
        if parsed is not None:
            return parsed  # the server answered, but nothing usable came out
        raise GaveUpError(f"{self.what}: {self.policy.retries + 1} attempts failed; last error: {error}")

    def _failed(self, error: str) -> None:
        self.stats.failed_calls += 1
        if self.breaker.failure():
            self.stats.breaker_open = True
            log.warning(
                "%s: %d LLM calls failed in a row (last error: %s); no more calls for this pass%s",
                self.what,
                self.breaker.threshold,
                error,
                f": {self.on_breaker}" if self.on_breaker else "",
            )

    def _account(self, messages: Messages, r: LLMResponse) -> None:
        self.stats.calls += 1
        self.stats.prompt_tokens += r.prompt_tokens or sum(self.llm.count_tokens(t) for t in _texts(messages))
        completion = r.completion_tokens or self.llm.count_tokens(r.text)
        self.stats.completion_tokens += completion
        if r.timings:
            self.stats.prompt_eval_tokens += int(r.timings.get("prompt_n") or 0)
            self.stats.prompt_eval_s += float(r.timings.get("prompt_ms") or 0) / 1000
            self.stats.generation_s += float(r.timings.get("predicted_ms") or 0) / 1000
        if self.limiter is not None:
            self.limiter.charge(completion)

    def _log(self, messages: Messages, ids: list[str], response: str | None, error: str | None, t0: float, n_valid: int) -> None:
        if self.prompt_log is not None:
            self.prompt_log.write(
                {
                    "time": time.time(),
                    "model": self.llm.model_id,
                    "ids": ids,
                    "prompt": messages,
                    "response": response,
                    "error": error,
                    "seconds": round(time.perf_counter() - t0, 3),
                    "valid": n_valid,
                }
            )


def _texts(messages: Messages) -> list[str]:
    return [m["content"] for m in messages if isinstance(m.get("content"), str)]


def _count(parsed: Any) -> int:
    if parsed is None:
        return 0
    return len(parsed) if isinstance(parsed, (dict, list)) else int(bool(parsed))


async def gather_all(fn: Callable[[X], Awaitable[T]], items: Sequence[X]) -> list[T]:
    """``fn`` over ``items`` concurrently; the first exception cancels the others (no orphans
    left calling a server after the run has stopped)."""
    tasks = [asyncio.ensure_future(fn(x)) for x in items]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def first_then_rest(fn: Callable[[X], Awaitable[T]], items: Sequence[X]) -> list[T]:
    """The first item alone, then the rest concurrently: a bad API key or an unknown model
    costs one request, not one per concurrent slot."""
    if not items:
        return []
    first = await fn(items[0])
    return [first, *await gather_all(fn, items[1:])]
