"""The keyword titles' term counts over the text blocks: c-TF-IDF's input, the texts tokenized once.

The keyword labeler (:mod:`hercules.labeling.keywords`) needs, per cluster, how often each term of a
corpus-wide vocabulary occurs in its members' texts. In-process, one CountVectorizer is fitted on all texts
(words seen in at least 2 texts, the 60,000 most frequent) and its document-term matrix summed per cluster.
Over the text blocks the embedding read from the object store:

1. every block tokenizes its texts once, keeping its text x term matrix in the object store, and counts its own
   terms without limits (term, count, texts containing it); a tree of Ray tasks merges
   those tables 8 at a time, so the driver receives one row per distinct term, and applies the same ``min_df`` and ``max_features`` rule on the same sorted
   vocabulary and float32 totals as scikit-learn, so the vocabulary is the in-process one;
2. every block moves its matrix's columns to that vocabulary (no second tokenization) and sums the rows per level-1 cluster (the level-1 labels
   broadcast once, 4 bytes per item); the driver adds the k1 x terms sparse counts. A level above sums the rows
   of its level-1 clusters. The counts are integers (exact in float32 below 2^24 per cell), so the c-TF-IDF
   weights, hence the keywords, equal the in-process ones (ties between equal weights go by term order in both).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import ray
import scipy.sparse as sp

from hercules.common.groups import onehot
from hercules.labeling.keywords import MAX_TERMS, term_counter

_FAN_IN = 8  # term tables merged per task


@ray.remote(num_returns=2)
def _block_terms(frame: pd.DataFrame, n_texts: int) -> tuple[tuple, tuple]:
    """((terms, count, texts containing it), (the block's text x term matrix, its rows)): tokenized once."""
    cv = term_counter(n_texts, limits=False)
    rows = frame["row"].to_numpy()
    try:
        M = cv.fit_transform(list(frame["text"])).tocsr()
    except ValueError:  # only stop words or numbers in this block
        return (np.array([], dtype=object), np.zeros(0, np.int64), np.zeros(0, np.int64)), (None, rows)
    tf = np.asarray(M.sum(axis=0)).ravel().astype(np.int64)
    return (cv.get_feature_names_out(), tf, np.bincount(M.indices, minlength=M.shape[1])), (M, rows)


@ray.remote
def _block_counts(table: tuple, matrix: tuple, vocab: np.ndarray, labels: np.ndarray, k: int) -> sp.csr_matrix:
    """The block's matrix with its columns moved to ``vocab``'s (both sorted; terms not in it dropped), summed per
    cluster: what counting ``vocab`` in the texts again would give, without tokenizing them again."""
    terms, (M, rows) = table[0], matrix
    if M is None or not len(vocab):
        return sp.csr_matrix((k, len(vocab)), dtype=np.float32)
    pos = np.minimum(np.searchsorted(vocab, terms), len(vocab) - 1)
    hit = np.flatnonzero(vocab[pos] == terms)
    M = M[:, hit].tocsr()
    M = sp.csr_matrix((M.data, pos[hit][M.indices], M.indptr), shape=(M.shape[0], len(vocab)))
    return (onehot(labels[rows], k) @ M).tocsr()


@ray.remote
def _merge_terms(*parts: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    terms = np.concatenate([p[0] for p in parts]).astype(str)
    if not len(terms):
        return np.array([], dtype=str), np.zeros(0, np.int64), np.zeros(0, np.int64)
    uniq, inv = np.unique(terms, return_inverse=True)  # sorted by code point, as scikit-learn's sorted()
    tf = np.bincount(inv, weights=np.concatenate([p[1] for p in parts]), minlength=len(uniq)).astype(np.int64)
    df = np.bincount(inv, weights=np.concatenate([p[2] for p in parts]), minlength=len(uniq)).astype(np.int64)
    return uniq, tf, df


def tokenize(text_blocks: list[Any], n_texts: int) -> list[tuple[Any, Any]]:
    """One Ray task per block of ``text_blocks`` (pandas frames with ``row``, ``text``) tokenizes its texts once:
    (its term table, its text x term matrix), both left in the object store."""
    return [tuple(_block_terms.remote(b, n_texts)) for b in text_blocks]


def vocabulary(tokens: list[tuple[Any, Any]], n_texts: int) -> np.ndarray:
    """The keyword labeler's vocabulary of all the texts (``tokens``: :func:`tokenize`): the per-block term tables
    merged by a tree of Ray tasks (8 at a time), so the driver receives one row per term."""
    refs = [t[0] for t in tokens]
    while len(refs) > 1:  # one block's table is already sorted, one row per term
        refs = [_merge_terms.remote(*refs[i : i + _FAN_IN]) for i in range(0, len(refs), _FAN_IN)]
    if not refs:
        return np.array([], dtype=object)
    uniq, tfs, dfs = ray.get(refs[0])
    mask = dfs >= (2 if n_texts >= 200 else 1)
    if mask.sum() > MAX_TERMS:  # scikit-learn's _limit_features, on the same float32 totals
        tfs = tfs.astype(np.float32)
        keep = np.zeros(len(uniq), dtype=bool)
        keep[np.where(mask)[0][(-tfs[mask]).argsort()[:MAX_TERMS]]] = True
        mask = keep
    return uniq[mask].astype(object)


def cluster_term_counts(tokens: list[tuple[Any, Any]], vocab: np.ndarray, labels: np.ndarray, k: int) -> sp.csr_matrix:
    """(k, len(vocab)) float32 counts of each term in the texts of each cluster (``labels``: every row's cluster),
    from the blocks' matrices of :func:`tokenize`."""
    args = (ray.put(vocab), ray.put(np.asarray(labels, dtype=np.int64)))
    total = sp.csr_matrix((k, len(vocab)), dtype=np.float32)
    for ref in [_block_counts.remote(*t, *args, k) for t in tokens]:
        total = total + ray.get(ref)
    return total.tocsr()
