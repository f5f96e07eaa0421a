"""The engine protocol and the in-process engine (today's code path, unchanged)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import pandas as pd

from hercules.clustering.kmeans import KMeansResult, kmeans
from hercules.data.dataset import Dataset
from hercules.data.readers import read_path
from hercules.embeddings.base import Embedder
from hercules.engines.membership import MembershipParts
from hercules.hierarchy.tree import Hierarchy
from hercules.space import ClusteringSpace

ENGINES = ("local", "ray")


class Engine(Protocol):
    """What the fit asks of an execution engine."""

    name: str

    def read(self, path: str | os.PathLike) -> Any:
        """The table at ``path`` (what :func:`hercules.data.read_path` reads), read where the engine runs: a DataFrame,
        or a table held elsewhere that :func:`hercules.data.prepare` asks for its ``Dataset``."""
        ...

    def wrap_embedder(self, embedder: Embedder) -> Embedder:
        """The same model (same ``model_id``, same vectors), run where the engine runs."""
        ...

    def fit_space(self, space: ClusteringSpace, X: np.ndarray, random_state: int | None) -> np.ndarray:
        """``space.fit_transform(X, random_state)``, its placement of every item run where the engine runs."""
        ...

    def kmeans(self, X: np.ndarray, k: int, **kwargs: Any) -> KMeansResult:
        """Level-1 k-means of the item vectors (the arguments of :func:`hercules.clustering.kmeans.kmeans`)."""
        ...

    def representatives(self, vectors: np.ndarray, parents: list[np.ndarray], centroids: np.ndarray, m: int) -> list | None:
        """Per cluster of level t (``parents``: the parent arrays of levels 1..t), its ``m`` items closest to
        ``centroids``, computed where the vectors are; None: the labeler computes them from ``vectors``."""
        ...

    def item_means(self, vectors: np.ndarray, parents: list[np.ndarray], k: int) -> np.ndarray | None:
        """(k, d) mean of ``vectors`` per cluster of level t (``parents``: levels 1..t), computed where the vectors are;
        None: the builder computes it from ``vectors``."""
        ...

    def placer(self, X: np.ndarray) -> Callable[[Any, np.ndarray, np.ndarray], np.ndarray] | None:
        """``(fitted, fit_rows, fit_Y) -> (n, c)``: ``fitted.transform`` of every row of ``X`` run where ``X`` is, the
        rows ``fit_rows`` keeping ``fit_Y``; None: the caller transforms ``X`` itself."""
        ...

    def term_counts(self, ds: Dataset, parents: list[np.ndarray], k: int) -> tuple[Any, np.ndarray] | None:
        """(k, terms) counts of the keyword titles' vocabulary per cluster of level t and the terms, computed where the
        texts are; None: the keyword labeler counts the driver's texts."""
        ...

    def membership(self, hierarchy: Hierarchy, ds: Dataset) -> MembershipParts | None:
        """Every item's cluster at every level written as Parquet parts where the level-1 labels are (before
        ``close``); None: the saved result holds them in ``arrays.npz`` (in-process)."""
        ...

    def release(self, ds: Dataset) -> None:
        """What of ``ds`` the engine holds (the Ray engine: texts read on the cluster) moved where it outlives the
        engine (Parquet parts on the driver's disk), before ``close``; a no-op in-process."""
        ...

    def close(self) -> None:
        """Give back what the engine started (a local Ray); a no-op in-process."""
        ...


class LocalEngine:
    """Everything in this process: the embedder as is, :func:`~hercules.clustering.kmeans.kmeans`."""

    name = "local"

    def read(self, path: str | os.PathLike) -> pd.DataFrame:
        return read_path(path)

    def wrap_embedder(self, embedder: Embedder) -> Embedder:
        return embedder

    def fit_space(self, space: ClusteringSpace, X: np.ndarray, random_state: int | None) -> np.ndarray:
        return space.fit_transform(X, random_state)

    def kmeans(self, X: np.ndarray, k: int, **kwargs: Any) -> KMeansResult:
        return kmeans(X, k, **kwargs)

    def representatives(self, vectors: np.ndarray, parents: list[np.ndarray], centroids: np.ndarray, m: int) -> list | None:
        return None

    def item_means(self, vectors: np.ndarray, parents: list[np.ndarray], k: int) -> np.ndarray | None:
        return None

    def placer(self, X: np.ndarray) -> Callable[[Any, np.ndarray, np.ndarray], np.ndarray] | None:
        return None

    def term_counts(self, ds: Dataset, parents: list[np.ndarray], k: int) -> tuple[Any, np.ndarray] | None:
        return None

    def membership(self, hierarchy: Hierarchy, ds: Dataset) -> MembershipParts | None:
        return None

    def release(self, ds: Dataset) -> None:
        return None

    def close(self) -> None:
        return None


def get_engine(name: str = "local", address: str | None = None, *, progress: bool = True) -> Engine:
    """``"local"`` or ``"ray"`` (``address``: a Ray cluster; default ``$RAY_ADDRESS``, else a local Ray for the run)."""
    if name == "local":
        if address is not None:
            raise ValueError("ray_address is only used with engine='ray'")
        return LocalEngine()
    if name == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise ImportError("engine='ray' needs Ray: pip install 'hercules-cluster[ray]'")
        from hercules.engines.ray_engine import RayEngine

        return RayEngine(address, progress=progress)
    raise ValueError(f"engine must be one of {', '.join(map(repr, ENGINES))}, got {name!r}")
