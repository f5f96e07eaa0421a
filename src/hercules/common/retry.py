"""One retry policy for every remote call (LLM labelling, captioning, judging).

Exponential backoff with jitter; a server's ``Retry-After`` is honoured but capped, so a
``Retry-After: 3600`` cannot stall a run for an hour.
"""

from __future__ import annotations

import random

from pydantic import BaseModel, Field


class RetryPolicy(BaseModel):
    """How often and how long to wait before calling again."""

    retries: int = Field(3, ge=0, description="retries after the first attempt")
    backoff: float = Field(1.0, ge=0, description="first wait in seconds; doubles each attempt")
    max_wait: float = Field(60.0, gt=0, description="cap on any single wait, Retry-After included")

    def delay(self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 0)."""
        if retry_after is not None and retry_after >= 0:
            return min(float(retry_after), self.max_wait)
        jitter = 0.5 + (rng or random).random()
        return min(self.backoff * (2**attempt) * jitter, self.max_wait)
