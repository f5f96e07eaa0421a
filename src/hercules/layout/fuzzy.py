"""UMAP's fuzzy neighbour graph in plain numpy.

umap-learn builds it with numba functions that are not cached, which costs ~20 s of compilation in every new
process on 2 cores (more than the whole clustering of Banking77). Vectorised over rows, the same binary search
takes milliseconds, so hercules computes the graph here and hands it to umap-learn only for the embedding step
(whose numba code is cached on disk after the first run). Same rules as ``umap.umap_.fuzzy_simplicial_set``
with local_connectivity = 1, bandwidth = 1 and set_op_mix_ratio = 1.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

_SMOOTH_K_TOLERANCE = 1e-5
_MIN_K_DIST_SCALE = 1e-3


def smooth_knn_dist(dist: np.ndarray, n_iter: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(sigma, rho) per row: rho = nearest non-zero distance; sigma solves sum exp(-(d - rho)/sigma) = log2(k)."""
    n, k = dist.shape
    target = np.log2(k)
    d = dist.astype(np.float64)
    masked = np.where(d > 0, d, np.inf)
    rho = masked.min(axis=1)
    rho[~np.isfinite(rho)] = 0.0
    rest = d[:, 1:] - rho[:, None]  # the first neighbour is the point itself
    pos = rest > 0
    rest = np.maximum(rest, 0.0)  # exp(-rest/mid) <= 1: no overflow where rest < 0 (those count as 1)
    lo, hi, mid = np.zeros(n), np.full(n, np.inf), np.ones(n)
    active = np.ones(n, dtype=bool)
    for _ in range(n_iter):
        psum = np.where(pos, np.exp(-rest / mid[:, None]), 1.0).sum(axis=1)
        active &= np.abs(psum - target) >= _SMOOTH_K_TOLERANCE
        if not active.any():
            break
        high = active & (psum > target)
        low = active & ~high
        hi[high] = mid[high]
        mid[high] = (lo[high] + hi[high]) / 2
        lo[low] = mid[low]
        doubled = low & ~np.isfinite(hi)
        mid[doubled] *= 2
        halved = low & np.isfinite(hi)
        mid[halved] = (lo[halved] + hi[halved]) / 2
    mean_all = d.mean()
    floor = np.where(rho > 0, _MIN_K_DIST_SCALE * d.mean(axis=1), _MIN_K_DIST_SCALE * mean_all)
    return np.maximum(mid, floor), rho


def fuzzy_graph(knn_idx: np.ndarray, knn_dist: np.ndarray) -> sp.csr_matrix:
    """Symmetrised fuzzy union of the k-NN memberships (the graph UMAP lays out)."""
    n, k = knn_idx.shape
    sigma, rho = smooth_knn_dist(knn_dist)
    d = knn_dist.astype(np.float64) - rho[:, None]
    vals = np.where(d <= 0, 1.0, np.exp(-np.maximum(d, 0) / sigma[:, None]))
    rows = np.repeat(np.arange(n), k)
    vals[knn_idx == np.arange(n)[:, None]] = 0.0  # no self loops
    P = sp.csr_matrix((vals.ravel(), (rows, knn_idx.ravel())), shape=(n, n))
    P.sum_duplicates()
    Pt = P.T.tocsr()
    G = P + Pt - P.multiply(Pt)
    G.eliminate_zeros()
    return G.tocsr()


def with_links(graph: sp.csr_matrix, join: np.ndarray, cut: np.ndarray) -> sp.csr_matrix:
    """``graph`` with the pairs ``join`` (m, 2) made certain neighbours (weight 1, both ways) and the pairs ``cut``
    unlinked: a judge's answers written into the neighbour graph (:mod:`hercules.guidance`)."""
    n = graph.shape[0]

    def pairs(p: np.ndarray) -> sp.csr_matrix:  # both directions, no self loops, 1 however often a pair repeats
        p = np.asarray(p, dtype=np.int64).reshape(-1, 2)
        p = p[p[:, 0] != p[:, 1]]
        rows, cols = np.concatenate([p[:, 0], p[:, 1]]), np.concatenate([p[:, 1], p[:, 0]])
        return sp.csr_matrix((np.ones(len(rows), dtype=bool), (rows, cols)), shape=(n, n))

    G = graph.tocsr().maximum(pairs(join).astype(graph.dtype))
    G = G - G.multiply(pairs(cut))
    G.eliminate_zeros()
    return G.tocsr()
