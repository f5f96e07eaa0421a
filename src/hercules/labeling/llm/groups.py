"""Which clusters share a prompt (issue 11).

Most titles that fail the identification check at a fine level fail against a near-identical
sibling (Banking77 level 1: about four clusters per intent). Titled in separate prompts, each of
them gets the intent's name; titled in one prompt, the model sees the others and is asked to say
what sets each apart. So a level's clusters are grouped with their nearest neighbours by centroid
(cosine): the tightest pairs first, each seed with its nearest clusters not yet taken.

``grouping="principal"`` (the older plan) chunks the clusters in their order along the first
principal axis instead, which keeps similar clusters near each other only along one direction.
"""

from __future__ import annotations

import numpy as np

from hercules.labeling.llm.quality import unit_rows

#: Rows of the similarity matrix computed at once (memory: rows x clusters floats).
_CHUNK = 1024
NEIGHBOURS_NOTE = (
    "The clusters below are near neighbours that are easily confused: give each a title that says what "
    "sets it apart from the others below, not what they share."
)


def nearest_lists(centroids: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """For each centroid, its ``m`` nearest others (cosine, nearest first) and their similarities:
    (k, m) int and float arrays, computed in chunks of rows (O(k * m) memory)."""
    C = unit_rows(centroids)
    k = len(C)
    m = max(0, min(m, k - 1))
    idx = np.zeros((k, m), dtype=np.int64)
    sim = np.zeros((k, m), dtype=np.float32)
    if m == 0:
        return idx, sim
    for s in range(0, k, _CHUNK):
        S = C[s : s + _CHUNK] @ C.T
        rows = np.arange(len(S))
        S[rows, s + rows] = -np.inf
        top = np.argpartition(-S, m - 1, axis=1)[:, :m]
        order = np.argsort(-np.take_along_axis(S, top, axis=1), axis=1, kind="stable")
        idx[s : s + len(S)] = np.take_along_axis(top, order, axis=1)
        sim[s : s + len(S)] = np.take_along_axis(S, idx[s : s + len(S)], axis=1)
    return idx, sim


def neighbour_groups(centroids: np.ndarray, size: int, fallback_order: list[int]) -> list[list[int]]:
    """Groups of at most ``size`` mutually near clusters covering every cluster once.

    Seeds go in order of their similarity to their nearest neighbour (tightest first); a seed takes
    its nearest clusters not yet grouped (looked up among its ``4 * size`` nearest). Clusters left
    alone that way are far from everything left; they are chunked in ``fallback_order``.
    """
    k = len(centroids)
    if size <= 1 or k <= 2:
        return [[j] for j in fallback_order]
    idx, sim = nearest_lists(centroids, 4 * size)
    taken = np.zeros(k, dtype=bool)
    groups: list[list[int]] = []
    alone: set[int] = set()
    for seed in np.argsort(-sim[:, 0], kind="stable"):
        if taken[seed]:
            continue
        free = idx[seed][~taken[idx[seed]]][: size - 1]
        group = [int(seed), *(int(j) for j in free)]
        taken[group] = True
        if len(group) == 1:
            alone.add(int(seed))
        else:
            groups.append(group)
    rest = [j for j in fallback_order if j in alone]
    groups += [rest[i : i + size] for i in range(0, len(rest), size)]
    return groups
