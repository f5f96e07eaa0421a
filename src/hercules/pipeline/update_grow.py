"""How a hierarchy grows in :mod:`hercules.pipeline.update`: which new items fit no cluster, which
of those form new clusters, where new clusters attach above, and which grown clusters split.

"Fits" is judged per cluster against what its own members show: an item is an outlier of its
nearest level-1 cluster when it is farther from the centroid than the cluster's ``q``-quantile
member distance (from the saved item vectors). A result saved without item vectors falls back
to one global threshold from the spacing of the centroids (:data:`SPACING_FACTOR`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from hercules.clustering.kmeans import TooFewDistinctPointsError, assign, kmeans

log = logging.getLogger(__name__)

#: Without item vectors: squared outlier threshold = this x the median squared distance from a
#: level-1 centroid to its nearest other centroid. On Banking77 (MiniLM or hashed words, 40 to 150
#: clusters) the median cluster's 90th-percentile squared member distance is 1.5-2.4x that
#: spacing; a crude stand-in, which is why the change report says when it was used.
SPACING_FACTOR = 2.0
_CHUNK = 65_536


@dataclass(frozen=True)
class GroupRule:
    """When outliers make a new cluster (see :func:`outlier_groups`)."""

    min_size: int = 10
    tightness: float = 1.25
    separation: float = 0.75
    k: int | None = None


@dataclass(frozen=True)
class Thresholds:
    """Squared-distance outlier thresholds of the clusters of one level, and how they were found."""

    sq: np.ndarray  # (k,) an item (or child node) farther than this from the centroid does not fit
    spread: float  # typical (median) squared member distance: how tight a cluster of this level is
    kind: str  # "per-cluster" or "global"


def group_quantile(values: np.ndarray, groups: np.ndarray, k: int, q: float, min_count: int = 5) -> np.ndarray:
    """The ``q``-quantile (linear interpolation) of ``values`` within each of ``k`` groups; a group
    with fewer than ``min_count`` values gets the median of the others' (too few to say)."""
    counts = np.bincount(groups, minlength=k)
    v = values[np.lexsort((values, groups))].astype(np.float64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = q * np.maximum(counts - 1, 0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(counts - 1, 0))
    out = np.zeros(k, dtype=np.float64)
    ok = counts > 0
    frac = pos[ok] - lo[ok]
    out[ok] = v[starts[ok] + lo[ok]] * (1 - frac) + v[starts[ok] + hi[ok]] * frac
    small = counts < min_count
    if small.any():
        out[small] = np.median(out[~small]) if (~small).any() else (np.quantile(values, q) if len(values) else 0.0)
    return out


def member_distances(E: np.ndarray, labels: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Squared distance of every row of ``E`` to its own centroid (chunked; ``E`` may be float16 or memory-mapped)."""
    out = np.empty(len(labels), dtype=np.float32)
    for s in range(0, len(labels), _CHUNK):
        diff = np.asarray(E[s : s + _CHUNK], dtype=np.float32) - centroids[labels[s : s + _CHUNK]]
        out[s : s + _CHUNK] = np.einsum("ij,ij->i", diff, diff)
    return out


def nearest_spacing(centroids: np.ndarray) -> np.ndarray:
    """Squared distance from each centroid to its nearest other centroid."""
    C = centroids.astype(np.float32)
    if len(C) < 2:
        return np.zeros(len(C), dtype=np.float32)
    sq = np.einsum("ij,ij->i", C, C)
    D = sq[:, None] - 2 * C @ C.T + sq[None, :]
    np.fill_diagonal(D, np.inf)
    return np.maximum(D.min(axis=1), 0.0)


def thresholds(
    vectors: np.ndarray | None, labels: np.ndarray, centroids: np.ndarray, q: float, scale: float, min_count: int = 5
) -> Thresholds:
    """Per-cluster thresholds from the members' own distances, or the global spacing fallback."""
    k = len(centroids)
    if vectors is None:
        spacing = float(np.median(nearest_spacing(centroids)))
        t = SPACING_FACTOR * scale * spacing
        return Thresholds(np.full(k, t), t / SPACING_FACTOR, "global")
    d2 = member_distances(vectors, labels, centroids)
    # a floor far below any real spread: clusters of identical items must not call float noise an outlier
    floor = 1e-4 * float(np.mean(np.einsum("ij,ij->i", centroids, centroids))) + 1e-12
    sq = np.maximum(scale * group_quantile(d2, labels, k, q, min_count), floor)
    spread = float(np.median(group_quantile(d2, labels, k, 0.5, min_count)))
    return Thresholds(sq, spread, "per-cluster")


def _kmeans(
    V: np.ndarray, k: int, rng: np.random.Generator, weights: np.ndarray | None = None, n_init: int | str = "auto"
) -> np.ndarray:
    """k-means labels of ``V``, with fewer clusters when there are not ``k`` distinct points."""
    while True:
        try:
            return kmeans(V, k, sample_weight=weights, random_state=rng, n_init=n_init).labels
        except TooFewDistinctPointsError:
            if k == 1:
                raise
            k = max(1, k // 2)


def _spread(V: np.ndarray) -> float:
    """Median squared distance of the rows of ``V`` to their mean: how tight a group is."""
    return float(np.median(member_distances(V, np.zeros(len(V), dtype=np.int64), V.mean(axis=0, keepdims=True))))


def outlier_groups(
    V: np.ndarray, centroids: np.ndarray, spread: float, opts: GroupRule, rng: np.random.Generator
) -> list[np.ndarray]:
    """Rows of ``V`` (outliers of the clusters with ``centroids``) that form new clusters, largest first.

    A group becomes a new cluster when it looks like the existing ones: at least ``min_size``
    members, as tight (median squared distance to its centre within ``tightness`` x ``spread``, the
    existing clusters' median) and as separate from every existing centroid as those are from
    each other (``separation`` x their median nearest-neighbour spacing). Without a fixed ``k`` the
    outliers are bisected (2-means) until each group passes or is too small to split, so k follows
    the data: a new theme stops splitting once it is a cluster, while the scattered tails of many
    clusters (loose, and centred on existing clusters) are left out. A fixed ``k`` runs k-means once.
    """
    if len(V) < opts.min_size:
        return []
    spacing = float(np.median(nearest_spacing(centroids)))
    C = np.asarray(centroids, dtype=np.float32)

    def passes(g: np.ndarray) -> bool:
        centre = V[g].mean(axis=0, keepdims=True)
        apart = float(assign(centre, C)[1][0]) >= opts.separation * spacing
        return len(g) >= opts.min_size and _spread(V[g]) <= opts.tightness * spread and apart

    if opts.k is not None:
        labels = _kmeans(V, int(np.clip(opts.k, 1, len(V) // opts.min_size)), rng)
        groups = (np.flatnonzero(labels == j) for j in range(int(labels.max()) + 1))
        return sorted((g for g in groups if passes(g)), key=len, reverse=True)
    todo, kept = [np.arange(len(V))], []
    while todo:  # every split makes groups smaller: at most len(V) // min_size splits
        g = todo.pop()
        if passes(g):
            kept.append(g)
        elif len(g) >= 2 * opts.min_size:
            half = _kmeans(V[g], 2, rng, n_init=3)  # a few seedings: a bad split costs a theme, ten cost seconds
            if half.min() != half.max():  # identical points cannot be split: the group is dropped
                todo += [g[half == 0], g[half == 1]]
    return sorted(kept, key=len, reverse=True)


def attach(
    nodes: np.ndarray,
    sizes: np.ndarray,
    parents: np.ndarray,
    limit: Thresholds,
    branching: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, int]:
    """Parent of each new node: the nearest existing parent where the node is within its threshold;
    nodes that fit none are grouped (k-means, about ``branching`` nodes per group, size-weighted)
    into new parents numbered after the existing ones, largest first. Returns (parent per node,
    number of new parents)."""
    if not len(nodes):
        return np.zeros(0, dtype=np.int32), 0
    lab, d2 = assign(np.asarray(nodes, dtype=np.float32), parents)
    unfit = np.flatnonzero(d2 > limit.sq[lab])
    if not len(unfit):
        return lab, 0
    k = max(1, int(round(len(unfit) / max(branching, 1.0))))
    groups = _kmeans(np.asarray(nodes[unfit], dtype=np.float32), k, rng, sizes[unfit].astype(np.float64))
    k = int(groups.max()) + 1
    weight = np.bincount(groups, weights=sizes[unfit], minlength=k)
    rank = np.empty(k, dtype=np.int32)
    rank[np.argsort(-weight, kind="stable")] = np.arange(k, dtype=np.int32)
    lab = lab.copy()
    lab[unfit] = len(parents) + rank[groups]
    return lab, k


def split_grown(
    E: np.ndarray,
    labels: np.ndarray,
    before: np.ndarray,
    growth: float,
    max_splits: int,
    min_size: int,
    next_index: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Split (2-means) at most ``max_splits`` clusters whose size reached ``growth`` x ``before``,
    most grown first. The larger half keeps the old index; the smaller becomes a new cluster
    numbered from ``next_index`` (skipped if under ``min_size``). Returns (labels, [(old, new)])."""
    k = len(before)
    now = np.bincount(labels, minlength=k)[:k]
    ratio = now / np.maximum(before, 1)
    grown = np.flatnonzero((ratio >= growth) & (now >= 2 * min_size))
    grown = grown[np.argsort(-ratio[grown], kind="stable")][:max_splits]
    labels = labels.copy()
    pairs: list[tuple[int, int]] = []
    nxt = next_index
    for j in grown.tolist():  # at most max_splits clusters
        members = np.flatnonzero(labels == j)
        half = _kmeans(np.asarray(E[members], dtype=np.float32), 2, rng)
        small = int(np.argmin(np.bincount(half, minlength=2)))
        moved = members[half == small]
        if len(moved) < min_size:
            continue
        labels[moved] = nxt
        pairs.append((j, nxt))
        nxt += 1
    return labels, pairs
