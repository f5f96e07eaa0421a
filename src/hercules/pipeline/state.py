"""Everything a fitted model knows, in one value: what ``fit`` produces and ``load`` restores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hercules.clustering.kmeans import assign
from hercules.data.dataset import Dataset
from hercules.engines.membership import MembershipParts
from hercules.hierarchy.tree import Hierarchy
from hercules.layout import Layout
from hercules.pipeline.encoder import L0Encoder
from hercules.space import ClusteringSpace, IdentitySpace


@dataclass
class FittedState:
    """The learned state of :class:`hercules.Hercules` (its ``trailing_underscore_`` attributes)."""

    hierarchy: Hierarchy
    dataset: Dataset
    encoder: L0Encoder
    projection: Layout  # the 2-D map (UMAP or PCA) that places new items too
    coords: np.ndarray  # (n_items, n_components) plot coordinates
    embeddings: np.ndarray | None  # (n_items, d) L0 vectors; None when a result was saved without them
    n_features: int
    timings: dict[str, float] = field(default_factory=dict)
    llm_stats: list[dict[str, Any]] = field(default_factory=list)
    changes: dict[str, Any] | None = None  # the change report of the last update (None: as fitted)
    space: ClusteringSpace = field(default_factory=IdentitySpace)  # where levels are clustered and new items routed
    membership: MembershipParts | None = None  # per-item clusters as Parquet parts (Ray engine); None: in arrays.npz

    def route(self, vectors: np.ndarray) -> np.ndarray:
        """Level-1 cluster of new level-0 ``vectors``: the nearest level-1 centroid in the clustering space."""
        L1 = self.hierarchy.level(1)
        if self.space.is_identity or L1.space_centroids is None:
            return assign(vectors, L1.centroids)[0]
        return assign(self.space.transform(vectors), L1.space_centroids)[0]
