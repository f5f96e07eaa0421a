"""Per-group sums and means of rows, via one sparse one-hot product (no copy of the data)."""

from __future__ import annotations

import numpy as np


def onehot(labels: np.ndarray, k: int, weights: np.ndarray | None = None, dtype=np.float32):
    """(k, n) sparse matrix with ``weights[i]`` (default 1) at ``(labels[i], i)``."""
    import scipy.sparse as sp

    n = len(labels)
    data = np.ones(n, dtype=dtype) if weights is None else np.asarray(weights, dtype=dtype)
    return sp.csr_matrix((data, (labels, np.arange(n))), shape=(k, n))


def group_sums(X: np.ndarray, labels: np.ndarray, k: int, weights: np.ndarray | None = None) -> np.ndarray:
    """(k, d) sum of the (weighted) rows of ``X`` in each group."""
    return np.asarray(onehot(labels, k, weights, dtype=X.dtype) @ X)


def group_means(X: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """(k, d) float32 mean of the rows of ``X`` in each group (zeros for an empty group)."""
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    sums = np.asarray(onehot(labels, k, dtype=np.float32) @ X, dtype=np.float64)
    return (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)
