"""A linear adapter on frozen vectors, learned from answered triplets (metric learning).

``x -> x @ W.T`` with ``W`` (d, d) started at the identity. An answered triplet says the anchor
``a`` is closer to ``p`` than to ``n``; the loss is ``softplus((|W(a-p)|^2 - |W(a-n)|^2) / tau)``
(ClusterLLM's triplet objective, on squared distances), plus ``l2 * |W - I|^2`` so that a few
hundred answers bend the space instead of replacing it. Full-batch Adam in numpy: 1,024 triplets
x 384 dimensions take about a second, for any embedder (text, image, precomputed vectors).

``l2`` is chosen on held-out answers (:func:`choose_l2`): the value whose adapter best predicts
answers it was not trained on. The same held-out agreement feeds the reliability guard.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

L2_GRID = (1.0, 0.1, 0.01, 0.001)


@dataclass(frozen=True)
class AdapterFit:
    W: np.ndarray  # (d, d) float32
    loss: float


def _diffs(X: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = X[t[:, 0]].astype(np.float32)
    return a - X[t[:, 1]], a - X[t[:, 2]]


def fit_adapter(X: np.ndarray, triplets: np.ndarray, l2: float = 0.003, steps: int = 100, lr: float = 0.02) -> AdapterFit:
    """``W`` from oriented triplets ``(anchor, closer, farther)`` (see module docstring)."""
    d = X.shape[1]
    eye = np.eye(d, dtype=np.float32)
    W = eye.copy()
    if len(triplets) == 0:
        return AdapterFit(W.astype(np.float32), 0.0)
    U, V = _diffs(X, triplets)
    tau = 0.1 * float(np.mean((U * U).sum(1) + (V * V).sum(1)) / 2) or 1.0
    m1, m2 = np.zeros_like(W), np.zeros_like(W)
    loss = 0.0
    for step in range(1, steps + 1):
        P, Q = U @ W.T, V @ W.T
        z = ((P * P).sum(1) - (Q * Q).sum(1)) / tau
        loss = float(np.logaddexp(0.0, z).mean() + l2 * ((W - eye) ** 2).sum())
        s = (0.5 * (1.0 + np.tanh(0.5 * z))) / (tau * len(z))  # sigmoid, overflow-free
        grad = 2.0 * ((P * s[:, None]).T @ U - (Q * s[:, None]).T @ V) + 2.0 * l2 * (W - eye)
        m1 = 0.9 * m1 + 0.1 * grad
        m2 = 0.999 * m2 + 0.001 * grad * grad
        W -= lr * (m1 / (1 - 0.9**step)) / (np.sqrt(m2 / (1 - 0.999**step)) + 1e-8)
    return AdapterFit(W.astype(np.float32), loss)


def hits(X: np.ndarray, triplets: np.ndarray, W: np.ndarray | None = None) -> np.ndarray:
    """Per oriented triplet: is the anchor closer to the 'closer' item (after ``W``)?"""
    U, V = _diffs(X, triplets)
    if W is not None:
        U, V = U @ W.T, V @ W.T
    return (U * U).sum(1) < (V * V).sum(1)


def choose_l2(
    X: np.ndarray,
    triplets: np.ndarray,
    rng: np.random.Generator,
    folds: int = 3,
    grid: tuple[float, ...] | None = None,
    repeats: int = 5,
) -> tuple[float, np.ndarray, np.ndarray]:
    """(best l2, held-out hits with the adapter, hits without): k-fold over the answers, ``repeats`` times.

    The held-out hits are each answer's share of the repeats in which an adapter not trained on it predicts it:
    one split's verdict swings with the split (HWU64, one seed: z 2.2 with one 3-fold split, 1.1 with a 10-fold one),
    and the guard's held-out test reads it."""
    grid = grid or L2_GRID
    splits = [rng.permutation(len(triplets)) % folds for _ in range(max(1, repeats))]
    base = hits(X, triplets)
    best: tuple[float, np.ndarray] = (grid[0], np.zeros(len(triplets)))
    best_score = -1.0
    for l2 in grid:
        held = np.zeros(len(triplets))
        for fold in splits:
            for f in range(folds):
                train, test = fold != f, fold == f
                held[test] += hits(X, triplets[test], fit_adapter(X, triplets[train], l2=l2).W)
        held /= len(splits)
        if held.mean() > best_score:
            best, best_score = (l2, held), float(held.mean())
    return best[0], best[1], base


def apply_adapter(X: np.ndarray, W: np.ndarray | None) -> np.ndarray:
    """Adapted vectors (float32); ``W=None`` leaves them as they are."""
    if W is None:
        return X
    return np.ascontiguousarray(X @ W.T, dtype=np.float32)
