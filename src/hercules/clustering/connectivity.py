"""Grouping a few nodes by how their items are connected (PAGA's idea), not by far distances.

A neighbour graph over the items (UMAP's fuzzy graph of the space's fit sample) is summed into a node-by-node
matrix of edge weights ``W`` (one sparse product, O(edges)), and the nodes are grouped by spectral clustering
of ``W`` without its diagonal (a relaxed normalised cut of the item graph that keeps every node whole:
normalised-Laplacian embedding, k eigenvectors, rows on the unit sphere, size-weighted k-means, best of
several starts): O(m^3) for m nodes, at most a few thousand, nothing quadratic in items. PAGA's own
normalisation (edges over their expectation given node sizes, capped at 1) and a blend with the nodes'
positions in the space were measured too and lost more (``benchmarks/bench_coarse.py``).

Used by :mod:`hercules.pipeline.coarse` for the upper levels of a hierarchy fitted in a clustering space.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from hercules.clustering.kmeans import kmeans

#: Largest node count the grouping accepts (an m x m dense eigenproblem).
MAX_NODES = 4096


def node_edges(graph: sp.spmatrix, item_nodes: np.ndarray, m: int) -> np.ndarray:
    """(m, m) dense sum of the edge weights of ``graph`` (items x items) between items of each pair of nodes
    (``item_nodes``: each graph row's node in 0..m-1); the diagonal holds the edges inside each node."""
    n = graph.shape[0]
    S = sp.csr_matrix((np.ones(n), (np.arange(n), item_nodes)), shape=(n, m))
    return np.asarray((S.T @ sp.csr_matrix(graph, dtype=np.float64) @ S).todense())


def spectral_embedding(affinity: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` leading eigenvectors of the normalised affinity ``D^-1/2 A D^-1/2``, scaled by ``D^-1/2``
    and put on the unit sphere (Ng-Jordan-Weiss); a tiny uniform affinity keeps isolated nodes defined."""
    A = np.array(affinity, dtype=np.float64)
    np.fill_diagonal(A, 0.0)
    A += 1e-9
    dinv = 1.0 / np.sqrt(A.sum(axis=1))
    _, vecs = np.linalg.eigh(dinv[:, None] * A * dinv[None, :])
    U = vecs[:, -k:] * dinv[:, None]
    return U / np.maximum(np.linalg.norm(U, axis=1, keepdims=True), 1e-12)


def modularity(W: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Newman's modularity of a grouping of the nodes (``labels`` 0..k-1) on the summed edge weights ``W``
    (:func:`node_edges`, diagonal included): the share of edge weight inside groups minus what degree alone would put
    there. Equal to the modularity of the items' graph partitioned by their nodes' groups."""
    total = float(W.sum())
    if total <= 0:
        return 0.0
    m = len(W)
    S = sp.csr_matrix((np.ones(m), (np.arange(m), labels)), shape=(m, k))
    B = np.asarray((S.T @ sp.csr_matrix(W) @ S).todense())
    return float(np.trace(B) / total - ((B.sum(axis=1) / total) ** 2).sum())


def spectral_groups(
    affinity: np.ndarray, k: int, sizes: np.ndarray, random_state: int | np.random.Generator | None = 0, n_init: int = 10
) -> np.ndarray:
    """Labels 0..k-1 of the nodes: size-weighted k-means (lowest inertia of ``n_init`` starts) in the
    spectral embedding of ``affinity``."""
    m = len(affinity)
    if not 1 <= k <= m:
        raise ValueError(f"cannot group {m} nodes into {k}")
    if m > MAX_NODES:
        raise ValueError(f"spectral grouping takes at most {MAX_NODES} nodes, got {m}")
    U = spectral_embedding(affinity, k).astype(np.float32)
    rng = np.random.default_rng(random_state)
    w = np.asarray(sizes, dtype=np.float64)
    runs = [kmeans(U, k, sample_weight=w, random_state=rng) for _ in range(n_init)]
    return min(runs, key=lambda r: r.inertia).labels
