"""Clustering metrics that stay fast at 100k+ items (Section 3.7, and what the literature reports).

* internal: silhouette on a random sample (O(s^2 d) instead of O(n^2 d)),
  Davies-Bouldin and Calinski-Harabasz on all points (both O(n d));
* external: ARI, NMI, homogeneity, completeness, V-measure, and accuracy after
  Hungarian matching of clusters to classes;
* hierarchy-aware: pair recall/precision of a tree level against a truth level;
* label quality: title-to-class-name alignment and sibling-title distinctness.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment
from sklearn import metrics as skm


def _encode(labels: Sequence | np.ndarray) -> np.ndarray:
    arr = np.asarray(labels, dtype=object)
    return np.unique(arr.astype(str), return_inverse=True)[1].ravel()


def contingency(y_true: Sequence, y_pred: Sequence) -> np.ndarray:
    """Dense class x cluster count matrix."""
    t, p = _encode(y_true), _encode(y_pred)
    return sp.coo_matrix((np.ones(len(t)), (t, p)), shape=(t.max() + 1, p.max() + 1)).toarray()


def hungarian_accuracy(y_true: Sequence, y_pred: Sequence) -> float:
    """Best one-to-one matching of clusters to classes; unmatched clusters count as errors."""
    C = contingency(y_true, y_pred)
    rows, cols = linear_sum_assignment(-C)
    return float(C[rows, cols].sum() / C.sum())


def external_metrics(y_true: Sequence, y_pred: Sequence) -> dict[str, float]:
    """ARI, NMI, homogeneity, completeness, V-measure and Hungarian accuracy."""
    t, p = _encode(y_true), _encode(y_pred)
    if len(t) != len(p):
        raise ValueError(f"{len(t)} labels for {len(p)} items")
    h, c, v = skm.homogeneity_completeness_v_measure(t, p)
    return {
        "ari": float(skm.adjusted_rand_score(t, p)),
        "nmi": float(skm.normalized_mutual_info_score(t, p)),
        "homogeneity": float(h),
        "completeness": float(c),
        "v_measure": float(v),
        "accuracy": hungarian_accuracy(t, p),
    }


def internal_metrics(
    X: np.ndarray, labels: np.ndarray, *, sample_size: int = 5000, random_state: int | None = 0, metric: str = "euclidean"
) -> dict[str, float | None]:
    """Silhouette (sampled), Davies-Bouldin and Calinski-Harabasz; None where undefined (one cluster)."""
    labels = np.asarray(labels)
    k = len(np.unique(labels))
    if k < 2 or k >= len(labels):
        return {"silhouette": None, "davies_bouldin": None, "calinski_harabasz": None}
    X = np.asarray(X, dtype=np.float32)
    s = min(sample_size, len(labels))
    sil = skm.silhouette_score(X, labels, metric=metric, sample_size=s if s < len(labels) else None, random_state=random_state)
    return {
        "silhouette": float(sil),
        "davies_bouldin": float(skm.davies_bouldin_score(X, labels)),
        "calinski_harabasz": float(skm.calinski_harabasz_score(X, labels)),
    }


def _pairs(counts: np.ndarray) -> float:
    return float((counts * (counts - 1) / 2).sum())


def pair_agreement(truth: Sequence, tree: Sequence) -> dict[str, float]:
    """Of the item pairs that share a truth group, the share that also share a tree cluster (recall),
    and of those sharing a tree cluster, the share that share a truth group (precision). O(n)."""
    C = contingency(truth, tree)
    both = _pairs(C)
    same_truth = _pairs(C.sum(axis=1))
    same_tree = _pairs(C.sum(axis=0))
    return {
        "pair_recall": both / same_truth if same_truth else float("nan"),
        "pair_precision": both / same_tree if same_tree else float("nan"),
    }


def cosine_matrix(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    A = A / np.maximum(np.linalg.norm(A, axis=1, keepdims=True), 1e-12)
    B = B / np.maximum(np.linalg.norm(B, axis=1, keepdims=True), 1e-12)
    return A @ B.T


def title_alignment(title_vecs: np.ndarray, majority: Sequence[str], class_names: Sequence[str], name_vecs: np.ndarray) -> float:
    """Share of clusters whose title is closer to its majority class's name than to any other class name."""
    names = list(class_names)
    sims = cosine_matrix(title_vecs, name_vecs)
    nearest = sims.argmax(axis=1)
    return float(np.mean([names[j] == m for j, m in zip(nearest, majority)]))


def sibling_distinctness(title_vecs: np.ndarray, parents: np.ndarray, titles: Sequence[str]) -> dict[str, float]:
    """Mean cosine similarity between sibling titles (lower is more distinct) and the share of duplicate sibling titles."""
    sims, dups, titled = [], 0, 0  # titled: titles that have at least one sibling
    for p in np.unique(parents):
        idx = np.flatnonzero(parents == p)
        if len(idx) < 2:
            continue
        S = cosine_matrix(title_vecs[idx], title_vecs[idx])
        iu = np.triu_indices(len(idx), 1)
        sims.append(S[iu])
        low = [titles[i].strip().lower() for i in idx]
        dups += len(low) - len(set(low))
        titled += len(idx)
    return {
        "sibling_title_similarity": float(np.concatenate(sims).mean()) if sims else float("nan"),
        "duplicate_sibling_titles": dups / titled if titled else 0.0,
    }
