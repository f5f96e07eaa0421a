"""The fitted hierarchy as flat arrays, plus light :class:`Cluster` views for navigation.

No object per item: level ``t`` stores, for every node of level ``t-1``, the
index of its parent (``Level.parent``). Item labels at any level are a chain
of integer lookups. Clusters of a level are ordered by size (0 = largest).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from hercules.data.dataset import Dataset


@dataclass
class ClusterLabel:
    """A cluster's human-readable name. ``source`` says who wrote it: ``keywords``, ``llm``, ``llm-repaired``
    (asked again alone after failing the title check), ``llm-qualified`` (the LLM title plus one of the
    cluster's keywords), ``keywords-fallback`` (a keyword-made title kept where the LLM's failed)."""

    title: str
    description: str
    keywords: list[str] = field(default_factory=list)
    source: str = "keywords"


@dataclass
class Level:
    """One level of clusters (level >= 1)."""

    level: int
    parent: np.ndarray  # (n_nodes_below,) int32 parent index of each node of level-1
    centroids: np.ndarray  # (k, d) float32 parent vectors
    sizes: np.ndarray  # (k,) int64 number of items under each cluster
    labels: list[ClusterLabel]
    requested_k: int | None = None  # None when k was chosen automatically
    auto_k: dict | None = None  # candidates and scores when chosen automatically
    coords: np.ndarray | None = None  # (k, n_components) PCA coordinates
    description_embeddings: np.ndarray | None = None  # (k, d') embedded "title. description"
    space_centroids: np.ndarray | None = None  # (k, d'') centroids in the clustering space (None: the L0 space)

    @property
    def k(self) -> int:
        return int(self.centroids.shape[0])


def cluster_id(level: int, index: int) -> str:
    """The public id of a cluster, e.g. ``"L2-5"``."""
    return f"L{level}-{index}"


def parse_cluster_id(cid: str) -> tuple[int, int]:
    try:
        lvl, idx = cid.upper().removeprefix("L").split("-")
        return int(lvl), int(idx)
    except ValueError:
        raise KeyError(f"not a cluster id: {cid!r} (expected e.g. 'L2-5')") from None


@dataclass
class Hierarchy:
    """Levels 1..L over ``n_items`` items."""

    n_items: int
    levels: list[Level] = field(default_factory=list)

    @property
    def depth(self) -> int:
        return len(self.levels)

    def level(self, t: int) -> Level:
        if not 1 <= t <= self.depth:
            raise IndexError(f"level {t} does not exist; levels are 1..{self.depth}")
        return self.levels[t - 1]

    def item_labels(self, t: int) -> np.ndarray:
        """Cluster index at level ``t`` of every item (``t = 0`` gives the item indices)."""
        if t == 0:
            return np.arange(self.n_items, dtype=np.int32)
        lab = self.level(1).parent
        for u in range(2, t + 1):
            lab = self.level(u).parent[lab]
        return lab

    def all_item_labels(self) -> np.ndarray:
        """(depth, n_items) matrix of item labels, one row per level."""
        out = np.empty((self.depth, self.n_items), dtype=np.int32)
        lab = None
        for t in range(1, self.depth + 1):
            lab = self.level(t).parent if lab is None else self.level(t).parent[lab]
            out[t - 1] = lab
        return out

    def children(self, t: int, j: int) -> np.ndarray:
        """Indices (at level ``t-1``) of the children of cluster ``j`` at level ``t``."""
        return np.flatnonzero(self.level(t).parent == j)

    def parent(self, t: int, j: int) -> int | None:
        return int(self.level(t + 1).parent[j]) if t < self.depth else None


@dataclass(frozen=True)
class Cluster:
    """A read-only view of one cluster of a fitted model."""

    model: object = field(repr=False, compare=False)
    level: int
    index: int

    @property
    def _h(self) -> Hierarchy:
        return self.model.hierarchy_  # type: ignore[attr-defined]

    @property
    def _lvl(self) -> Level:
        return self._h.level(self.level)

    @property
    def id(self) -> str:
        return cluster_id(self.level, self.index)

    @property
    def title(self) -> str:
        return self._lvl.labels[self.index].title

    @property
    def description(self) -> str:
        return self._lvl.labels[self.index].description

    @property
    def keywords(self) -> list[str]:
        return self._lvl.labels[self.index].keywords

    @property
    def size(self) -> int:
        """Number of items under this cluster."""
        return int(self._lvl.sizes[self.index])

    @property
    def centroid(self) -> np.ndarray:
        return self._lvl.centroids[self.index]

    @property
    def parent(self) -> Cluster | None:
        p = self._h.parent(self.level, self.index)
        return None if p is None else Cluster(self.model, self.level + 1, p)

    @property
    def children(self) -> list[Cluster]:
        """Child clusters (empty at level 1, whose children are items: see :attr:`item_indices`)."""
        if self.level == 1:
            return []
        kids = self._h.children(self.level, self.index)
        return [Cluster(self.model, self.level - 1, int(c)) for c in kids]

    @property
    def ancestors(self) -> list[Cluster]:
        out, p = [], self.parent
        while p is not None:
            out.append(p)
            p = p.parent
        return out

    @property
    def item_indices(self) -> np.ndarray:
        """Row positions (0..n-1) of the items in this cluster."""
        return np.flatnonzero(self._h.item_labels(self.level) == self.index)

    @property
    def item_ids(self) -> np.ndarray:
        ds: Dataset = self.model.dataset_  # type: ignore[attr-defined]
        return ds.ids[self.item_indices]

    def representative_indices(self, n: int = 6) -> np.ndarray:
        """Row positions of the ``n`` items nearest the cluster's mean in the item space
        (the first ``n`` members when the model kept no item vectors)."""
        idx = self.item_indices
        E = getattr(self.model, "embeddings_", None)
        if E is None or not len(idx):
            return idx[:n]
        V = np.asarray(E[idx], dtype=np.float32)
        d = ((V - V.mean(axis=0)) ** 2).sum(axis=1)
        return idx[np.argsort(d, kind="stable")[:n]]

    def items(self, n: int | None = None) -> list[str]:
        """Human-readable items (texts, file names or values) of this cluster, first ``n``."""
        ds: Dataset = self.model.dataset_  # type: ignore[attr-defined]
        texts = ds.item_texts()
        idx = self.item_indices if n is None else self.item_indices[:n]
        return [texts[i] for i in idx]

    def __repr__(self) -> str:
        return f"Cluster({self.id}, size={self.size}, title={self.title!r})"
