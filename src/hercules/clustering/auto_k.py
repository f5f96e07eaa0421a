"""Choose k for one level without O(n^2) work, and decide when the hierarchy stops.

pyhercules scans k = 2..15 with a full silhouette (181 s and 1.65 GB at 16k
items) and always ends with 2 top clusters. Here:

* **Candidates**: ~10 values on a geometric grid between 2 and
  ``min(max_k, n // min_branching, 4 * sqrt(n))``; every parent must have at
  least ``min_branching`` children on average, or the level explains nothing.
* **Fit**: each candidate runs a rough k-means (10 iterations, at most 64
  points per centroid) on a sample of at most ``fit_sample`` (weighted) points,
  so a candidate costs O(min(sample, 64 k) * k * d).
* **Score**: silhouette on a random subsample of at most ``score_sample``
  points (O(s^2 d), independent of n), averaged over the subsample.
* **Refine**: a few more candidates between the grid neighbours of the winner.
* **Pick**: the largest k whose score is within ``tolerance`` of the best.
  Silhouette curves of text embeddings are flat and noisy; among near-ties
  the finer partition keeps more information for the levels above.
* **Stop**: see :class:`hercules.pipeline.policy.LevelPolicy` (at most ``top_max`` clusters
  make a readable top level; fewer than ``2 * min_branching`` nodes cannot branch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hercules.clustering.kmeans import assign, kmeans
from hercules.common.groups import group_sums


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


def candidate_ks(n: int, cfg: AutoKConfig) -> list[int]:
    hi = min(cfg.max_k, n // cfg.min_branching, int(4 * math.sqrt(n)))
    hi = max(hi, 2)
    grid = np.unique(np.round(np.geomspace(2, hi, num=cfg.n_candidates)).astype(int))
    return [int(k) for k in grid if 2 <= k < n]


def pairwise_distances(Xs: np.ndarray) -> np.ndarray:
    """Euclidean distance matrix of a (small) sample, float32."""
    Xs = Xs.astype(np.float32)
    sq = np.einsum("ij,ij->i", Xs, Xs)
    D = sq[:, None] - 2 * (Xs @ Xs.T) + sq[None, :]
    np.maximum(D, 0.0, out=D)
    return np.sqrt(D, out=D)


def silhouette_from_distances(D: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Mean silhouette given the sample's distance matrix: O(s^2) via one sparse aggregation."""
    s = len(labels)
    sums = group_sums(D, labels, k).T.astype(np.float64)  # (s, k) distance sums to each cluster
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    own = counts[labels]
    a = sums[np.arange(s), labels] / np.maximum(own - 1, 1)
    mean_other = sums / np.maximum(counts, 1)[None, :]
    mean_other[np.arange(s), labels] = np.inf
    mean_other[:, counts == 0] = np.inf
    b = mean_other.min(axis=1)
    sil = (b - a) / np.maximum(np.maximum(a, b), 1e-12)
    sil[own <= 1] = 0.0  # sklearn's convention for singletons
    return float(sil.mean())


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
    # One scoring sample and one distance matrix shared by every candidate.
    score_idx = rng.choice(len(Xf), size=cfg.score_sample, replace=False) if len(Xf) > cfg.score_sample else np.arange(len(Xf))
    Xs = Xf[score_idx]
    D = pairwise_distances(Xs)
    scored: dict[int, float] = {}

    def score(ks: list[int]) -> None:
        for k in ks:
            if k in scored:
                continue
            # A rough fit is enough to rank candidates: few iterations, <= 64 points per centroid.
            res = kmeans(Xf, k, sample_weight=wf, random_state=rng, max_iter=10, n_init=1, max_points_per_centroid=64)
            scored[k] = silhouette_from_distances(D, assign(Xs, res.centroids)[0], k)

    def pick() -> int:
        best = max(scored.values())
        return max(k for k, s in scored.items() if s >= best - cfg.tolerance)

    score(cands)
    # Refine between the grid neighbours of the winner (the coarse grid skips most ks).
    k0 = pick()
    i = cands.index(k0)
    lo, hi = cands[max(i - 1, 0)], cands[min(i + 1, len(cands) - 1)]
    if 0 < i < len(cands) - 1 and hi - lo > 2:  # a winner at the cap needs no refining
        score([int(k) for k in np.unique(np.round(np.geomspace(lo, hi, num=6)).astype(int)) if lo < k < hi])
    ks = sorted(scored)
    return AutoKResult(k=pick(), candidates=ks, scores=[scored[k] for k in ks])
