"""Weighted k-means of a few nodes, polished: Hartigan's exact single-point moves.

Lloyd's iterations (:mod:`hercules.clustering.kmeans`) stop where every point is nearest its own centroid; Hartigan's
rule moves a point whenever the move itself lowers the weighted sum of squares, counting that both centroids shift
(move ``i`` of weight ``w`` from ``a`` to ``b`` when ``w W_b / (W_b + w) |x - c_b|^2 < w W_a / (W_a - w) |x - c_a|^2``,
``W`` the groups' total weights). Every Lloyd fixed point it leaves is strictly worse, and its own fixed points are a
subset of Lloyd's (Telgarsky & Vattani 2010, Slonim et al. 2013). One sweep is O(m k d) for m points: meant for the
upper levels of a hierarchy, where the points are a few thousand nodes at most (:data:`MAX_WORK`).
"""

from __future__ import annotations

import numpy as np

from hercules.clustering.kmeans import KMeansResult
from hercules.common.groups import group_sums

#: Largest points x groups (x runs, for a caller polishing several) worth polishing: about 0.3 s per sweep at this size.
MAX_WORK = 4_000_000


def hartigan(
    X: np.ndarray, labels: np.ndarray, k: int, sample_weight: np.ndarray | None = None, max_sweeps: int = 30
) -> KMeansResult:
    """Hartigan's single-point moves from ``labels`` (0..k-1, every group non-empty) until no move lowers the
    weighted sum of squared distances (or ``max_sweeps`` sweeps); never raises it, never empties a group."""
    X64 = np.asarray(X, dtype=np.float64)
    m = len(X64)
    w = np.ones(m) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int32).copy()
    if labels.shape != (m,) or labels.min(initial=0) < 0 or labels.max(initial=0) >= k:
        raise ValueError(f"labels must be {m} values in 0..{k - 1}")
    tot = np.bincount(labels, weights=w, minlength=k)
    if (tot <= 0).any():
        raise ValueError("every group must hold a point of positive weight")
    C = group_sums(X64, labels, k, w) / tot[:, None]
    n_sweeps = 0
    for n_sweeps in range(1, max_sweeps + 1):  # noqa: B007 (returned)
        moved = 0
        for i in np.flatnonzero(w > 0):
            a, wi, x = labels[i], w[i], X64[i]
            if tot[a] <= wi:  # alone in its group
                continue
            d = np.einsum("ij,ij->i", C - x, C - x)
            gain_add = wi * tot / (tot + wi) * d
            cost_stay = wi * tot[a] / (tot[a] - wi) * d[a]
            gain_add[a] = np.inf
            b = int(np.argmin(gain_add))
            if gain_add[b] < cost_stay * (1 - 1e-12):
                C[a] = (C[a] * tot[a] - wi * x) / (tot[a] - wi)
                C[b] = (C[b] * tot[b] + wi * x) / (tot[b] + wi)
                tot[a] -= wi
                tot[b] += wi
                labels[i] = b
                moved += 1
        if not moved:
            break
    C = group_sums(X64, labels, k, w) / tot[:, None]
    d2 = np.einsum("ij,ij->i", X64 - C[labels], X64 - C[labels])
    return KMeansResult(labels=labels, centroids=C.astype(np.float32), inertia=float(np.dot(d2, w)), n_iter=n_sweeps)
