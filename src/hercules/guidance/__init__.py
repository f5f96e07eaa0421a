"""Guidance by a judge (ClusterLLM): triplet answers reshape the level-0 vectors, pair answers choose k.

See :mod:`hercules.guidance.stage` for the method and the reliability guard.
"""

from hercules.guidance.judge import Judge, LabelJudge, label_judge, parse_guide
from hercules.guidance.llm_judge import LLMJudge, estimate_tokens
from hercules.guidance.stage import Guide, GuideConfig

__all__ = ["Guide", "GuideConfig", "Judge", "LLMJudge", "LabelJudge", "estimate_tokens", "label_judge", "parse_guide"]
