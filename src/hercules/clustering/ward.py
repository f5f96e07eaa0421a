"""Size-weighted Ward agglomeration of a few weighted points (the nodes of a hierarchy's upper levels).

Merging clusters a and b costs ``n_a n_b / (n_a + n_b) ||c_a - c_b||^2`` (the rise in the within-cluster sum of
squares of the items they stand for), so nodes of different sizes merge as their items would. The cost matrix is
kept whole (n^2 floats) with each row's minimum cached: one merge updates one row and column, and only the rows
whose minimum pointed at the merged pair are searched again, so n merges cost O(n^2) in vectorised steps.
"""

from __future__ import annotations

import numpy as np

#: Largest node count :func:`ward` accepts (its cost matrix is n^2 float64: 128 MB at 4,096).
MAX_WARD_NODES = 4096


def _merge_costs(c: np.ndarray, w: np.ndarray, i: int) -> np.ndarray:
    d = np.einsum("ij,ij->i", c - c[i], c - c[i])
    return w[i] * w / (w[i] + w) * d


def ward(X: np.ndarray, k: int, sample_weight: np.ndarray | None = None) -> np.ndarray:
    """Labels 0..k-1 of the rows of ``X`` after merging them, cheapest Ward merge first, into ``k`` clusters."""
    X = np.asarray(X, dtype=np.float64)
    n = len(X)
    if not 1 <= k <= n:
        raise ValueError(f"cannot merge {n} points into {k} clusters")
    if n > MAX_WARD_NODES:
        raise ValueError(f"ward takes at most {MAX_WARD_NODES} points, got {n}")
    c = X.copy()
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64).copy()
    D = np.stack([_merge_costs(c, w, i) for i in range(n)]) if n <= 512 else _cost_matrix(c, w)
    np.fill_diagonal(D, np.inf)
    alive = np.ones(n, dtype=bool)
    best = D.argmin(axis=1)
    best_cost = D[np.arange(n), best]
    owner = np.arange(n)
    for _ in range(n - k):
        i = int(np.argmin(np.where(alive, best_cost, np.inf)))
        j = int(best[i])
        i, j = min(i, j), max(i, j)
        c[i] = (w[i] * c[i] + w[j] * c[j]) / (w[i] + w[j])
        w[i] += w[j]
        alive[j] = False
        owner[owner == j] = i
        D[j, :] = np.inf
        D[:, j] = np.inf
        row = _merge_costs(c, w, i)
        row[~alive] = np.inf
        row[i] = np.inf
        D[i, :] = row
        D[:, i] = row
        best_cost[j] = np.inf
        stale = alive & ((best == i) | (best == j))
        stale[i] = True
        rows = np.flatnonzero(stale)
        best[rows] = D[rows].argmin(axis=1)
        best_cost[rows] = D[rows, best[rows]]
        closer = alive & (row < best_cost)  # rows whose cheapest merge is now the new cluster
        best[closer] = i
        best_cost[closer] = row[closer]
    return np.unique(owner, return_inverse=True)[1].astype(np.int32)


def _cost_matrix(c: np.ndarray, w: np.ndarray) -> np.ndarray:
    sq = np.einsum("ij,ij->i", c, c)
    D = sq[:, None] + sq[None, :] - 2.0 * (c @ c.T)
    np.maximum(D, 0.0, out=D)
    D *= (w[:, None] * w[None, :]) / (w[:, None] + w[None, :])
    return D
