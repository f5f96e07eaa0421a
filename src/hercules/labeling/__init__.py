"""Summarisation stage: give every cluster a title and description."""

from hercules.labeling.base import ClusterLabel, Labeler, LevelContext, LevelLabels, representative_items
from hercules.labeling.keywords import KeywordLabeler, level0_labels, snippet

__all__ = [
    "ClusterLabel",
    "KeywordLabeler",
    "Labeler",
    "LevelContext",
    "LevelLabels",
    "level0_labels",
    "representative_items",
    "snippet",
]
