"""Node connectivity (clustering/connectivity.py): PAGA's normalised edge counts and spectral grouping of nodes."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from hercules.clustering.connectivity import modularity, node_edges, spectral_groups
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


def test_modularity_of_node_groupings():
    # two 3-node cliques joined by one edge: grouping by clique is the textbook case
    A = np.zeros((6, 6))
    for block in (range(3), range(3, 6)):
        for i in block:
            for j in block:
                A[i, j] = float(i != j)
    A[2, 3] = A[3, 2] = 1.0
    cliques, mixed = np.array([0, 0, 0, 1, 1, 1]), np.array([0, 1, 0, 1, 0, 1])
    assert modularity(A, cliques, 2) == pytest.approx(12 / 14 - 0.5)  # 12 of 14 edge ends inside, degrees 7 + 7
    assert modularity(A, mixed, 2) < 0 < modularity(A, cliques, 2)
    assert modularity(A, np.zeros(6, dtype=int), 1) == pytest.approx(0.0)  # one group: nothing beyond chance
    # node-level modularity equals the items' graph partitioned by their nodes' groups (diagonal = inside a node)
    X, item_nodes, _ = _rings(n_per_ring=100, n_arcs=4)
    G = _knn_graph(X)
    W = node_edges(G, item_nodes, 8)
    groups = np.array([0, 0, 1, 1, 0, 0, 1, 1])
    assert modularity(W, groups, 2) == pytest.approx(modularity(G.toarray(), groups[item_nodes], 2))


def test_auto_keeps_the_grouping_the_graph_supports():
    from hercules.pipeline.coarse import better_grouping

    X, item_nodes, ring = _rings()
    m = int(item_nodes.max()) + 1
    sizes = np.bincount(item_nodes, minlength=m)
    node_ring = np.repeat([0, 1], m // 2)
    centroids = np.stack([X[item_nodes == i].mean(axis=0) for i in range(m)]).astype(np.float32)
    km = kmeans(centroids, 2, sample_weight=sizes.astype(np.float64), random_state=0)  # cuts both rings in half
    graph = (np.arange(len(X)), _knn_graph(X))
    rng = np.random.default_rng(0)
    got = better_grouping("auto", 3, km, item_nodes, centroids, sizes, graph, rng)
    assert (got.labels == node_ring).all() or (got.labels == 1 - node_ring).all()  # the rings: higher modularity
    assert better_grouping("space", 3, km, item_nodes, centroids, sizes, graph, rng) is km  # only "auto" chooses
    got2 = better_grouping("auto", 2, km, item_nodes, centroids, sizes, graph, rng)  # the default judges level 2 too
    assert (got2.labels == node_ring).all() or (got2.labels == 1 - node_ring).all()
    assert better_grouping("auto:3", 2, km, item_nodes, centroids, sizes, graph, rng) is km  # auto:3: level 2 k-means
    assert better_grouping("auto", 3, km, item_nodes, centroids, sizes, None, rng) is km  # no graph: k-means
    # where k-means already follows the graph (the rings are its clusters), auto keeps k-means' own result
    ring_km = kmeans(np.c_[node_ring, node_ring].astype(np.float32), 2, sample_weight=sizes.astype(np.float64), random_state=0)
    assert better_grouping("auto", 3, ring_km, item_nodes, centroids, sizes, graph, rng) is ring_km


def test_node_edges_sums_item_edges_per_node_pair():
    G = sp.csr_matrix(np.array([[0, 1, 1, 0], [1, 0, 0, 0], [1, 0, 0, 2], [0, 0, 2, 0]], dtype=float))
    W = node_edges(G, np.array([0, 0, 1, 1]), 2)
    np.testing.assert_allclose(W, [[2.0, 1.0], [1.0, 4.0]])


def test_spectral_groups_checks_its_arguments():
    with pytest.raises(ValueError, match="cannot group"):
        spectral_groups(np.ones((3, 3)), 4, np.ones(3))


def test_opt_in_connectivity_regroups_only_the_coarse_levels():
    from hercules import Hercules
    from hercules.pipeline.coarse import coarse_method
    from tests.test_space import lines

    X, _ = lines(n_per=100)
    assert coarse_method("space", 3, 64, True) == "space"  # alone, it lost at level 3 on digits
    base = Hercules([12, 4, 2], space="umap", coarse="space", progress=False, random_state=0).fit(embeddings=X)
    assert base.space_.graph_ is None  # not needed by k-means: freed after the fit
    assert coarse_method("connectivity", 3, 64, True) == "connectivity" and coarse_method("connectivity", 2, 64, True) == "space"
    assert coarse_method("connectivity", 3, 64, False) == "space"  # no graph (no UMAP space): k-means
    m = Hercules([12, 4, 2], space="umap", coarse="connectivity", progress=False, random_state=0).fit(embeddings=X)
    for t in (1, 2):  # levels below the first coarse level are the default's, bit for bit
        np.testing.assert_array_equal(m.hierarchy_.item_labels(t), base.hierarchy_.item_labels(t))
    # level 3 is the spectral grouping of the level-2 nodes by the space's own neighbour graph
    space, L2, L3 = m.space_, m.hierarchy_.levels[1], m.hierarchy_.levels[2]
    W = node_edges(space.graph_, m.hierarchy_.item_labels(2)[space.fit_idx_], L2.k)
    np.fill_diagonal(W, 0.0)
    assert (W > 0).sum() > 0 and L3.parent.max() == 1
    np.testing.assert_allclose(  # space centroids: the size-weighted means of the children's
        L3.space_centroids[L3.parent[0]],
        np.average(L2.space_centroids[L3.parent == L3.parent[0]], axis=0, weights=L2.sizes[L3.parent == L3.parent[0]]),
        rtol=1e-4,
        atol=1e-5,
    )
