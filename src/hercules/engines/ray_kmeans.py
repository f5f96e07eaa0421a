"""Level-1 k-means over vector blocks in Ray's object store: the same steps as
:func:`hercules.clustering.kmeans.kmeans`, with the two passes over all items distributed.

1. The fit sample (``max_points_per_centroid * k`` rows, drawn with the same generator calls as
   in-process) is gathered from the blocks by Ray tasks; seeding and Lloyd run on the driver
   on that sample, exactly as in-process, so the fitted centroids are the same bits.
2. One Ray task per block assigns its rows to the nearest centroid and returns the labels, the
   squared distances (kept in the object store) and the block's per-centroid sums, counts and
   inertia; a tree of Ray tasks adds those up (8 at a time), so the driver receives one k x d sum.
3. Clusters left empty take the points farthest from their centroid, as in-process: each block
   sends its farthest few, and the driver runs the same re-seeding on that candidate set (more
   candidates are asked for until the choice is provably the one a global scan would make).

Labels differ from in-process only where float summation order flips a near-tie; centroids by
float rounding (per-block float32 sums added in float64).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import ray
from tqdm.auto import tqdm

from hercules.clustering.kmeans import (
    KMeansResult,
    TooFewDistinctPointsError,
    assign,
    fill_empty,
    fit_sample,
    lloyd,
    seed_centroids,
)
from hercules.common.groups import group_sums

log = logging.getLogger(__name__)

_FAN_IN = 8  # partial sums added per reduce task
#: Seconds per phase of the last distributed run (logged; read by benchmarks/bench_ray.py).
last_timings: dict[str, float] = {}


def is_distributed(n: int, k: int, kwargs: dict[str, Any]) -> bool:
    """True when :func:`~hercules.clustering.kmeans.kmeans` would fit on a sample and then assign every
    point once (one seeding, no weights, no warm start): the case worth distributing."""
    mppc = kwargs.get("max_points_per_centroid", 256)
    if kwargs.get("sample_weight") is not None or kwargs.get("init") is not None:
        return False
    if kwargs.get("n_init", "auto") not in ("auto", 1):
        return False
    return mppc is not None and n > mppc * k and n * k > 250_000


@ray.remote
def _take(block: dict[str, np.ndarray], wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pos = np.flatnonzero(np.isin(block["row"], wanted))
    return block["row"][pos], block["vector"][pos]


@ray.remote(num_returns=3)
def _assign_block(block: dict[str, np.ndarray], centroids: np.ndarray) -> tuple[Any, np.ndarray, tuple]:
    X, k = block["vector"], centroids.shape[0]
    labels, dist = assign(X, centroids)
    sums = group_sums(X, labels, k).astype(np.float64)
    stats = (sums, np.bincount(labels, minlength=k), float(dist.astype(np.float64).sum()))
    return {"row": block["row"], "label": labels}, dist, stats


@ray.remote
def _add(*parts: tuple) -> tuple:
    sums = parts[0][0].copy()
    counts = parts[0][1].copy()
    inertia = parts[0][2]
    for s, c, i in parts[1:]:
        sums += s
        counts += c
        inertia += i
    return sums, counts, inertia


@ray.remote
def _farthest(block: dict[str, np.ndarray], dist: np.ndarray, c: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    top = np.argsort(-dist, kind="stable")[:c]
    return block["row"][top], dist[top], block["vector"][top], len(top) < len(dist)


def _gather_rows(blocks: list[Any], rows: np.ndarray, d: int) -> np.ndarray:
    wanted = ray.put(rows)
    parts = ray.get([_take.remote(b, wanted) for b in blocks])
    got = np.concatenate([p[0] for p in parts])
    X = np.concatenate([p[1] for p in parts]) if parts else np.empty((0, d), np.float32)
    if len(got) != len(rows):
        raise RuntimeError(f"ray: {len(got)} of {len(rows)} sampled rows found in the blocks")
    return np.ascontiguousarray(X[np.argsort(got, kind="stable")])


def _assign_all(
    blocks: list[Any], centroids: np.ndarray, n: int, progress: bool, keep: dict[str, Any] | None = None
) -> tuple[np.ndarray, list[Any], tuple]:
    """Labels of every row (on the driver), the distance blocks (object store), the summed statistics;
    ``keep["labels"]``: the label blocks, left in the object store."""
    C = ray.put(centroids)
    calls = [_assign_block.remote(b, C) for b in blocks]
    label_refs, dist_refs, stat_refs = (list(x) for x in zip(*calls))
    if keep is not None:
        keep["labels"] = label_refs
    while len(stat_refs) > 1:
        stat_refs = [_add.remote(*stat_refs[i : i + _FAN_IN]) for i in range(0, len(stat_refs), _FAN_IN)]
    labels = np.full(n, -1, dtype=np.int32)
    pending = list(label_refs)
    with tqdm(total=len(blocks), desc="level 1: assigning (ray)", unit="block", disable=not progress) as bar:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            part = ray.get(done[0])
            labels[part["row"]] = part["label"]
            bar.update(1)
    if (labels < 0).any():
        raise RuntimeError("ray: some rows were not assigned")
    return labels, dist_refs, ray.get(stat_refs[0])


def _reseed_empty(
    blocks: list[Any], dist_refs: list[Any], labels: np.ndarray, centroids: np.ndarray, stats: list
) -> tuple[np.ndarray, np.ndarray]:
    """In-process :func:`fill_empty` on the farthest points of every block; updates ``labels`` and ``stats``.
    Returns the rows whose label changed (sorted) and their new labels."""
    sums, counts = stats[0], stats[1]
    c = 4 * int((counts == 0).sum()) + 16
    while True:
        parts = ray.get([_farthest.remote(b, dr, c) for b, dr in zip(blocks, dist_refs)])
        rows = np.concatenate([p[0] for p in parts])
        order = np.argsort(rows)  # ties in distance go to the lower row, as in-process
        rows, dist = rows[order], np.concatenate([p[1] for p in parts])[order]
        vecs = np.concatenate([p[2] for p in parts])[order]
        bound = max((float(p[1].min()) for p in parts if p[3] and len(p[1])), default=-np.inf)  # nothing unseen is farther
        lab, dist_c, cnt = labels[rows].copy(), dist.copy(), counts.copy()
        try:
            fill_empty(vecs, lab, dist_c, centroids, cnt)
            moved = np.flatnonzero(lab != labels[rows])
            if len(moved) == 0 or dist[moved].min() > bound:
                break
        except TooFewDistinctPointsError:
            if bound == -np.inf:
                raise
        c *= 4
    for i in moved:
        x = vecs[i].astype(np.float64)
        sums[labels[rows[i]]] -= x
        sums[lab[i]] += x
        stats[2] -= float(dist[i])
        labels[rows[i]] = lab[i]
    counts[:] = cnt
    return rows[moved], lab[moved].astype(np.int32)  # rows are sorted


def distributed_kmeans(
    blocks: list[Any],
    n: int,
    d: int,
    k: int,
    *,
    random_state: int | np.random.Generator | None = 0,
    max_iter: int = 25,
    tol: float = 1e-4,
    max_points_per_centroid: int | None = 256,
    progress: bool = True,
    keep: dict[str, Any] | None = None,
    **_: Any,
) -> KMeansResult:
    """:func:`~hercules.clustering.kmeans.kmeans` of the ``n`` rows (``d`` columns) held in ``blocks`` (see module docstring).
    ``keep``: filled with the label blocks (``"labels"``, left in the object store) and the rows the driver
    relabelled after the pass (``"fix"``: sorted rows, their labels), for writing the membership from blocks."""
    rng = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
    t0 = time.perf_counter()
    fit_idx = fit_sample(n, k, max_points_per_centroid, rng)
    assert fit_idx is not None, "is_distributed() decides when the fit sample is a true sample"
    Xf = _gather_rows(blocks, fit_idx, d)
    wf = np.ones(len(Xf), dtype=np.float64)
    t1 = time.perf_counter()
    centroids = seed_centroids(Xf, wf, k, rng, None)
    centroids, n_iter = lloyd(Xf, wf, centroids, max_iter, tol)[2:]
    del Xf
    t2 = time.perf_counter()
    labels, dist_refs, stats_t = _assign_all(blocks, centroids, n, progress, keep)
    stats = [stats_t[0].copy(), stats_t[1].copy(), stats_t[2]]  # object-store arrays are read-only
    fix = (np.empty(0, np.int64), np.empty(0, np.int32))
    if (stats[1] == 0).any():
        centroids = centroids.copy()
        fix = _reseed_empty(blocks, dist_refs, labels, centroids, stats)
    if keep is not None:
        keep["fix"] = fix
    sums, counts = stats[0], stats[1]
    pos = counts > 0
    centroids = centroids.copy()
    centroids[pos] = (sums[pos] / counts[pos, None]).astype(np.float32)
    last_timings.clear()
    last_timings.update(
        gather_sample=t1 - t0, fit_sample=t2 - t1, assign_reduce=time.perf_counter() - t2, rows=n, fit_rows=len(fit_idx)
    )
    log.info("ray: level 1 of %d rows in %d blocks: %s", n, len(blocks), {k_: round(v, 2) for k_, v in last_timings.items()})
    return KMeansResult(labels=labels, centroids=centroids, inertia=float(stats[2]), n_iter=n_iter)
