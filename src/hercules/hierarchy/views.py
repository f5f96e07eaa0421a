"""Views of a fitted hierarchy, built from the hierarchy and its dataset alone: cluster
navigation, a text tree, a membership table."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import numpy as np

from hercules.hierarchy.tree import Cluster, Hierarchy, cluster_id, parse_cluster_id

if TYPE_CHECKING:
    import pandas as pd

    from hercules.data.dataset import Dataset


def membership_frame(h: Hierarchy, lab1: np.ndarray, index: Any) -> pd.DataFrame:
    """Cluster id and title at every level for items whose level-1 clusters are ``lab1``."""
    import pandas as pd

    cols: dict[str, Any] = {}
    lab = lab1
    for t in range(1, h.depth + 1):
        level = h.level(t)
        if t > 1:
            lab = level.parent[lab]
        ids = np.array([cluster_id(t, j) for j in range(level.k)], dtype=object)
        titles = np.array([lb.title for lb in level.labels], dtype=object)
        cols[f"L{t}_cluster_id"] = pd.Categorical.from_codes(lab, categories=ids)
        cols[f"L{t}_cluster_title"] = titles[lab]
    return pd.DataFrame(cols, index=index)


def item_membership(h: Hierarchy, ds: Dataset, include_items: bool = True, include_metadata: bool = True) -> pd.DataFrame:
    """One row per fitted item: the item, then cluster id and title at every level, then metadata."""
    import pandas as pd

    from hercules.data.lazy import frame_of

    frame = membership_frame(h, h.item_labels(1), index=pd.Index(ds.ids, name="id"))
    if include_items and ds.modality != "vectors":
        items = ds.item_texts() if ds.modality != "image" else ds.image_paths
        frame = pd.concat([pd.DataFrame({"item": items}, index=frame.index), frame], axis=1)
    if include_metadata and ds.metadata is not None:
        meta = frame_of(ds.metadata).set_index(frame.index)  # type: ignore[union-attr]
        frame = pd.concat([frame, meta.add_prefix("meta_") if set(meta.columns) & set(frame.columns) else meta], axis=1)
    return frame


def tree_text(source: Any, max_depth: int | None = None, max_children: int | None = 12, show_items: int = 0) -> str:
    """The hierarchy as an indented text tree (largest clusters first).

    ``source`` is anything with ``hierarchy_`` and ``dataset_`` (a fitted model).
    """
    h: Hierarchy = source.hierarchy_
    out = io.StringIO()
    sizes = ", ".join(f"L{lvl.level}: {lvl.k}" for lvl in reversed(h.levels))
    out.write(f"{h.n_items:,} {source.dataset_.modality} items in {h.depth} level(s) ({sizes})\n")
    stop = 1 if max_depth is None else max(1, h.depth - max_depth + 1)

    def walk(c: Cluster, prefix: str, last: bool) -> None:
        out.write(f"{prefix}{'└── ' if last else '├── '}{c.id}  {c.title}  ({c.size:,})\n")
        child_prefix = prefix + ("    " if last else "│   ")
        if c.level > stop:
            kids = c.children
            shown = kids if max_children is None else kids[:max_children]
            for i, kid in enumerate(shown):
                walk(kid, child_prefix, i == len(shown) - 1 and len(shown) == len(kids))
            if len(shown) < len(kids):
                out.write(f"{child_prefix}└── … {len(kids) - len(shown)} more\n")
        elif show_items and c.level == 1:
            for text in c.items(show_items):
                out.write(f"{child_prefix}· {text[:100]}\n")

    tops = [Cluster(source, h.depth, j) for j in range(h.level(h.depth).k)]
    for i, c in enumerate(tops):
        walk(c, "", i == len(tops) - 1)
    return out.getvalue()


class HierarchyViews:
    """Navigation for anything fitted with ``hierarchy_`` and ``dataset_`` (the estimator mixes it in)."""

    hierarchy_: Hierarchy
    dataset_: Dataset

    def _check_fitted(self) -> None:
        if not hasattr(self, "hierarchy_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"this {type(self).__name__} model is not fitted yet: call fit() or hercules.load()")

    @property
    def n_levels_(self) -> int:
        self._check_fitted()
        return self.hierarchy_.depth

    def clusters(self, level: int | None = None) -> list[Cluster]:
        """Clusters of ``level`` (default: the top level), largest first (clusters added by ``update`` come last)."""
        self._check_fitted()
        t = self.hierarchy_.depth if level is None else level
        return [Cluster(self, t, j) for j in range(self.hierarchy_.level(t).k)]

    def cluster(self, cid: str) -> Cluster:
        """A cluster by id, e.g. ``model.cluster("L2-5")``."""
        self._check_fitted()
        t, j = parse_cluster_id(cid)
        if not 1 <= t <= self.hierarchy_.depth or not 0 <= j < self.hierarchy_.level(t).k:
            raise KeyError(f"no cluster {cid}")
        return Cluster(self, t, j)

    def membership(self, include_items: bool = True, include_metadata: bool = True) -> pd.DataFrame:
        """One row per item: the item, then cluster id and title at every level."""
        self._check_fitted()
        return item_membership(self.hierarchy_, self.dataset_, include_items, include_metadata)

    def tree_text(self, max_depth: int | None = None, max_children: int | None = 12, show_items: int = 0) -> str:
        """The hierarchy as an indented text tree (largest clusters first)."""
        self._check_fitted()
        return tree_text(self, max_depth=max_depth, max_children=max_children, show_items=show_items)

    def print_tree(self, **kw: Any) -> None:
        """Print :meth:`tree_text` (same arguments)."""
        print(self.tree_text(**kw), end="")
