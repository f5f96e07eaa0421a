"""Half of the guard's second test: does the judge answer the hard questions better than a coin?

Each answered triplet says on which side of a border between two clusters its anchor belongs. Two anchors near each
other on the same border mostly belong on the same side, so a judge that knows the answers tends to choose the same
cluster for both; a judge that guesses (or follows the candidates' order, which is shuffled) agrees with itself half
of the time whatever the data. The statistic is the share of answers that choose the same cluster as the answer of
their nearest other anchor on the same border (cosine in the vectors asked about); its null distribution is exact:
the same pairs with every answer replaced by a fair coin, simulated. No model is fitted, so the test is as calibrated
as the coin (the adapter's held-out test at the 5% level passed a coin on the hard questions in 4 of 12 runs: the
answers of a fold share one fitted adapter and its z treats them as independent). It reads closeness from the
embedding's own neighbourhoods, so it is deaf to a judge whose sense they do not share (a style judge on MiniLM's topic
vectors); the held-out test hears that one, so the guard takes either (:mod:`hercules.guidance.stage`).
``bench_guidance_probes.py consistency`` measures both on the same answers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_BLOCK = 2048


@dataclass(frozen=True)
class Consistency:
    agree: float  # share of paired answers that choose the same cluster as their buddy's
    pairs: int  # answers with a buddy (another anchor on the same border)
    z: float  # (agree - coin mean) / coin sd; -inf without pairs


def buddies(X: np.ndarray, anchors: np.ndarray, border: np.ndarray) -> np.ndarray:
    """Per answer, the index of the nearest other answer whose anchor lies on the same ``border`` (-1: none)."""
    out = np.full(len(anchors), -1, dtype=np.int64)
    order = np.argsort(border, kind="stable")
    starts = np.flatnonzero(np.r_[True, border[order][1:] != border[order][:-1]])
    for s, e in zip(starts, np.r_[starts[1:], len(order)]):  # one loop step per border, not per item
        if e - s < 2:
            continue
        idx = order[s:e]
        A = X[anchors[idx]].astype(np.float64)
        A /= np.maximum(np.linalg.norm(A, axis=1, keepdims=True), 1e-12)
        for c in range(0, len(idx), _BLOCK):  # blocks of rows: a border with many anchors stays O(block x size)
            S = A[c : c + _BLOCK] @ A.T
            S[np.arange(len(S)), c + np.arange(len(S))] = -np.inf
            out[idx[c : c + _BLOCK]] = idx[S.argmax(1)]
    return out


def answer_consistency(
    X: np.ndarray, answers: np.ndarray, labels: np.ndarray, rng: np.random.Generator, sims: int = 2000
) -> Consistency:
    """The test on oriented answers ``(anchor, closer, farther)``; ``labels``: a clustering of the items (the border
    of an answer is the pair of its candidates' clusters)."""
    closer, farther = labels[answers[:, 1]], labels[answers[:, 2]]
    lo, hi = np.minimum(closer, farther), np.maximum(closer, farther)
    side = (closer == lo).astype(np.int8)
    buddy = buddies(X, answers[:, 0], lo * (int(labels.max()) + 1) + hi)
    paired = np.flatnonzero((buddy >= 0) & (lo != hi))
    if len(paired) == 0:
        return Consistency(0.0, 0, -np.inf)
    agree = float((side[paired] == side[buddy[paired]]).mean())
    coins = rng.integers(0, 2, size=(sims, len(side)), dtype=np.int8)
    null = (coins[:, paired] == coins[:, buddy[paired]]).mean(axis=1)
    sd = float(null.std())
    return Consistency(agree, int(len(paired)), (agree - float(null.mean())) / sd if sd > 0 else -np.inf)
