"""What the map shows, computed once from a fitted model's public attributes.

Shared by the HTML export and the static plots: item coordinates, item labels at every level, one anchor point
per cluster (where its title is drawn) and a few representative items per cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hercules.viz.colors import palette

#: Members looked at per cluster for anchors and representatives (bounds the cost of 300k-item clusters).
_MEMBER_SAMPLE = 2000


class VizError(ValueError):
    """The model cannot be drawn (not fitted, no coordinates); the message says why."""


@dataclass
class ClusterInfo:
    """One level's clusters, in the model's order (0 = largest)."""

    level: int
    titles: list[str]
    descriptions: list[str]
    keywords: list[list[str]]
    sizes: np.ndarray  # (k,) items under each cluster
    parent: np.ndarray | None  # (k,) index at level + 1; None at the top
    anchors: np.ndarray  # (k, 2) where the title goes: a member near the members' median
    source: str

    @property
    def k(self) -> int:
        return len(self.titles)


@dataclass
class MapModel:
    """Everything a map needs, independent of how it is rendered."""

    coords: np.ndarray  # (n, 2) float32
    labels: np.ndarray  # (L, n) int32: cluster of every item at levels 1..L
    levels: list[ClusterInfo]
    texts: list[str]
    modality: str
    colors: list[str]  # one per top-level cluster
    model: Any

    @property
    def n_items(self) -> int:
        return int(self.coords.shape[0])

    @property
    def depth(self) -> int:
        return len(self.levels)


def _groups(lab: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Item positions sorted by cluster, and where each cluster's run starts: one sort instead of k scans."""
    order = np.argsort(lab, kind="stable")
    return order, np.searchsorted(lab[order], np.arange(k + 1))


def _members(order: np.ndarray, starts: np.ndarray, j: int, rng: np.random.Generator) -> np.ndarray:
    idx = order[starts[j] : starts[j + 1]]
    if len(idx) > _MEMBER_SAMPLE:
        idx = np.sort(rng.choice(idx, _MEMBER_SAMPLE, replace=False))
    return idx


def _anchors(coords: np.ndarray, order: np.ndarray, starts: np.ndarray, k: int, seed: int) -> np.ndarray:
    """A member near the coordinate-wise median: inside the cluster's main blob even when UMAP split it."""
    rng = np.random.default_rng(seed)
    out = np.zeros((k, 2), dtype=np.float32)
    for j in range(k):
        idx = _members(order, starts, j, rng)
        if not len(idx):
            continue
        P = coords[idx]
        out[j] = P[((P - np.median(P, axis=0)) ** 2).sum(axis=1).argmin()]
    return out


def representatives(model: Any, labels: np.ndarray, k: int, n: int = 5, seed: int = 0) -> list[np.ndarray]:
    """Item positions of ``n`` items per cluster nearest the cluster mean in the model's item space
    (the first ``n`` members when the model kept no item vectors), as ``Cluster.representative_indices``."""
    E = getattr(model, "embeddings_", None)
    order, starts = _groups(labels, k)
    rng = np.random.default_rng(seed)
    out = []
    for j in range(k):
        idx = _members(order, starts, j, rng)
        if E is None or len(idx) <= n:
            out.append(idx[:n])
            continue
        V = np.asarray(E[idx], dtype=np.float32)
        d = ((V - V.mean(axis=0)) ** 2).sum(axis=1)
        out.append(idx[np.argsort(d, kind="stable")[:n]])
    return out


def map_model(model: Any, seed: int = 0) -> MapModel:
    """Collect the map's data from a fitted model (``hierarchy_``, ``coords_``, ``dataset_``)."""
    h = getattr(model, "hierarchy_", None)
    coords = getattr(model, "coords_", None)
    if h is None or coords is None:
        raise VizError("the model is not fitted (no hierarchy_ or coords_): fit it or load a saved result first")
    coords = np.asarray(coords, dtype=np.float32)
    if coords.ndim != 2 or coords.shape[1] < 2:
        raise VizError(f"maps need 2-D item coordinates; coords_ has shape {coords.shape}")
    coords = coords[:, :2]
    if not np.isfinite(coords).all():
        raise VizError("coords_ holds NaN or infinite values")
    labels = h.all_item_labels()
    levels = []
    for lvl in h.levels:
        order, starts = _groups(labels[lvl.level - 1], lvl.k)
        levels.append(
            ClusterInfo(
                level=lvl.level,
                titles=[lab.title for lab in lvl.labels],
                descriptions=[lab.description for lab in lvl.labels],
                keywords=[list(lab.keywords) for lab in lvl.labels],
                sizes=np.asarray(lvl.sizes, dtype=np.int64),
                parent=None if lvl.level == h.depth else np.asarray(h.level(lvl.level + 1).parent),
                anchors=_anchors(coords, order, starts, lvl.k, seed),
                source=lvl.labels[0].source if lvl.labels else "",
            )
        )
    ds = model.dataset_
    return MapModel(coords, labels, levels, ds.item_texts(), ds.modality, palette(levels[-1].k), model)
