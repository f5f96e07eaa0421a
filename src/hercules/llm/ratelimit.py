"""A rate limit on LLM calls: requests per minute and tokens per minute, as two token buckets.

Every call of a labeler goes through one :class:`RateLimiter` before it is sent (the labeler
holds one for all its levels). It is not tied to an event loop (each level runs its own loop)
and is thread-safe. Calls are made from the fitting process with either engine, so one limiter
there is the limit of the whole run, however many Ray workers embed.

A call reserves one request and its estimated prompt tokens; the completion tokens are charged
when the answer arrives. Buckets hold one second's worth, so calls are paced evenly rather than
sent in a burst at the start of each minute; a reservation larger than that simply waits longer.
"""

from __future__ import annotations

import asyncio
import threading
import time


class RateLimiter:
    """``requests_per_minute`` and/or ``tokens_per_minute`` (None: no limit on that one)."""

    def __init__(self, requests_per_minute: float | None = None, tokens_per_minute: float | None = None) -> None:
        for name, v in (("requests_per_minute", requests_per_minute), ("tokens_per_minute", tokens_per_minute)):
            if v is not None and v <= 0:
                raise ValueError(f"{name} must be positive, got {v}")
        self.rates = [r / 60.0 if r else None for r in (requests_per_minute, tokens_per_minute)]  # per second
        self._level = [r if r else 0.0 for r in self.rates]  # one second's worth to start
        self._t = time.monotonic()
        self._lock = threading.Lock()
        self.waited_s = 0.0

    @property
    def active(self) -> bool:
        return any(self.rates)

    def _refill(self) -> None:
        now = time.monotonic()
        dt, self._t = now - self._t, now
        for i, rate in enumerate(self.rates):
            if rate:
                self._level[i] = min(rate, self._level[i] + dt * rate)

    def reserve(self, requests: float = 1.0, tokens: float = 0.0) -> float:
        """Take ``requests`` and ``tokens`` now (buckets may go negative); seconds to wait before sending."""
        with self._lock:
            self._refill()
            wait = 0.0
            for i, amount in enumerate((requests, tokens)):
                rate = self.rates[i]
                if rate:  # a bucket in debt holds every call back, whatever it asks for
                    self._level[i] -= amount
                    wait = max(wait, -self._level[i] / rate)
            self.waited_s += wait
            return wait

    def charge(self, tokens: float) -> None:
        """Tokens known only after the call (the completion)."""
        if self.rates[1] and tokens:
            with self._lock:
                self._refill()
                self._level[1] -= tokens

    async def acquire(self, tokens: float = 0.0) -> None:
        wait = self.reserve(1.0, tokens)
        if wait > 0:
            await asyncio.sleep(wait)

    def acquire_sync(self, tokens: float = 0.0) -> None:
        wait = self.reserve(1.0, tokens)
        if wait > 0:
            time.sleep(wait)
