"""Intrinsic title quality, no ground truth needed: does a title pick out its own cluster, is it
a duplicate, is it a generic umbrella word? Shared by the labeler (verify and repair) and by
:mod:`hercules.evaluation`, so the labeler repairs exactly what the evaluation reports.

* **Identification**: embed the title with the run's text embedder; it *identifies* its cluster
  when, among all clusters of the level, its nearest centroid (cosine) is its own. The margin
  (cosine to its own centroid minus the best other) ranks candidates; > 0 means identified.
* **Duplicates**: titles equal after normalising case, punctuation and plurals.
* **Generic**: a title is generic when nothing is left once umbrella words (:data:`GENERIC_WORDS`)
  and fillers (:data:`FILLER_WORDS`) are removed, or, in a sibling group of 3 or more, when each of
  its remaining words also occurs in more than half of the siblings' titles (the title says only
  what the siblings share: "Top-Up Issues" among "Top-Up Verification", "Top-Up Limits").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

#: Umbrella words that say nothing about what a cluster holds (compared in singular form).
GENERIC_WORDS = frozenset(
    [
        "issue",
        "problem",
        "various",
        "general",
        "misc",
        "miscellaneous",
        "other",
        "others",
        "topic",
        "question",
        "request",
        "inquiry",
        "enquiry",
        "query",
        "concern",
        "matter",
        "thing",
        "stuff",
        "assorted",
        "mixed",
        "related",
        "cluster",
        "group",
        "category",
        "item",
        "miscellany",
    ]
)
#: Words that carry no content of their own.
FILLER_WORDS = frozenset(["and", "or", "of", "the", "a", "an", "for", "with", "to", "in", "on", "by", "about", "&", "vs"])

_WORD = re.compile(r"[a-z0-9]+")


def singular(word: str) -> str:
    """A crude English singular (issues -> issue, queries -> query, boxes -> box), enough to
    match plural and singular forms of one title; words under 3 letters and -ss, -us, -is are kept."""
    if len(word) < 3 or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    return word[:-1] if word.endswith("s") else word


def title_words(title: str) -> list[str]:
    """Lower-case singular words of a title, punctuation dropped."""
    return [singular(w) for w in _WORD.findall(title.lower())]


def normalise_title(title: str) -> str:
    """The form in which two titles count as the same: case, punctuation and plurals ignored."""
    return " ".join(title_words(title))


def duplicate_mask(titles: Sequence[str]) -> np.ndarray:
    """True for every title whose normalised form another title of the list shares."""
    norm = [normalise_title(t) for t in titles]
    _, inverse, counts = np.unique(np.asarray(norm, dtype=object), return_inverse=True, return_counts=True)
    return counts[inverse.ravel()] > 1 if norm else np.zeros(0, dtype=bool)


def count_duplicates(titles: Sequence[str]) -> int:
    """Titles that repeat an earlier one (normalised): 0 when all differ, 1 for one repeated pair."""
    norm = [normalise_title(t) for t in titles]
    return len(norm) - len(set(norm))


def content_words(title: str) -> set[str]:
    """The words of a title that are neither fillers nor umbrella words."""
    return {w for w in title_words(title) if w not in FILLER_WORDS and w not in GENERIC_WORDS}


def generic_mask(titles: Sequence[str], groups: np.ndarray | None = None) -> np.ndarray:
    """True for generic titles (rule in the module docstring); ``groups`` gives each title's
    sibling group (its parent), or None for one group holding the whole level."""
    n = len(titles)
    groups = np.zeros(n, dtype=np.int64) if groups is None else np.asarray(groups)
    words = [content_words(t) for t in titles]
    out = np.array([not w for w in words], dtype=bool)
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        if len(idx) < 3:
            continue
        df: dict[str, int] = {}
        for i in idx:
            for w in words[i]:
                df[w] = df.get(w, 0) + 1
        for i in idx:  # shared by more than half of the *other* siblings' titles
            if words[i] and all(df[w] - 1 > (len(idx) - 1) / 2 for w in words[i]):
                out[i] = True
    return out


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    X = np.asarray(X, dtype=np.float32)
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


def identification_margins(title_vecs: np.ndarray, centroids: np.ndarray, owners: np.ndarray | None = None) -> np.ndarray:
    """Cosine of each title to its own centroid minus its best cosine to any other centroid
    (> 0: the title identifies its cluster). ``owners[i]`` is title ``i``'s cluster (default ``i``)."""
    S = unit_rows(title_vecs) @ unit_rows(centroids).T
    owners = np.arange(len(S)) if owners is None else np.asarray(owners)
    rows = np.arange(len(S))
    own = S[rows, owners]
    S[rows, owners] = -np.inf
    return own - (S.max(axis=1) if S.shape[1] > 1 else np.full(len(S), -1.0))


def confusable(title_vecs: np.ndarray, centroids: np.ndarray, j: int, n: int = 2) -> list[int]:
    """The ``n`` other clusters whose centroids title ``j`` is closest to (most confusable first)."""
    s = unit_rows(centroids) @ unit_rows(title_vecs[j : j + 1]).T
    s = s.ravel()
    s[j] = -np.inf
    return [int(i) for i in np.argsort(-s, kind="stable")[: min(n, len(s) - 1)]]
