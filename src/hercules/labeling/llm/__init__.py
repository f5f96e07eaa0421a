"""LLM-written titles and descriptions (HERCULES Section 3.4, Appendix A), fast and resumable.

Per level, every cluster becomes an evidence block (:mod:`.evidence`); blocks are packed into
prompts under a token budget that binds, the context window minus the answer (:mod:`.batching`);
prompts ask for JSON keyed by cluster id, with a JSON schema where the backend supports it
(:mod:`.prompt`); calls go through one :class:`~hercules.llm.runner.LLMRunner` (cache, bounded
concurrency, timeout, retry policy with capped ``Retry-After``, circuit breaker, prompt log);
duplicate titles and parents copying a child are asked again (:mod:`.disambiguate`); every title is
checked to pick out its own cluster, repaired alone, or replaced by a keyword-made or keyword-qualified
title (:mod:`.verify`, :mod:`.anchors`); a worked example can go in the prompt (:mod:`.examples`). A cluster
without a usable answer keeps its keyword title (``source="keywords"``), never invented text,
and a WARNING says how many did. Every answer is cached by content hash, so a re-run or a
resumed run repeats no call.
"""

from hercules.labeling.llm.batching import Plan
from hercules.labeling.llm.labeler import LLMLabeler
from hercules.labeling.llm.options import LLMLabelerOptions
from hercules.labeling.llm.prompt import extract_json, label_schema, parse_labels

__all__ = ["LLMLabeler", "LLMLabelerOptions", "Plan", "extract_json", "label_schema", "parse_labels"]
