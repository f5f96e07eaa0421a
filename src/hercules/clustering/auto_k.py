"""Choose k for one level without O(n^2) work, and decide when the hierarchy stops.

pyhercules scans k = 2..15 with a full silhouette (181 s and 1.65 GB at 16k
items) and always ends with 2 top clusters. Here:

* **Candidates**: ~10 values on a geometric grid between 2 and
  ``min(max_k, n // min_branching, 4 * sqrt(n))``; every parent must have at
  least ``min_branching`` children on average, or the level explains nothing.
* **Fit**: each candidate runs k-means on a sample of at most ``fit_sample``
  (weighted) points, so a candidate costs O(sample * k * d).
* **Score**: silhouette on a random subsample of at most ``score_sample``
  points (O(s^2 d), independent of n), averaged over the subsample.
* **Pick**: the largest k whose score is within ``tolerance`` of the best.
  Silhouette curves of text embeddings are flat and noisy; among near-ties
  the finer partition keeps more information for the levels above.
* **Stop**: the hierarchy stops once a level has at most ``top_max`` clusters
  (a readable top level), or when fewer than ``2 * min_branching`` nodes remain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hercules.clustering.kmeans import assign, kmeans


@dataclass(frozen=True)
class AutoKConfig:
    """Parameters of the automatic choice of k (see module docstring)."""

    max_k: int = 1000
    min_branching: int = 3
    top_max: int = 8
    n_candidates: int = 10
    fit_sample: int = 20_000
    score_sample: int = 3_000
    tolerance: float = 0.01


@dataclass
class AutoKResult:
    k: int
    candidates: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)


def should_stop(n_nodes: int, cfg: AutoKConfig) -> bool:
    """True when a level of ``n_nodes`` clusters is a fine top level."""
    return n_nodes <= cfg.top_max or n_nodes < 2 * cfg.min_branching


def candidate_ks(n: int, cfg: AutoKConfig) -> list[int]:
    hi = min(cfg.max_k, n // cfg.min_branching, int(4 * math.sqrt(n)))
    hi = max(hi, 2)
    grid = np.unique(np.round(np.geomspace(2, hi, num=cfg.n_candidates)).astype(int))
    return [int(k) for k in grid if 2 <= k < n]


def sampled_silhouette(X: np.ndarray, labels: np.ndarray, k: int, rng: np.random.Generator, sample: int) -> float:
    """Mean silhouette of a random subsample of points (Euclidean), in O(sample^2 d)."""
    n = X.shape[0]
    idx = rng.choice(n, size=sample, replace=False) if n > sample else np.arange(n)
    Xs, ls = X[idx].astype(np.float64), labels[idx]
    sq = np.einsum("ij,ij->i", Xs, Xs)
    D = np.sqrt(np.maximum(sq[:, None] - 2 * Xs @ Xs.T + sq[None, :], 0.0))
    onehot = np.zeros((len(idx), k))
    onehot[np.arange(len(idx)), ls] = 1.0
    sums = D @ onehot  # (s, k) distance sums to each cluster
    counts = onehot.sum(axis=0)
    own = counts[ls]
    a = sums[np.arange(len(idx)), ls] / np.maximum(own - 1, 1)
    other = np.where(onehot > 0, np.inf, sums / np.maximum(counts, 1)[None, :])
    other[:, counts == 0] = np.inf
    b = other.min(axis=1)
    s = (b - a) / np.maximum(np.maximum(a, b), 1e-12)
    s[own <= 1] = 0.0  # sklearn's convention for singletons
    return float(s.mean())


def choose_k(
    X: np.ndarray,
    cfg: AutoKConfig,
    *,
    sample_weight: np.ndarray | None = None,
    random_state: int | np.random.Generator | None = 0,
) -> AutoKResult:
    """Pick k for the rows of ``X`` (see module docstring)."""
    rng = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
    n = X.shape[0]
    cands = candidate_ks(n, cfg)
    if not cands:
        return AutoKResult(k=1)
    if n > cfg.fit_sample:
        fit_idx = rng.choice(n, size=cfg.fit_sample, replace=False)
        Xf = X[fit_idx]
        wf = None if sample_weight is None else sample_weight[fit_idx]
    else:
        Xf, wf = X, sample_weight
    scores = []
    for k in cands:
        res = kmeans(Xf, k, sample_weight=wf, random_state=rng, max_iter=30, n_init=1)
        labels = res.labels if Xf is X else assign(Xf, res.centroids)[0]
        scores.append(sampled_silhouette(Xf, labels, k, rng, cfg.score_sample))
    best = max(scores)
    ok = [k for k, s in zip(cands, scores) if s >= best - cfg.tolerance]
    return AutoKResult(k=max(ok), candidates=cands, scores=scores)
