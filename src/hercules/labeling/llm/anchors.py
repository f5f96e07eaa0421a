"""Anchor terms (issue 11): the one keyword phrase of each cluster that best picks it out, which the
first-pass prompt asks the title to contain.

A small model titles a cluster by its broad topic ("Card Payment Issues"); at a fine level several
clusters share that topic, and the title identifies none of them. The keyword titles identify better
because their c-TF-IDF terms are what the cluster says and its siblings do not. So each cluster's
top distinctive keywords are embedded (short phrases, one batch per level) and the one whose vector
is nearest its own centroid relative to the others (the identification margin of :mod:`.quality`)
becomes the anchor; without a title space (no embedder in the item space) the top keyword is used.
"""

from __future__ import annotations

import numpy as np

from hercules.hierarchy import ClusterLabel
from hercules.labeling.base import LevelContext
from hercules.labeling.llm.quality import identification_margins

#: Keyword phrases tried per cluster (the top ones by c-TF-IDF weight).
CANDIDATE_TERMS = 4


def anchor_terms(ctx: LevelContext, keyword_labels: list[ClusterLabel], n: int = CANDIDATE_TERMS) -> list[str]:
    """One anchor phrase per cluster ("" where a cluster has no keywords)."""
    pools = [lb.keywords[:n] for lb in keyword_labels]
    firsts = [p[0] if p else "" for p in pools]
    if ctx.embed_texts is None or ctx.centroids is None or ctx.n_clusters < 2:
        return firsts
    terms = [t for p in pools for t in p]
    if not terms:
        return firsts
    owners = np.repeat(np.arange(len(pools)), [len(p) for p in pools])
    uniq = list(dict.fromkeys(terms))
    V = np.asarray(ctx.embed_texts(uniq, f"embedding L{ctx.level} keywords"), dtype=np.float32)
    if V.ndim != 2 or V.shape[1] != ctx.centroids.shape[1]:
        return firsts
    where = {t: i for i, t in enumerate(uniq)}
    margins = identification_margins(V[[where[t] for t in terms]], ctx.centroids, owners)
    out = list(firsts)
    starts = np.concatenate([[0], np.cumsum([len(p) for p in pools])])
    for j, p in enumerate(pools):
        if p:
            out[j] = p[int(np.argmax(margins[starts[j] : starts[j + 1]]))]
    return out


def anchor_title(term: str) -> str:
    """An anchor term as a title ("transfer declined" -> "Transfer Declined"): a no-call fallback title."""
    return " ".join(w[:1].upper() + w[1:] for w in term.split())
