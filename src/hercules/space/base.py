"""The interface of a clustering space: level-0 vectors -> the vectors k-means runs on.

A fitted space maps the items it was fitted on (:meth:`ClusteringSpace.fit_transform`) and places new ones
through the same transform (:meth:`ClusteringSpace.transform`: ``predict`` and ``update`` use it). Its whole
state is :meth:`ClusteringSpace.to_state`: a JSON-able dict and plain numpy arrays (no pickle).
"""

from __future__ import annotations

from typing import Any

import numpy as np


class ClusteringSpace:
    """Base class; ``method`` names the space in results and in ``Hercules(space=...)``."""

    method: str = ""
    #: Item pairs (join, cut) a judge answered about, for a space built on a neighbour graph (:meth:`set_links`).
    links_: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def is_identity(self) -> bool:
        """True when clustering runs on the level-0 vectors themselves."""
        return False

    def set_links(self, join: np.ndarray, cut: np.ndarray) -> None:
        """Before the fit: item pairs to join and to cut in the space's neighbour graph; a space without one (the
        identity) ignores them and keeps ``links_`` None."""

    def fit_transform(self, X: np.ndarray, random_state: int | None = 0) -> np.ndarray:
        raise NotImplementedError

    def transform(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(JSON-able settings, arrays); array names start with ``space_`` so they share a result's npz."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(method={self.method!r})"


class IdentitySpace(ClusteringSpace):
    """No manifold step: k-means runs on the level-0 vectors (results saved before spaces existed load as this)."""

    method = "none"

    @property
    def is_identity(self) -> bool:
        return True

    def fit_transform(self, X: np.ndarray, random_state: int | None = 0) -> np.ndarray:
        return X

    def transform(self, X: np.ndarray) -> np.ndarray:
        return X

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"method": self.method}, {}
