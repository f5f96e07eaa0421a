"""Levels 1..L of an updated hierarchy, bottom-up (see :mod:`hercules.pipeline.update`).

Per level: attach the new nodes of the level below (nearest parent within its threshold, else
new parents), recount sizes, recompute centroids and plot coordinates of the clusters whose
members changed (size-weighted means; untouched clusters keep theirs bit for bit), and name the
new clusters and those whose size changed beyond the threshold. Naming happens before the level
above is attached, so description mode can attach by the embedded new descriptions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hercules.common.groups import group_means, group_sums
from hercules.common.progress import ProgressEvent, emit
from hercules.data.dataset import Dataset
from hercules.hierarchy.tree import ClusterLabel, Hierarchy, Level
from hercules.labeling.base import Labeler, LevelContext
from hercules.pipeline.update_data import relabel
from hercules.pipeline.update_grow import attach, thresholds

if TYPE_CHECKING:
    from hercules.pipeline.update import LevelOne, UpdateConfig, UpdateOptions


@dataclass
class Growth:
    """Everything the level loop reads, and what it records for the change report."""

    dataset: Dataset  # old and new items
    vectors: np.ndarray | None  # (n, d) L0 vectors of every item; None when the result kept none
    coords: np.ndarray  # (n, c) plot coordinates of every item
    labeler: Labeler
    opts: UpdateOptions
    cfg: UpdateConfig
    rng: np.random.Generator
    new: dict[int, np.ndarray] = field(default_factory=dict)  # level -> indices of new clusters
    relabelled: dict[int, np.ndarray] = field(default_factory=dict)  # level -> clusters given new titles
    moved: dict[int, np.ndarray] = field(default_factory=dict)  # level -> bool mask: members changed
    stats: list[dict[str, Any]] = field(default_factory=list)  # the labeler's accounting, per level


def grow_levels(h: Hierarchy, first: LevelOne, g: Growth) -> list[Level]:
    """The updated levels; ``h`` (the original hierarchy) is not modified."""
    levels: list[Level] = []
    item_lab = first.labels
    for t in range(1, h.depth + 1):
        if t == 1:
            parent, centroids = first.labels, first.centroids
        else:
            below = levels[-1]
            forced = {new: old for old, new in first.splits} if t == 2 else {}
            parent, k = _attach_nodes(h, t, below, forced, g)
            item_lab = parent[item_lab]
            centroids = _parent_centroids(h.level(t), parent, k, below, g)
        levels.append(_finish_level(t, h.level(t), parent, centroids, item_lab, levels[-1].labels if levels else None, g))
    return levels


def grow_space_centroids(h: Hierarchy, levels: list[Level], first: LevelOne) -> None:
    """Space centroids of every updated level (levels fitted in a clustering space keep them): level 1's from
    ``first``; above, the size-weighted mean of the children's (what k-means of the nodes left at fit time, as
    every node is the mean of its items in the space); untouched clusters keep theirs bit for bit."""
    levels[0].space_centroids = first.space_centroids
    for t in range(2, len(levels) + 1):
        old, below, level = h.level(t), levels[t - 2], levels[t - 1]
        if old.space_centroids is None or below.space_centroids is None:
            return
        C = np.zeros((level.k, old.space_centroids.shape[1]), dtype=np.float32)
        C[: old.k] = old.space_centroids
        before = np.zeros(level.k, dtype=np.int64)
        before[: old.k] = old.sizes
        touched = np.flatnonzero((np.arange(level.k) >= old.k) | (level.sizes != before))
        if len(touched):
            w = below.sizes.astype(np.float64)
            sums = group_sums(np.asarray(below.space_centroids, dtype=np.float64), level.parent, level.k, w)
            totals = np.bincount(level.parent, weights=w, minlength=level.k)
            C[touched] = (sums[touched] / np.maximum(totals[touched], 1e-12)[:, None]).astype(np.float32)
        level.space_centroids = C


def node_vectors(level: Level, representation: str) -> np.ndarray:
    """What the level above clustered: centroids (direct) or embedded descriptions (description mode)."""
    if representation == "description" and level.description_embeddings is not None:
        return level.description_embeddings
    return level.centroids


def _attach_nodes(h: Hierarchy, t: int, below: Level, forced: dict[int, int], g: Growth) -> tuple[np.ndarray, int]:
    """Parent of every node of level ``t - 1`` (old nodes keep theirs; split halves join their
    twin's parent; other new nodes attach), and the new number of clusters at level ``t``."""
    old, old_below, rep = h.level(t), h.level(t - 1), g.cfg.representation
    limit = thresholds(node_vectors(old_below, rep), old.parent, old.centroids, g.opts.outlier_quantile, g.opts.outlier_scale, 3)
    parent = np.empty(below.k, dtype=np.int32)
    parent[: old_below.k] = old.parent
    for node, twin in forced.items():  # at most max_splits nodes
        parent[node] = old.parent[twin]
    free = np.setdiff1d(np.arange(old_below.k, below.k), np.fromiter(forced, dtype=np.int64, count=len(forced)))
    branching = float(np.median(np.bincount(old.parent, minlength=old.k)))
    lab, n_new = attach(node_vectors(below, rep)[free], below.sizes[free], old.centroids, limit, branching, g.rng)
    parent[free] = lab
    return parent, old.k + n_new


def _parent_centroids(old: Level, parent: np.ndarray, k: int, below: Level, g: Growth) -> np.ndarray:
    """Centroids of level ``t``: unchanged where no child changed, else the (size-)weighted mean of
    the children's vectors, as k-means left them at fit time."""
    centroids = np.zeros((k, old.centroids.shape[1]), dtype=np.float32)
    centroids[: old.k] = old.centroids
    touched = np.unique(parent[g.moved[below.level]])
    if len(touched):
        rep = g.cfg.representation
        weights = below.sizes.astype(np.float64) if (rep == "direct" or g.cfg.weighted) else np.ones(below.k)
        nodes = np.asarray(node_vectors(below, rep), dtype=np.float64)
        sums = group_sums(nodes, parent, k, weights)
        totals = np.bincount(parent, weights=weights, minlength=k)
        centroids[touched] = (sums[touched] / np.maximum(totals[touched], 1e-12)[:, None]).astype(np.float32)
    return centroids


def _grown(old: np.ndarray | None, k: int, fill: float = 0.0) -> np.ndarray | None:
    """A copy of a per-cluster array with rows for the new clusters."""
    if old is None:
        return None
    out = np.full((k, *old.shape[1:]), fill, dtype=np.float32)
    out[: len(old)] = old
    return out


def _finish_level(
    t: int, old: Level, parent: np.ndarray, centroids: np.ndarray, item_lab: np.ndarray, below_labels: Any, g: Growth
) -> Level:
    """Sizes, coordinates and titles of level ``t`` once its membership is known."""
    k = len(centroids)
    sizes = np.bincount(item_lab, minlength=k).astype(np.int64)
    before = np.zeros(k, dtype=np.int64)
    before[: old.k] = old.sizes
    is_new = np.arange(k) >= old.k
    moved = is_new | (sizes != before)
    which = np.flatnonzero(is_new | (np.abs(sizes - before) > g.opts.relabel_threshold * before))
    coords = _grown(old.coords, k)
    if coords is not None and moved.any():
        coords[moved] = group_means(g.coords, item_lab, k)[moved]
    labels = list(old.labels) + [ClusterLabel("(new cluster)", "", source="update") for _ in range(k - old.k)]
    level = Level(t, parent.astype(np.int32), centroids, sizes, labels, old.requested_k, old.auto_k, coords)
    level.description_embeddings = _grown(old.description_embeddings, k)
    emit(g.cfg.on_progress, ProgressEvent("label", t, message=f"level {t}: naming {len(which)} new or changed clusters"))
    level.labels, stats = relabel(g.labeler, _context(t, level, item_lab, below_labels, g), which, labels)
    if stats is not None:
        g.stats.append(dict(stats))
    if level.description_embeddings is not None and len(which) and g.cfg.embed_texts is not None:
        texts = [f"{level.labels[j].title}. {level.labels[j].description}" for j in which.tolist()]
        level.description_embeddings[which] = g.cfg.embed_texts(texts, f"embedding L{t} descriptions")
    g.new[t], g.relabelled[t], g.moved[t] = np.flatnonzero(is_new), which, moved
    emit(g.cfg.on_progress, ProgressEvent("level", t, t, None, f"level {t}: {k - old.k} new clusters"))
    return level


def _context(t: int, level: Level, item_lab: np.ndarray, below_labels: Any, g: Growth) -> LevelContext:
    """What the labeler sees of level ``t`` (as :func:`hercules.pipeline.builder.level_context`, but
    also without item vectors: a result may have been saved without them)."""
    shown = level.centroids if (g.cfg.representation == "direct" or t == 1) else None
    if shown is None and g.vectors is not None:
        shown = group_means(np.asarray(g.vectors, dtype=np.float32), item_lab, level.k)
    return LevelContext(
        level=t,
        dataset=g.dataset,
        item_labels=item_lab,
        n_clusters=level.k,
        item_vectors=g.vectors,
        centroids=shown,
        child_labels=below_labels,
        child_parent=level.parent if t > 1 else None,
        topic_seed=g.cfg.topic_seed,
    )
