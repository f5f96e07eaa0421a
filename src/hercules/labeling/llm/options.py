"""The LLM labeler's options as one validated model, so a typo fails at once with the list of
valid names instead of deep inside ``fit`` (``Hercules(llm_options={"batchsize": 3})``)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hercules.common.retry import RetryPolicy
from hercules.llm.cache import ResponseCache


class LLMLabelerOptions(BaseModel):
    """Everything :class:`~hercules.labeling.llm.LLMLabeler` can be told (``llm_options``)."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    batch_size: int = Field(
        4, ge=1, description="clusters per prompt at most (4: a 1.5B model mixes up fewer clusters than at 8)"
    )
    concurrency: int | None = Field(None, ge=1, description="prompts in flight (default: the provider's)")
    samples: int = Field(5, ge=1, description="representative items shown per cluster")
    sample_strategy: Literal["centroid_closest", "random", "diverse"] = "centroid_closest"
    sample_chars: int = Field(160, ge=20, description="characters kept of each representative item")
    child_samples: int = Field(6, ge=0, description="subcluster titles shown per parent cluster")
    retries: int = Field(4, ge=0, description="retries of one prompt after a timeout, 5xx, 429 or empty answer")
    backoff: float = Field(1.0, ge=0, description="first wait before a retry, in seconds; doubles each time")
    max_wait: float = Field(60.0, gt=0, description="cap on any single wait, a server's Retry-After included")
    timeout: float | None = Field(None, gt=0, description="seconds per call, overriding the provider's options.timeout")
    requests_per_minute: float | None = Field(None, gt=0, description="rate limit on LLM calls of the whole run (None: none)")
    tokens_per_minute: float | None = Field(None, gt=0, description="rate limit on prompt + completion tokens per minute")
    breaker_failures: int = Field(8, ge=1, description="failed calls in a row after which a level stops calling the LLM")
    cache: bool | ResponseCache = Field(True, description="True (default cache), False, or a ResponseCache")
    log_path: str | Path | None = Field(None, description="JSONL file receiving every prompt and answer")
    disambiguate: bool = Field(True, description="ask again for duplicate titles and parents copying a child")
    progress: bool = Field(True, description="a progress bar per level")
    verify: bool = Field(
        True, description="check that each title picks out its own cluster; ask again alone, with contrast, where not"
    )
    anchor: bool = Field(
        True,
        description="ask each first-pass title to contain its cluster's keyword phrase that best picks the cluster out "
        "(the anchor term: see hercules.labeling.llm.anchors; with 3 candidates the best first pass on Banking77 and "
        "HWU64: docs/BENCHMARKS.md, Title quality)",
    )
    anchor_parents: bool = Field(
        True,
        description="ask for the anchor term at parent levels too (a parent's title should cover its subclusters, "
        "one keyword phrase may not)",
    )
    candidates: int = Field(
        3, ge=1, le=5, description="candidate titles per cluster in one answer; the title-shaped one that best identifies it wins"
    )
    description_words: int = Field(
        25,
        ge=5,
        le=80,
        description="words a description may have (asked for, and cut at 8 characters a word by the JSON schema): "
        "decoding is most of the labelling time on a CPU",
    )
    examples: bool = Field(
        False,
        description="show a worked example (another domain's items turned into a name) in the instructions of text "
        "data: the 0.5B then copies items as titles far less often, but its titles identify their clusters less "
        "(off by default: docs/BENCHMARKS.md, Title quality)",
    )
    judge_both_orders: bool = Field(
        True,
        description="guide='llm': ask each triplet in both candidate orders and keep it only when the two answers agree "
        "(small models lean on a position: docs/GUIDANCE.md); False halves the triplet calls",
    )
    repair_titles: int = Field(3, ge=1, le=5, description="candidate titles asked for when a cluster is asked again")
    contrast: int = Field(2, ge=1, le=4, description="confusable clusters shown next to a cluster asked again")
    grouping: Literal["principal", "neighbours"] = Field(
        "principal",
        description="which clusters share a prompt: chunks along the first principal axis, or nearest neighbours by "
        "centroid asked to tell them apart (a 0.5B model gave them all one title: see docs/BENCHMARKS.md, Title quality)",
    )
    repair_limit: float = Field(
        0.1,
        ge=0,
        le=1,
        description="share of a level's clusters asked again at most when their title fails the check (the worst "
        "first); the others keep the better of their LLM and keyword titles",
    )

    @model_validator(mode="before")
    @classmethod
    def _known_names(cls, data: Any) -> Any:
        """Name the unknown option, suggest the close one, list the valid ones."""
        if isinstance(data, Mapping):
            unknown = [k for k in data if k not in cls.model_fields]
            if unknown:
                hints = []
                for k in unknown:
                    close = difflib.get_close_matches(str(k), list(cls.model_fields), n=1)
                    hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
                raise ValueError(f"unknown LLM option {', '.join(hints)}; valid options: {', '.join(cls.model_fields)}")
        return data

    @classmethod
    def parse(cls, options: Mapping[str, Any] | LLMLabelerOptions | None = None, **overrides: Any) -> LLMLabelerOptions:
        """Validated options from a dict (plus overrides); errors become one readable ValueError."""
        base = dict(options) if options is not None else {}
        try:
            return cls.model_validate({**base, **overrides})
        except ValidationError as e:
            parts = []
            for err in e.errors():
                loc = ".".join(str(p) for p in err["loc"])
                parts.append(f"{loc}: {err['msg']}" if loc else err["msg"].removeprefix("Value error, "))
            raise ValueError("invalid LLM options: " + "; ".join(parts)) from None

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(retries=self.retries, backoff=self.backoff, max_wait=self.max_wait)

    def response_cache(self) -> ResponseCache | None:
        if isinstance(self.cache, ResponseCache):
            return self.cache
        return ResponseCache() if self.cache else None
