"""What a labeler receives and returns; the LLM labeler plugs in behind the same interface."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from hercules.data.dataset import Dataset
from hercules.hierarchy.tree import ClusterLabel


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
    # (texts, progress description) -> (n, d) vectors in the same space as item_vectors, so a
    # labeler can check that each title picks out its own cluster; None where no such space exists
    embed_texts: Callable[[list[str], str], np.ndarray] | None = None
    # (m, per cluster its up to m items closest to the centroid, closest first), computed where the vectors are
    # (the Ray engine, over the vector blocks); representative_items uses it for "centroid_closest" when n <= m
    closest: tuple[int, list[np.ndarray]] | None = None
    # () -> (clusters x terms counts, terms) of the keyword titles' vocabulary (hercules.labeling.keywords.term_counter),
    # computed where the texts are (the Ray engine, over the text blocks), or None: the labeler counts the texts itself
    term_counts: Callable[[], tuple[Any, np.ndarray] | None] | None = None


@dataclass
class LevelLabels:
    """What a labeler returns for one level: one label per cluster, plus its own accounting
    (LLM calls, tokens, retries...) for that level only, so nothing accumulates on the labeler."""

    labels: list[ClusterLabel]
    stats: dict[str, Any] | None = None


class Labeler(Protocol):
    """Names every cluster of a level. Must return exactly ``ctx.n_clusters`` labels
    (a :class:`LevelLabels`; a plain list of labels is accepted from third-party labelers)."""

    def label_level(self, ctx: LevelContext) -> LevelLabels | list[ClusterLabel]: ...


def representative_items(
    ctx: LevelContext, n: int = 3, strategy: str = "centroid_closest", random_state: int | None = 0
) -> list[np.ndarray]:
    """Indices of ``n`` representative items per cluster.

    ``centroid_closest``: the items nearest the centroid (one chunked O(n_items * d) pass,
    then one sort by (cluster, distance)); ``random``: a seeded random sample;
    ``diverse``: the closest item, then greedily the member farthest from those chosen
    (farthest-point sampling among the 20 * n closest members), so the samples cover the cluster.
    """
    if strategy not in ("centroid_closest", "random", "diverse"):
        raise ValueError(f"unknown sample strategy {strategy!r}; use centroid_closest, random or diverse")
    if strategy == "random":
        rng = np.random.default_rng(random_state)
        order = np.lexsort((rng.random(len(ctx.item_labels)), ctx.item_labels))
        starts = np.searchsorted(ctx.item_labels[order], np.arange(ctx.n_clusters + 1))
        return [order[starts[j] : min(starts[j] + n, starts[j + 1])] for j in range(ctx.n_clusters)]
    if strategy == "diverse":
        pools = representative_items(ctx, 20 * n)
        if ctx.item_vectors is None:
            return [p[:n] for p in pools]
        out = []
        for pool in pools:
            V = ctx.item_vectors[pool]
            chosen = [0]
            d = np.sum((V - V[0]) ** 2, axis=1)
            while len(chosen) < min(n, len(pool)):
                nxt = int(np.argmax(d))
                chosen.append(nxt)
                d = np.minimum(d, np.sum((V - V[nxt]) ** 2, axis=1))
            out.append(pool[chosen])
        return out
    if ctx.closest is not None and n <= ctx.closest[0]:
        return [r[:n] for r in ctx.closest[1]]
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
