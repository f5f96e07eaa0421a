"""Labelling evidence from the blocks: the items closest to each cluster's centroid, as a distributed top-m, and the
per-cluster sums of the level-0 vectors (the centroids shown), as a distributed map-reduce.

One Ray task per level-0 vector block (with the level-1 label block of the same rows) maps its labels to
level t (level 1's size ordering and the upper parent arrays, k-long, broadcast), computes each row's
squared distance to its cluster's centroid (the same float32 arithmetic as
:func:`hercules.labeling.base.representative_items`) and keeps its ``m`` closest rows per cluster; the
driver merges those candidates (at most ``k x m`` per block) by (cluster, distance, row), which is the
order of the in-process ``lexsort``, so the lists are the same. The driver never reads the matrix here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import ray

from hercules.common.groups import onehot
from hercules.engines.ray_membership import apply_fix


def top_per_group(labels: np.ndarray, dist: np.ndarray, rows: np.ndarray, k: int, m: int) -> np.ndarray:
    """Positions sorted by (label, distance, row), only the ``m`` first of each label kept."""
    order = np.lexsort((rows, dist, labels))
    starts = np.searchsorted(labels[order], np.arange(k + 1))
    rank = np.arange(len(order)) - starts[labels[order]]
    return order[rank < m]


def aligned(vblock: dict, lblock: dict, maps: list[np.ndarray], fix: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows sorted, their vectors, their cluster at the level ``maps`` lead to) of a vector block and its label block."""
    ov, ol = np.argsort(vblock["row"], kind="stable"), np.argsort(lblock["row"], kind="stable")
    rows, X = vblock["row"][ov], vblock["vector"][ov]
    if not np.array_equal(rows, lblock["row"][ol]):
        raise RuntimeError("ray: a vector block and its label block hold different rows")
    lab = apply_fix(rows, lblock["label"][ol], fix)
    for mp in maps:
        lab = mp[lab]
    return rows, X, lab


@ray.remote
def _closest(vblock: dict, lblock: dict, maps: list[np.ndarray], fix: tuple, centroids: np.ndarray, m: int) -> tuple:
    rows, X, lab = aligned(vblock, lblock, maps, fix)
    diff = X - centroids[lab]
    dist = np.einsum("ij,ij->i", diff, diff)
    keep = top_per_group(lab, dist, rows, len(centroids), m)
    return lab[keep], dist[keep], rows[keep]


def closest_items(
    vector_blocks: list[Any], label_blocks: list[Any], maps: list[np.ndarray], fix: tuple, centroids: np.ndarray, m: int
) -> list[np.ndarray]:
    """For each of the ``len(centroids)`` clusters, its (up to) ``m`` items closest to the centroid, closest first."""
    args = (ray.put(maps), ray.put(fix), ray.put(centroids))
    parts = ray.get([_closest.remote(v, b, *args, m) for v, b in zip(vector_blocks, label_blocks)])
    lab, dist, rows = (np.concatenate([p[i] for p in parts]) for i in range(3))
    k = len(centroids)
    keep = top_per_group(lab, dist, rows, k, m)
    lab, rows = lab[keep], rows[keep]
    starts = np.searchsorted(lab, np.arange(k + 1))
    return [rows[starts[j] : starts[j + 1]] for j in range(k)]


@ray.remote
def _sums(vblock: dict, lblock: dict, maps: list[np.ndarray], fix: tuple, k: int) -> tuple[np.ndarray, np.ndarray]:
    _, X, lab = aligned(vblock, lblock, maps, fix)
    return np.asarray(onehot(lab, k, dtype=np.float64) @ X.astype(np.float64)), np.bincount(lab, minlength=k)


def cluster_sums(
    vector_blocks: list[Any], label_blocks: list[Any], maps: list[np.ndarray], fix: tuple, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """(k, d) float64 sums of the level-0 vectors and (k,) item counts per cluster of the level ``maps`` lead to, one
    Ray task per block (the driver adds ``#blocks`` k x d arrays)."""
    args = (ray.put(maps), ray.put(fix))
    sums, counts = None, np.zeros(k, dtype=np.int64)
    for ref in [_sums.remote(v, b, *args, k) for v, b in zip(vector_blocks, label_blocks)]:  # added in block order
        s, c = ray.get(ref)
        sums = s.copy() if sums is None else sums + s
        counts += c
    assert sums is not None
    return sums, counts
