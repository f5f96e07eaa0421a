"""Clustering spaces: where k-means runs (the level-0 vectors, or a manifold of them).

>>> space = make_space("auto", n_items=len(vectors))
>>> Z = space.fit_transform(vectors, random_state=0)   # what level 1 clusters
>>> space.transform(new_vectors)                       # new items, placed the same way (predict, update)
>>> space_from_state(*space.to_state())                # persisted as JSON + arrays (no pickle)

Raw level-0 vectors stay what people see (labels, evidence, centroids, the map); only clustering and the
routing of new items use the space.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from hercules.layout import umap_available
from hercules.space.base import ClusteringSpace, IdentitySpace
from hercules.space.manifold import ManifoldSpace

log = logging.getLogger(__name__)

__all__ = ["SPACES", "ClusteringSpace", "IdentitySpace", "ManifoldSpace", "make_space", "resolve_space", "space_from_state"]

SPACES = ("auto", "none", "umap", "umap-cosine")
#: Fewer items than this are clustered in the level-0 space: a neighbour graph of a handful of points means little.
MIN_MANIFOLD_ITEMS = 100


def resolve_space(method: str, n_items: int) -> str:
    """The concrete space for ``method``: ``"auto"`` is ``$HERCULES_SPACE`` if set, else UMAP when umap-learn
    imports and there are enough items, else the identity."""
    if method not in SPACES:
        raise ValueError(f"space must be one of {', '.join(SPACES)}, got {method!r}")
    if method == "auto":
        method = os.environ.get("HERCULES_SPACE", "auto")  # tests set it to "none" (as HERCULES_LAYOUT=pca)
        if method not in SPACES:
            raise ValueError(f"$HERCULES_SPACE must be one of {', '.join(SPACES)}, got {method!r}")
    if method == "none":
        return "none"
    if n_items < MIN_MANIFOLD_ITEMS:
        if method != "auto":
            log.warning("only %d items: clustering in the level-0 space instead of UMAP's", n_items)
        return "none"
    if not umap_available():
        if method != "auto":
            raise ImportError(f"space={method!r} needs umap-learn: pip install 'hercules-cluster[layout]'")
        log.info("umap-learn is not installed: clustering in the level-0 space")
        return "none"
    return "umap" if method == "auto" else method


def make_space(method: str = "auto", n_items: int = 0) -> ClusteringSpace:
    """An unfitted space for ``method`` (see :func:`resolve_space`)."""
    resolved = resolve_space(method, n_items)
    if resolved == "none":
        return IdentitySpace()
    # "umap": cosine for unit-length rows, euclidean otherwise; "umap-cosine": angles whatever the rows' lengths
    # (measured: Fashion-MNIST pixels 0.444 -> 0.454 ARI, sklearn digits 0.873 -> 0.790; so not the default).
    return ManifoldSpace(metric="cosine" if resolved == "umap-cosine" else "auto")


def space_from_state(meta: dict[str, Any] | None, arrays: dict[str, np.ndarray]) -> ClusteringSpace:
    """A fitted space from :meth:`ClusteringSpace.to_state`; no settings (an older result) is the identity."""
    if meta is not None and not isinstance(meta, dict):
        raise ValueError("the stored clustering space is not an object")
    method = (meta or {}).get("method", "none")
    if method == "none":
        return IdentitySpace()
    if method == "umap":
        return ManifoldSpace.from_state(meta or {}, arrays)
    raise ValueError(f"unknown stored clustering space {method!r}")
