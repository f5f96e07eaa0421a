"""Stage 2, granularity: choose k from a judge's answers to pair questions (ClusterLLM's
hierarchical sampling).

1. A fine size-weighted k-means partition of the level's nodes into ``k_hi`` clusters.
2. Size-weighted Ward merges of those clusters down to ``k_lo``: merge ``s`` takes the partition
   from ``k_hi - s`` to ``k_hi - s - 1`` clusters.
3. For merges, pairs of items, one from each side, are asked "same category?". The items are
   central members of their fine clusters (closer to the fine centroid than its median), so a
   pair speaks for the two sides rather than for their stray members. The budget is spread evenly
   over the *octaves* of k (pairs per merge proportional to 1/k), so coarse granularities, which
   have few merges, get as many answers as fine ones. A second pass spends the other half of the
   budget on the merges within a factor 2 of the first estimate.
4. The judge's "yes" rate falls as merges join more different things; the chosen k is the
   change point of that rate: the cut that best splits the merge sequence into a "same" part
   (merges made) and a "different" part (merges not made), each with its own yes-rate, by
   Bernoulli likelihood (O(k_hi) with cumulative sums). Neither rate is assumed: clusters of
   MiniLM are impure, so even right merges get many "no" answers, and an agreement count
   (yes on made merges + no on the others) stops far too fine.

When the two rates are not significantly different (a coin, or a judge that sees no structure),
the choice is refused (``None``) and the caller keeps its own k.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from hercules.clustering.kmeans import kmeans


@dataclass
class KChoice:
    k: int | None  # None: the answers do not support any k (judge near chance)
    ks: list[int] = field(default_factory=list)
    yes_rate: list[float | None] = field(default_factory=list)  # per k, of the merge from k to k - 1
    pairs: int = 0
    answered: int = 0
    rates: tuple[float, float] = (0.0, 0.0)  # yes-rate of merges made / not made at the chosen k


def ward_merges(centroids: np.ndarray, sizes: np.ndarray, k_lo: int) -> list[tuple[int, int]]:
    """Size-weighted Ward merges of ``k_hi`` clusters down to ``k_lo``: (kept id, absorbed id) per step."""
    C = centroids.astype(np.float64).copy()
    n = sizes.astype(np.float64).copy()
    k = len(C)
    sq = (C * C).sum(1)
    D = sq[:, None] - 2 * C @ C.T + sq[None, :]
    cost = (n[:, None] * n[None, :]) / (n[:, None] + n[None, :]) * np.maximum(D, 0)
    np.fill_diagonal(cost, np.inf)
    alive = np.ones(k, dtype=bool)
    merges = []
    for _ in range(k - k_lo):
        flat = int(np.argmin(cost))
        i, j = divmod(flat, k)
        merges.append((i, j))
        C[i] = (n[i] * C[i] + n[j] * C[j]) / (n[i] + n[j])
        n[i] += n[j]
        alive[j] = False
        cost[j, :] = cost[:, j] = np.inf
        d = ((C - C[i]) ** 2).sum(1)
        row = (n * n[i]) / (n + n[i]) * d
        row[~alive] = np.inf
        row[i] = np.inf
        cost[i, :] = cost[:, i] = row
    return merges


def allocate(ks: np.ndarray, budget: int, rng: np.random.Generator, mask: np.ndarray | None = None) -> np.ndarray:
    """Pairs per merge, proportional to 1/k (the same budget for every octave of k), rounded at random."""
    w = 1.0 / ks.astype(np.float64)
    if mask is not None:
        w = w * mask
    expected = budget * w / w.sum()
    counts = np.floor(expected).astype(np.int64)
    return counts + (rng.random(len(ks)) < expected - counts)


def merge_pairs(fine: np.ndarray, merges: list[tuple[int, int]], counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(m, 3) rows ``(merge step, item, item)``: ``counts[s]`` item pairs across the two sides of merge ``s``.

    ``fine``: each item's fine cluster; items labelled ``k_hi`` (no cluster) are never drawn."""
    k = int(fine.max()) + 1
    order = np.argsort(fine, kind="stable")
    bounds = np.searchsorted(fine[order], np.arange(k + 1))
    groups = [order[bounds[j] : bounds[j + 1]] for j in range(k)]  # items of each (growing) merged cluster
    rows = [np.zeros((0, 3), dtype=np.int64)]
    for s, (i, j) in enumerate(merges):
        c = int(counts[s])
        if c and len(groups[i]) and len(groups[j]):
            rows.append(np.stack([np.full(c, s), rng.choice(groups[i], size=c), rng.choice(groups[j], size=c)], axis=1))
        groups[i] = np.concatenate([groups[i], groups[j]])
    return np.concatenate(rows)


def change_point(steps: np.ndarray, answers: np.ndarray, n_merges: int) -> tuple[int, float, float, float]:
    """(cut c: merges 0..c-1 made, yes-rate before, after, z of their difference) by Bernoulli likelihood."""
    ok = answers >= 0
    yes = np.bincount(steps[ok], weights=answers[ok] == 1, minlength=n_merges)
    cnt = np.bincount(steps[ok], minlength=n_merges).astype(np.float64)
    Y1, N1 = np.concatenate([[0.0], np.cumsum(yes)]), np.concatenate([[0.0], np.cumsum(cnt)])
    Y2, N2 = Y1[-1] - Y1, N1[-1] - N1
    p1, p2 = Y1 / np.maximum(N1, 1), Y2 / np.maximum(N2, 1)

    def loglik(Y: np.ndarray, N: np.ndarray, p: np.ndarray) -> np.ndarray:
        q = np.clip(p, 1e-9, 1 - 1e-9)
        return Y * np.log(q) + (N - Y) * np.log(1 - q)

    L = loglik(Y1, N1, p1) + loglik(Y2, N2, p2)
    L[(p1 <= p2) | (N1 == 0) | (N2 == 0)] = -np.inf
    if not np.isfinite(L).any():
        return 0, 0.0, 0.0, 0.0
    c = int(np.argmax(L))
    pooled = Y1[-1] / max(N1[-1], 1.0)
    se = np.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / N1[c] + 1 / N2[c]))
    return c, float(p1[c]), float(p2[c]), float((p1[c] - p2[c]) / se)


def _central(X: np.ndarray, labels: np.ndarray, centroids: np.ndarray, k: int) -> np.ndarray:
    """``labels`` with the members farther from their centroid than their cluster's median set to ``k``."""
    d = ((X - centroids[labels]) ** 2).sum(1)
    order = np.lexsort((d, labels))
    counts = np.bincount(labels, minlength=k)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(labels), dtype=np.int64)
    rank[order] = np.arange(len(labels)) - np.repeat(starts, counts)
    out = labels.copy()
    out[rank >= np.ceil(counts[labels] / 2)] = k
    return out


def choose_k_by_pairs(
    X: np.ndarray,
    judge_pairs: Callable[[np.ndarray], np.ndarray],
    item_node: np.ndarray | None,
    sizes: np.ndarray | None,
    k_range: tuple[int, int],
    n_pairs: int,
    rng: np.random.Generator,
    z: float = 3.0,
) -> KChoice:
    """k for a level whose nodes are ``X`` (see module docstring); ``judge_pairs(questions) -> answers``
    takes item pairs, ``item_node`` maps items to nodes (None: the nodes are the items)."""
    k_lo, k_hi = k_range
    k_hi = min(k_hi, len(X) - 1)
    if k_hi <= k_lo or n_pairs < 2:
        return KChoice(None)
    km = kmeans(X, k_hi, sample_weight=None if sizes is None else sizes.astype(np.float64), random_state=rng)
    csize = np.bincount(km.labels, weights=sizes, minlength=k_hi) if sizes is not None else np.bincount(km.labels, minlength=k_hi)
    merges = ward_merges(km.centroids, np.maximum(csize, 1), k_lo)
    items = X if item_node is None else X[item_node]
    node_of = km.labels if item_node is None else km.labels[item_node]
    fine = _central(items, node_of, km.centroids, k_hi)
    ks = k_hi - np.arange(len(merges))  # k before merge s
    rows = merge_pairs(fine, merges, allocate(ks, n_pairs // 2, rng), rng)
    answers = np.asarray(judge_pairs(rows[:, 1:]), dtype=np.int8)
    c, _, _, _ = change_point(rows[:, 0], answers, len(merges))
    near = ((ks >= (k_hi - c) / 2) & (ks <= 2 * (k_hi - c))).astype(np.float64)
    more = merge_pairs(fine, merges, allocate(ks, n_pairs - n_pairs // 2, rng, near if near.any() else None), rng)
    rows = np.concatenate([rows, more])
    answers = np.concatenate([answers, np.asarray(judge_pairs(more[:, 1:]), dtype=np.int8)])
    c, p_made, p_not, zscore = change_point(rows[:, 0], answers, len(merges))
    ok = answers >= 0
    yes = np.bincount(rows[ok, 0], weights=answers[ok] == 1, minlength=len(merges))
    cnt = np.bincount(rows[ok, 0], minlength=len(merges))
    rate = [None if n == 0 else round(float(y / n), 3) for y, n in zip(yes, cnt)]
    choice = KChoice(int(k_hi - c), ks.tolist(), rate, len(rows), int(ok.sum()), (round(p_made, 4), round(p_not, 4)))
    if choice.answered == 0 or zscore <= z:
        choice.k = None  # the yes-rate does not drop: no better than a coin
    return choice
