"""Hartigan's moves for weighted k-means of nodes, and the item-level start of a level in a clustering space."""

from __future__ import annotations

import numpy as np
import pytest

from hercules.clustering.hartigan import hartigan
from hercules.clustering.kmeans import kmeans
from hercules.pipeline.coarse import item_level_grouping


def _inertia(X: np.ndarray, labels: np.ndarray, w: np.ndarray, k: int) -> float:
    X = X.astype(np.float64)
    tot = np.bincount(labels, weights=w, minlength=k)
    C = np.stack([np.bincount(labels, weights=w * X[:, j], minlength=k) for j in range(X.shape[1])], 1) / tot[:, None]
    return float((w * ((X - C[labels]) ** 2).sum(1)).sum())


def test_hartigan_lowers_lloyds_inertia_to_a_point_no_single_move_improves() -> None:
    rng = np.random.default_rng(0)
    gains = []
    for seed in range(6):
        X = rng.normal(size=(120, 3)).astype(np.float32)
        w = rng.integers(1, 30, size=120).astype(np.float64)
        lloyd = kmeans(X, 6, sample_weight=w, random_state=seed, n_init=1)
        h = hartigan(X, lloyd.labels, 6, w)
        assert np.bincount(h.labels, minlength=6).min() >= 1
        assert h.inertia == pytest.approx(_inertia(X, h.labels, w, 6), rel=1e-9)
        gains.append(lloyd.inertia - h.inertia)
        if seed == 0:  # brute force: no single move of one point lowers the exact inertia
            for i in range(len(X)):
                for b in range(6):
                    if b != h.labels[i] and (h.labels == h.labels[i]).sum() > 1:
                        moved = h.labels.copy()
                        moved[i] = b
                        assert _inertia(X, moved, w, 6) >= h.inertia * (1 - 1e-9)
    assert min(gains) >= -1e-6 * lloyd.inertia  # never worse than where it started
    assert max(gains) > 1e-3 * lloyd.inertia  # and strictly better from some Lloyd fixed point


def test_hartigan_checks_its_start() -> None:
    X = np.zeros((4, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="0..1"):
        hartigan(X, np.array([0, 1, 2, 0]), 2)
    with pytest.raises(ValueError, match="every group"):
        hartigan(X, np.array([0, 0, 0, 0]), 2)


def test_item_level_grouping_beats_a_poor_node_kmeans_by_the_item_objective() -> None:
    rng = np.random.default_rng(1)
    centres = np.array([[0, 0], [6, 0], [0, 6], [6, 6]], dtype=np.float32)
    items = (centres[rng.integers(0, 4, 2000)] + rng.normal(scale=0.7, size=(2000, 2))).astype(np.float32)
    fine = kmeans(items, 40, random_state=0)  # the level below: 40 nodes, kept whole
    sizes = np.bincount(fine.labels, minlength=40).astype(np.float64)
    node_space = fine.centroids
    near_origin = node_space[np.argsort(np.linalg.norm(node_space, axis=1))[:4]]  # a start inside one blob
    poor = kmeans(node_space, 4, sample_weight=sizes, init=near_origin, n_init=1, max_iter=1)
    blob = np.array([np.bincount(((items[fine.labels == j] > 3) @ [1, 2]), minlength=4).argmax() for j in range(40)])
    assert len(set(zip(poor.labels.tolist(), blob.tolist()))) > 4  # the poor start mixes blobs
    got = item_level_grouping(poor, items, fine.labels, node_space, sizes, np.random.default_rng(0))
    assert got.inertia <= poor.inertia
    assert got.inertia == pytest.approx(_inertia(node_space, got.labels, sizes, 4), rel=1e-4)
    # whole nodes, judged at item level: the four blobs come back (each node's items are one blob)
    assert len(set(zip(got.labels.tolist(), blob.tolist()))) == 4


def test_item_level_grouping_with_the_space_graph_picks_its_highest_modularity() -> None:
    from sklearn.neighbors import kneighbors_graph

    from hercules.clustering.connectivity import modularity, node_edges

    rng = np.random.default_rng(2)
    centres = rng.normal(scale=4, size=(6, 2)).astype(np.float32)
    items = (centres[rng.integers(0, 6, 1500)] + rng.normal(scale=1.2, size=(1500, 2))).astype(np.float32)
    fine = kmeans(items, 30, random_state=0)
    sizes = np.bincount(fine.labels, minlength=30).astype(np.float64)
    km = kmeans(fine.centroids, 6, sample_weight=sizes, random_state=0)
    graph = kneighbors_graph(items, 10, include_self=False)
    graph = graph.maximum(graph.T)
    W = node_edges(graph, fine.labels, 30)
    by_inertia = item_level_grouping(km, items, fine.labels, fine.centroids, sizes, np.random.default_rng(0))
    by_graph = item_level_grouping(
        km, items, fine.labels, fine.centroids, sizes, np.random.default_rng(0), (np.arange(1500), graph)
    )
    assert by_inertia.inertia <= km.inertia
    assert modularity(W, by_graph.labels, 6) >= max(modularity(W, km.labels, 6), modularity(W, by_inertia.labels, 6))


def test_graph_is_the_opt_in_that_judges_from_level_2() -> None:
    from hercules.pipeline.coarse import coarse_method, judged_by_graph, parse_coarse, reads_graph

    assert parse_coarse("graph") == ("graph", 2) and parse_coarse("auto") == ("auto", 2)  # issue 15: auto from level 2
    assert parse_coarse("auto:3") == ("auto", 3) and parse_coarse("connectivity") == ("connectivity", 3)
    assert judged_by_graph("graph", 2) and not judged_by_graph("auto", 2) and not judged_by_graph("graph:3", 2)
    assert (
        reads_graph("graph")
        and coarse_method("graph", 2, 40, True) == "graph"
        and coarse_method("graph", 2, 40, False) == "space"
    )
