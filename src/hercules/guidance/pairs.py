"""Stage 2, granularity: choose k from a judge's answers to pair questions (ClusterLLM's
hierarchical sampling).

1. A fine k-means partition of the level's nodes into ``k_hi`` clusters (size-weighted).
2. Ward merges of those clusters (size-weighted), down to ``k_lo``: merge ``s`` takes the
   partition from ``k_hi - s`` to ``k_hi - s - 1`` clusters.
3. For every merge, pairs of items, one from each side, are asked "same category?".
4. The partition at ``k`` has made the first ``k_hi - k`` merges: a "yes" on a made merge and a
   "no" on a merge not made agree with it. The chosen k has the most agreement (O(k_hi) with
   cumulative sums).

A judge no better than a coin gives a flat agreement curve: when the best agreement is not
significantly above one half, the choice is refused (``None``) and the caller keeps its own k.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hercules.clustering.kmeans import kmeans


@dataclass
class KChoice:
    k: int | None  # None: the answers do not support any k (judge near chance)
    ks: list[int] = field(default_factory=list)
    agreement: list[float] = field(default_factory=list)
    pairs: int = 0
    answered: int = 0


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


def merge_pairs(fine: np.ndarray, merges: list[tuple[int, int]], per_merge: int, rng: np.random.Generator) -> np.ndarray:
    """(m, 3) rows ``(merge step, item, item)``: items drawn from the two sides of each merge."""
    k = int(fine.max()) + 1
    order = np.argsort(fine, kind="stable")
    bounds = np.searchsorted(fine[order], np.arange(k + 1))
    groups = [order[bounds[j] : bounds[j + 1]] for j in range(k)]  # items of each (growing) merged cluster
    rows = []
    for s, (i, j) in enumerate(merges):
        a = rng.choice(groups[i], size=per_merge)
        b = rng.choice(groups[j], size=per_merge)
        rows.append(np.stack([np.full(per_merge, s), a, b], axis=1))
        groups[i] = np.concatenate([groups[i], groups[j]])
    return np.concatenate(rows) if rows else np.zeros((0, 3), dtype=np.int64)


def agreement_curve(k_hi: int, steps: np.ndarray, answers: np.ndarray, n_merges: int) -> tuple[np.ndarray, np.ndarray]:
    """(ks, agreement) for k = k_hi .. k_hi - n_merges, from answered pairs of each merge step."""
    ok = answers >= 0
    yes = np.bincount(steps[ok], weights=answers[ok] == 1, minlength=n_merges)
    no = np.bincount(steps[ok], weights=answers[ok] == 0, minlength=n_merges)
    made_yes = np.concatenate([[0.0], np.cumsum(yes)])  # merges 0..m-1 made at k = k_hi - m
    unmade_no = no.sum() - np.concatenate([[0.0], np.cumsum(no)])
    total = max(float(ok.sum()), 1.0)
    ks = k_hi - np.arange(n_merges + 1)
    return ks, (made_yes + unmade_no) / total


def choose_k_by_pairs(
    X: np.ndarray,
    judge_pairs: object,
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
    if k_hi <= k_lo or n_pairs < 1:
        return KChoice(None)
    km = kmeans(X, k_hi, sample_weight=None if sizes is None else sizes.astype(np.float64), random_state=rng)
    csize = np.bincount(km.labels, weights=sizes, minlength=k_hi) if sizes is not None else np.bincount(km.labels, minlength=k_hi)
    merges = ward_merges(km.centroids, np.maximum(csize, 1), k_lo)
    fine = km.labels if item_node is None else km.labels[item_node]
    per_merge = max(1, n_pairs // len(merges))
    rows = merge_pairs(fine, merges, per_merge, rng)
    answers = np.asarray(judge_pairs(rows[:, 1:]), dtype=np.int8)  # type: ignore[operator]
    ks, agree = agreement_curve(k_hi, rows[:, 0], answers, len(merges))
    answered = int((answers >= 0).sum())
    best = int(np.argmax(agree))
    choice = KChoice(int(ks[best]), ks.tolist()[::-1], agree.round(4).tolist()[::-1], len(rows), answered)
    if answered == 0 or agree[best] - 0.5 <= z * 0.5 / np.sqrt(answered):
        choice.k = None  # no better than a coin
    return choice
