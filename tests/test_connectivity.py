"""Node connectivity (clustering/connectivity.py): PAGA's normalised edge counts and spectral grouping of nodes."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from hercules.clustering.connectivity import node_edges, spectral_groups
from hercules.clustering.kmeans import kmeans
from hercules.space.knn import exact_knn


def _rings(n_per_ring: int = 400, n_arcs: int = 16, seed: int = 0):
    """Two concentric rings (radius 1 and 3), each cut into ``n_arcs`` arcs: the arcs are the nodes."""
    rng = np.random.default_rng(seed)
    theta = rng.uniform(0, 2 * np.pi, size=2 * n_per_ring)
    ring = np.repeat([0, 1], n_per_ring)
    r = np.where(ring == 0, 1.0, 3.0) + rng.normal(0, 0.03, size=2 * n_per_ring)
    X = np.c_[r * np.cos(theta), r * np.sin(theta)].astype(np.float32)
    arc = np.minimum((theta / (2 * np.pi) * n_arcs).astype(int), n_arcs - 1)
    return X, ring * n_arcs + arc, ring


def _knn_graph(X: np.ndarray, k: int = 10) -> sp.csr_matrix:
    idx, _ = exact_knn(X, k + 1)
    n = len(X)
    A = sp.csr_matrix((np.ones(n * k), (np.repeat(np.arange(n), k), idx[:, 1:].ravel())), shape=(n, n))
    return A.maximum(A.T).tocsr()


def test_connectivity_separates_what_centroids_do_not():
    X, item_nodes, ring = _rings()
    m = int(item_nodes.max()) + 1
    sizes = np.bincount(item_nodes, minlength=m)
    node_ring = np.repeat([0, 1], m // 2)
    W = node_edges(_knn_graph(X), item_nodes, m)
    assert W[: m // 2, m // 2 :].max() == 0.0  # no edge between the rings
    assert (W[: m // 2, : m // 2] > 0).sum() >= m  # each ring's arcs are chained
    groups = spectral_groups(W, 2, sizes, random_state=0)
    assert (groups == node_ring).all() or (groups == 1 - node_ring).all()
    # size-weighted k-means of the same nodes' centroids cuts both rings in half instead
    centroids = np.stack([X[item_nodes == i].mean(axis=0) for i in range(m)])
    km = kmeans(centroids, 2, sample_weight=sizes.astype(np.float64), random_state=0)
    assert not ((km.labels == node_ring).all() or (km.labels == 1 - node_ring).all())


def test_node_edges_sums_item_edges_per_node_pair():
    G = sp.csr_matrix(np.array([[0, 1, 1, 0], [1, 0, 0, 0], [1, 0, 0, 2], [0, 0, 2, 0]], dtype=float))
    W = node_edges(G, np.array([0, 0, 1, 1]), 2)
    np.testing.assert_allclose(W, [[2.0, 1.0], [1.0, 4.0]])


def test_spectral_groups_checks_its_arguments():
    with pytest.raises(ValueError, match="cannot group"):
        spectral_groups(np.ones((3, 3)), 4, np.ones(3))
