"""Which triplets to ask (anchors on the clusters' borders, as in ClusterLLM) and the guard's control triplets.

A rough k-means of the current vectors gives every item a soft assignment over its ``top``
nearest clusters (Student-t kernel, as in DEC / ClusterLLM). The anchors worth asking about are
the items on a border: the two candidates are central members of the anchor's two nearest
clusters, so the answer says on which side of that border the anchor belongs.

Two ways to say "on a border": *entropy* over the ``top`` nearest clusters (ClusterLLM's) also picks items
lost among several clusters, which sample the judge's perspective broadly; *margin* (the second-nearest
cluster's probability over the nearest's, 1 = exactly between the two: margin sampling in active learning)
picks items on one border, whose true cluster is more often one of the two asked about (a label judge answered
29% of HWU64's entropy questions, 46% by margin). Every round picks by margin unless ``GuideConfig.select`` says
otherwise (entropy, margin and entropy-then-margin end to end: ``benchmarks/out/guidance_select.md``, session 13;
margin best on Banking77 and HWU64, the three within noise of each other on a synthetic set where the judge's sense
is not the embedding's).

Control triplets are the opposite: an anchor, its nearest neighbour and a far item; any sensible sense of
"closer" agrees with the embedding there, so a judge's agreement with it estimates the judge's accuracy
(whatever perspective the judge takes).

Candidate order is shuffled (seeded) so a judge that always answers "the first" scores chance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hercules.clustering.kmeans import kmeans, row_norms_sq


@dataclass(frozen=True)
class SoftAssignment:
    """Each item's ``top`` nearest clusters (nearest first), their probabilities and the entropy."""

    labels: np.ndarray  # (n,) hard cluster
    nearest: np.ndarray  # (n, top) cluster ids
    prob: np.ndarray  # (n, top)
    entropy: np.ndarray  # (n,)
    dist: np.ndarray  # (n,) squared distance to own centroid

    @property
    def margin(self) -> np.ndarray:
        """The second-nearest cluster's probability over the nearest's: 1 on the border between them, 0 deep inside."""
        if self.prob.shape[1] < 2:
            return np.zeros(len(self.prob))
        return self.prob[:, 1] / self.prob[:, 0]


def soft_assign(X: np.ndarray, k: int, rng: np.random.Generator, top: int = 5) -> SoftAssignment:
    """Rough k-means, then a Student-t soft assignment over the ``top`` nearest centroids."""
    km = kmeans(X, k, random_state=rng, max_iter=15, max_points_per_centroid=128)
    C = km.centroids
    D = row_norms_sq(X)[:, None] - 2.0 * (X @ C.T) + row_norms_sq(C)[None, :]
    np.maximum(D, 0.0, out=D)
    top = min(top, k)
    nearest = np.argpartition(D, top - 1, axis=1)[:, :top]
    d = np.take_along_axis(D, nearest, axis=1)
    order = np.argsort(d, axis=1)
    nearest, d = np.take_along_axis(nearest, order, axis=1), np.take_along_axis(d, order, axis=1)
    scale = float(np.median(d[:, 0])) or 1.0  # distances in units of a typical item-centroid distance
    q = 1.0 / (1.0 + d / scale)
    p = q / q.sum(axis=1, keepdims=True)
    entropy = -(p * np.log(np.maximum(p, 1e-12))).sum(axis=1)
    return SoftAssignment(nearest[:, 0].astype(np.int64), nearest, p, entropy, d[:, 0])


def _central_members(sa: SoftAssignment, k: int, fraction: float = 0.5) -> list[np.ndarray]:
    """Per cluster, its members closer to the centroid than the cluster's median (at least one)."""
    order = np.lexsort((sa.dist, sa.labels))
    bounds = np.searchsorted(sa.labels[order], np.arange(k + 1))
    out = []
    for j in range(k):
        members = order[bounds[j] : bounds[j + 1]]
        out.append(members[: max(1, int(np.ceil(len(members) * fraction)))])
    return out


def _pick(pools: list[np.ndarray], clusters: np.ndarray, rng: np.random.Generator, avoid: np.ndarray) -> np.ndarray:
    """One random member of each requested cluster's pool, never the item in ``avoid``."""
    out = np.empty(len(clusters), dtype=np.int64)
    for i, (j, a) in enumerate(zip(clusters, avoid)):
        pool = pools[j]
        choice = pool[rng.integers(len(pool))]
        if choice == a and len(pool) > 1:
            choice = pool[(np.flatnonzero(pool == a)[0] + 1) % len(pool)]
        out[i] = choice
    return out


def _shuffle(a: np.ndarray, b: np.ndarray, c: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(m, 3) questions with the candidates in random order, and which were swapped."""
    swap = rng.random(len(a)) < 0.5
    first, second = np.where(swap, c, b), np.where(swap, b, c)
    return np.stack([a, first, second], axis=1), swap


@dataclass(frozen=True)
class Triplets:
    """Questions (m, 3) and ``expect``: the index (0/1) of the candidate in the anchor's nearest
    cluster, i.e. what the current embedding answers."""

    questions: np.ndarray
    expect: np.ndarray


def _nearest_member(X: np.ndarray, pools: list[np.ndarray], clusters: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """For each anchor, the member of the given cluster nearest to it (never the anchor itself)."""
    out = np.empty(len(anchors), dtype=np.int64)
    for i, (j, a) in enumerate(zip(clusters, anchors)):
        pool = pools[j][pools[j] != a]
        pool = pools[j] if len(pool) == 0 else pool
        out[i] = pool[np.argmax(X[pool] @ X[a])] if len(pool) > 1 else pool[0]
    return out


BORDER_SCORES = ("margin", "entropy", "both")


def border_triplets(
    sa: SoftAssignment,
    n_questions: int,
    rng: np.random.Generator,
    exclude: np.ndarray | None = None,
    X: np.ndarray | None = None,
    by: str = "margin",
) -> Triplets:
    """The ``n_questions`` anchors most on a border (``by`` margin or entropy; not in ``exclude``), each against its
    two nearest clusters.

    With ``X``, each candidate is the anchor's nearest neighbour in that cluster; without, a random central member.
    """
    if by not in BORDER_SCORES:
        raise ValueError(f"anchors are chosen by one of {BORDER_SCORES}, got {by!r}")
    k = int(sa.nearest.max()) + 1
    order = _anchor_order(sa, by)
    if exclude is not None and len(exclude):
        order = order[~np.isin(order, exclude)]
    anchors = order[:n_questions]
    if X is not None:
        pools = _central_members(sa, k, fraction=1.0)
        b = _nearest_member(X, pools, sa.nearest[anchors, 0], anchors)
        c = _nearest_member(X, pools, sa.nearest[anchors, 1], anchors)
    else:
        pools = _central_members(sa, k)
        b = _pick(pools, sa.nearest[anchors, 0], rng, anchors)
        c = _pick(pools, sa.nearest[anchors, 1], rng, anchors)
    questions, swap = _shuffle(anchors, b, c, rng)
    return Triplets(questions, swap.astype(np.int8))


def _anchor_order(sa: SoftAssignment, by: str) -> np.ndarray:
    """Items, best anchor first: by margin, by entropy, or "both" (the two rankings taken in turn, each item once)."""
    if by != "both":
        return np.argsort(-(sa.margin if by == "margin" else sa.entropy), kind="stable")
    turns = np.stack([_anchor_order(sa, "margin"), _anchor_order(sa, "entropy")], axis=1).ravel()
    _, first = np.unique(turns, return_index=True)
    return turns[np.sort(first)]


def control_triplets(X: np.ndarray, n_questions: int, rng: np.random.Generator) -> Triplets:
    """Triplets any sensible perspective answers like the embedding: a random anchor, its nearest
    neighbour, and an item from the far half of its distances."""
    n = len(X)
    anchors = rng.choice(n, size=min(n_questions, n), replace=False)
    D = row_norms_sq(X)[None, :] - 2.0 * (X[anchors] @ X.T)
    D[np.arange(len(anchors)), anchors] = np.inf
    b = D.argmin(axis=1)
    D[np.arange(len(anchors)), anchors] = -np.inf
    far = np.argsort(D, axis=1)[:, n // 2 :]
    c = far[np.arange(len(anchors)), rng.integers(0, far.shape[1], len(anchors))]
    questions, swap = _shuffle(anchors, b, c, rng)
    return Triplets(questions, swap.astype(np.int8))


def oriented(questions: np.ndarray, answers: np.ndarray) -> np.ndarray:
    """(m', 3) rows ``(anchor, closer, farther)`` of the answered triplets."""
    ok = answers >= 0
    q, a = questions[ok], answers[ok].astype(bool)
    closer = np.where(a, q[:, 2], q[:, 1])
    farther = np.where(a, q[:, 1], q[:, 2])
    return np.stack([q[:, 0], closer, farther], axis=1)
