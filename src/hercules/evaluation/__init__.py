"""Evaluation stage: internal, external, hierarchy-aware and label-quality metrics."""

from hercules.evaluation.evaluate import evaluate, evaluate_level, resolve_labels
from hercules.evaluation.metrics import (
    contingency,
    external_metrics,
    hungarian_accuracy,
    internal_metrics,
    pair_agreement,
    sibling_distinctness,
    title_alignment,
)
from hercules.evaluation.titles import identification_unavailable, title_quality, title_space_reason

__all__ = [
    "contingency",
    "evaluate",
    "evaluate_level",
    "external_metrics",
    "hungarian_accuracy",
    "identification_unavailable",
    "internal_metrics",
    "pair_agreement",
    "resolve_labels",
    "sibling_distinctness",
    "title_alignment",
    "title_quality",
    "title_space_reason",
]
