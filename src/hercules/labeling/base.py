"""What a labeler receives and returns; the LLM labeler plugs in behind the same interface."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from hercules.data.dataset import Dataset


@dataclass
class ClusterLabel:
    """A cluster's human-readable name. ``source`` says who wrote it (keywords, llm, ...)."""

    title: str
    description: str
    keywords: list[str] = field(default_factory=list)
    source: str = "keywords"


@dataclass
class LevelContext:
    """Everything a labeler may use to name the clusters of one level."""

    level: int
    dataset: Dataset
    item_labels: np.ndarray  # (n_items,) cluster index at this level for every item
    n_clusters: int
    item_vectors: np.ndarray | None  # (n_items, d) L0 representations, for representative samples
    centroids: np.ndarray | None  # (k, d) cluster vectors in the same space
    child_labels: list[ClusterLabel] | None = None  # labels of level-1 clusters (level >= 2)
    child_parent: np.ndarray | None = None  # (n_children,) parent index of each child
    topic_seed: str | None = None


class Labeler(Protocol):
    """Names every cluster of a level. Must return exactly ``ctx.n_clusters`` labels."""

    def label_level(self, ctx: LevelContext) -> list[ClusterLabel]: ...


def representative_items(ctx: LevelContext, n: int = 3) -> list[np.ndarray]:
    """Indices of the ``n`` items closest to their cluster's centroid, per cluster.

    One chunked O(n_items * d) pass for the distances, then a single sort by
    (cluster, distance); no per-cluster copies of member vectors.
    """
    labels = ctx.item_labels
    dist = np.zeros(len(labels), dtype=np.float32)
    if ctx.item_vectors is not None and ctx.centroids is not None:
        step = 65_536
        for s in range(0, len(labels), step):
            diff = ctx.item_vectors[s : s + step] - ctx.centroids[labels[s : s + step]]
            dist[s : s + step] = np.einsum("ij,ij->i", diff, diff)
    order = np.lexsort((dist, labels))
    starts = np.searchsorted(labels[order], np.arange(ctx.n_clusters + 1))
    return [order[starts[j] : min(starts[j] + n, starts[j + 1])] for j in range(ctx.n_clusters)]
