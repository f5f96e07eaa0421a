"""Clustering stage: fast k-means, resampling refinement, automatic k."""

from hercules.clustering.auto_k import AutoKConfig, choose_k
from hercules.clustering.kmeans import KMeansResult, TooFewDistinctPointsError, assign, kmeans, resample_refine

__all__ = ["AutoKConfig", "KMeansResult", "TooFewDistinctPointsError", "assign", "choose_k", "kmeans", "resample_refine"]
