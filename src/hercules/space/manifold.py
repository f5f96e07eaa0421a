"""The manifold space: UMAP to a few dimensions, where k-means sees the data's shape.

k-means on MiniLM vectors splits dense regions along directions that carry little meaning; UMAP's fuzzy
neighbour graph, laid out in 5 dimensions with ``min_dist = 0``, pulls each region of the neighbour graph
together so that k-means at the same k recovers more of the true classes (measured in
``benchmarks/bench_quality.py``). BERTopic clusters in the same space (5-d, 15 neighbours, ``min_dist = 0``).

It is the map layout's machinery (:mod:`hercules.layout.umap_layout`) with clustering settings: the exact
neighbour graph of (a sample of) the level-0 vectors (:mod:`hercules.space.knn`), umap-learn's optimiser, and
new items (and the items left out of a sampled fit) placed at the distance-weighted mean of the space
coordinates of their nearest fitted references (searched in a 64-d PCA of level 0), so a live space and a
reloaded one place every point identically.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import scipy.sparse as sp

from hercules.layout import NeighborLayout, PCAProjection, layout_from_arrays
from hercules.layout.fuzzy import fuzzy_graph, with_links
from hercules.layout.umap_layout import MAX_REFERENCE, PCA_DIMS, embed_graph
from hercules.space.base import ClusteringSpace
from hercules.space.knn import exact_knn

log = logging.getLogger(__name__)

#: Dimensions of the space, neighbours of the graph, and UMAP's packing (0: tight clumps, good for k-means).
N_COMPONENTS = 5
N_NEIGHBORS = 15
MIN_DIST = 0.0
#: Neighbour distances: "auto" is cosine (1 - cos) for unit-length rows, euclidean otherwise.
#: UMAP is fitted on at most this many items; the others are placed by k-NN over the fitted references.
FIT_SAMPLE = 20_000
_PREFIX = "space_"
_CHUNK = 100_000


def unit_rows(X: np.ndarray, tol: float = 1e-3) -> bool:
    """True when every row has unit length (normalised embeddings), judged on up to 10,000 rows."""
    norms = np.linalg.norm(X[:10_000], axis=1)
    return bool(np.all(np.abs(norms - 1.0) < tol))


class ManifoldSpace(ClusteringSpace):
    """UMAP space fitted on (a sample of) the items, new items placed by k-NN."""

    method = "umap"

    def __init__(
        self,
        n_components: int = N_COMPONENTS,
        n_neighbors: int = N_NEIGHBORS,
        min_dist: float = MIN_DIST,
        fit_sample: int | None = FIT_SAMPLE,
        metric: str = "auto",
    ) -> None:
        self.n_components = int(n_components)
        self.n_neighbors = int(n_neighbors)
        self.min_dist = float(min_dist)
        self.fit_sample = fit_sample
        self.metric = metric
        self.layout_: NeighborLayout | None = None
        #: The fit's fuzzy neighbour graph over ``fit_idx_`` (in memory only: the coarse levels read it during the fit).
        self.graph_: sp.csr_matrix | None = None
        self.fit_idx_: np.ndarray | None = None
        self.links_: tuple[np.ndarray, np.ndarray] | None = None

    def set_links(self, join: np.ndarray, cut: np.ndarray) -> None:
        """Before the fit: pairs of item rows to join (certain neighbours) and to cut in the neighbour graph, e.g.
        a judge's triplet answers (anchor, closer) and (anchor, farther). The items join the fit sample."""
        self.links_ = (np.asarray(join, dtype=np.int64).reshape(-1, 2), np.asarray(cut, dtype=np.int64).reshape(-1, 2))

    def fit_transform(self, X: np.ndarray, random_state: int | None = 0) -> np.ndarray:
        """UMAP of (a sample of) ``X`` on its exact neighbour graph; the other rows placed by :meth:`transform`."""
        X = np.asanyarray(X)
        fit_idx, Yf = self.fit_reference(X, random_state)
        Y = np.empty((len(X), self.n_components), dtype=np.float32)
        Y[fit_idx] = Yf
        rest = np.setdiff1d(np.arange(len(X)), fit_idx, assume_unique=True)
        for s in range(0, len(rest), _CHUNK):  # no copy of the whole remainder at once
            Y[rest[s : s + _CHUNK]] = self.transform(X[rest[s : s + _CHUNK]])
        return Y

    def fit_reference(self, X: np.ndarray, random_state: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
        """The fit itself: (sorted sample rows, their UMAP coordinates); every other row goes through :meth:`transform`
        (in :meth:`fit_transform`, or per block on a Ray cluster: :mod:`hercules.engines.ray_space`)."""
        n, d = X.shape
        rng = np.random.default_rng(random_state)
        sample = self.fit_sample
        fit_idx = np.sort(rng.choice(n, sample, replace=False)) if sample is not None and n > sample else np.arange(n)
        if self.links_ is not None and len(fit_idx) < n:  # linked items always join the fit sample
            fit_idx = np.union1d(fit_idx, np.concatenate([p.ravel() for p in self.links_]))
        log.info("clustering space: UMAP of %d of %d items to %d dimensions", len(fit_idx), n, self.n_components)
        Xf = self._rows(np.ascontiguousarray(X[fit_idx], dtype=np.float32))
        idx, dist = exact_knn(Xf, max(2, min(self.n_neighbors, len(Xf) - 1)))
        if self.metric == "cosine" or (self.metric == "auto" and unit_rows(Xf)):
            dist = dist * dist / 2  # unit vectors: 1 - cos (text embeddings; what BERTopic's UMAP uses)
        n_epochs = 200 if len(Xf) > 10_000 else 500  # umap-learn's defaults
        self.graph_, self.fit_idx_ = fuzzy_graph(idx, dist), fit_idx
        if self.links_ is not None:
            join, cut = (np.searchsorted(fit_idx, p) for p in self.links_)
            self.graph_ = with_links(self.graph_, join, cut)
            log.info("clustering space: %d judged pairs joined, %d cut in the neighbour graph", len(join), len(cut))
        Yf = embed_graph(Xf, self.graph_, self.n_components, self.min_dist, random_state, n_epochs)
        pca = PCAProjection(min(d, PCA_DIMS)).fit(Xf, random_state=random_state)
        ref = np.arange(len(fit_idx))
        if len(ref) > MAX_REFERENCE:
            ref = np.sort(rng.choice(len(fit_idx), MAX_REFERENCE, replace=False))
        self.layout_ = NeighborLayout(pca, pca.transform(Xf[ref]), Yf[ref])
        return fit_idx, Yf

    def transform(self, X: np.ndarray) -> np.ndarray:
        if self.layout_ is None:
            raise RuntimeError("ManifoldSpace is not fitted")
        return self.layout_.transform(self._rows(np.asarray(X, dtype=np.float32)))

    def _rows(self, X: np.ndarray) -> np.ndarray:
        """The rows the space works on: scaled to unit length under the cosine metric (so that neighbours, the
        1 - cos distances and the placement of new items all follow angles), else as given."""
        if self.metric != "cosine":
            return X
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        return X / np.where(norms > 0, norms, 1.0)

    def _settings(self) -> dict[str, Any]:
        return {
            "n_components": self.n_components,
            "n_neighbors": self.n_neighbors,
            "min_dist": self.min_dist,
            "fit_sample": self.fit_sample,
            "metric": self.metric,
        }

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        if self.layout_ is None:
            raise RuntimeError("ManifoldSpace is not fitted")
        arrays = {_PREFIX + k: v for k, v in self.layout_.to_arrays().items()}
        return {"method": self.method, **self._settings()}, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> ManifoldSpace:
        space = cls(**{k: meta[k] for k in ("n_components", "n_neighbors", "min_dist", "fit_sample", "metric") if k in meta})
        layout = layout_from_arrays({k[len(_PREFIX) :]: v for k, v in arrays.items() if k.startswith(_PREFIX)})
        if not isinstance(layout, NeighborLayout):
            raise ValueError("the stored UMAP space holds no neighbour reference")
        space.layout_ = layout
        return space

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._settings().items())
        return f"ManifoldSpace({args})"
