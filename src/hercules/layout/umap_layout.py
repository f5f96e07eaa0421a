"""UMAP layout, fitted on a sample and persisted as plain arrays.

The umap object itself is never saved (that would need pickle). What is saved: a linear PCA step (to at most
``PCA_DIMS`` dimensions, where distances are cheap), a capped reference sample of the fitted vectors in that
space (float16) and their UMAP coordinates. New points, and the points left out of a sampled fit, are placed at
the distance-weighted mean of their nearest references' coordinates (:mod:`hercules.layout.neighbors`), so a
live layout and a reloaded one place every point identically.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np

from hercules.layout.base import Layout, Place
from hercules.layout.fuzzy import fuzzy_graph
from hercules.layout.neighbors import NeighborIndex, place
from hercules.layout.pca import PCAProjection

log = logging.getLogger(__name__)

#: UMAP and the neighbour search run in a PCA space of at most this many dimensions.
PCA_DIMS = 64
#: Nearest references averaged to place a point.
K_PLACE = 8
#: UMAP settings for maps: more neighbours and looser packing than umap-learn's defaults (15, 0.1) keep each
#: top-level cluster in one region instead of many islands (compared side by side on Banking77 with MiniLM).
N_NEIGHBORS = 30
MIN_DIST = 0.25
#: Stored reference points (the whole fit sample when it is smaller).
MAX_REFERENCE = 20_000
_CHUNK = 100_000


def import_umap() -> Any:
    """The ``umap`` module, or None when umap-learn is not installed (or broken)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import umap  # noqa: PLC0415

        return umap
    except Exception:  # ImportError, or numba/llvmlite failing to load
        return None


def umap_embed(Z: np.ndarray, n_components: int, n_neighbors: int, min_dist: float, random_state: int | None) -> np.ndarray:
    """UMAP of ``Z``: our own k-NN graph (:mod:`hercules.layout.fuzzy`), umap-learn's layout optimisation."""
    idx, dist = NeighborIndex(Z).query(Z, n_neighbors)
    n_epochs = 200 if len(Z) > 10_000 else 300  # umap-learn uses 500 below 10k; 300 is 40% sooner (README pictures: 300)
    return embed_graph(Z, fuzzy_graph(idx, dist), n_components, min_dist, random_state, n_epochs)


def embed_graph(
    Z: np.ndarray, graph: Any, n_components: int, min_dist: float, random_state: int | None, n_epochs: int
) -> np.ndarray:
    """umap-learn's layout optimisation of a fuzzy neighbour ``graph`` of the rows of ``Z`` (also the
    clustering space's manifold step, :mod:`hercules.space`)."""
    from umap.umap_ import find_ab_params, simplicial_set_embedding

    a, b = find_ab_params(1.0, min_dist)
    rs = np.random.RandomState(random_state)
    init = "spectral" if len(Z) >= 100 else "random"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # spectral-init fallbacks on disconnected or tiny graphs
        Y, _ = simplicial_set_embedding(
            Z, graph, n_components, 1.0, a, b, 1.0, 5, n_epochs, init, rs, "euclidean", {}, False, {}, False
        )
    return np.asarray(Y, dtype=np.float32)


class NeighborLayout(Layout):
    """A nonlinear layout (UMAP) that places new points by k-NN over a stored reference sample."""

    method = "umap"

    def __init__(self, pca: PCAProjection, reference: np.ndarray, ref_coords: np.ndarray, k: int = K_PLACE) -> None:
        self.pca = pca
        self.reference = np.asarray(reference, dtype=np.float16)
        self.ref_coords = np.asarray(ref_coords, dtype=np.float32)
        self.k = int(k)
        self.n_components = int(self.ref_coords.shape[1])
        self.coords_ = None
        self._index: NeighborIndex | None = None

    @property
    def index(self) -> NeighborIndex:
        if self._index is None:
            self._index = NeighborIndex(self.reference)
        return self._index

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = np.asanyarray(X)
        out = np.empty((len(X), self.n_components), dtype=np.float32)
        for i in range(0, len(X), _CHUNK):
            Z = self.pca.transform(X[i : i + _CHUNK])
            out[i : i + _CHUNK] = place(self.index, self.ref_coords, Z, self.k)
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "layout_method": np.array(self.method),
            **self.pca.to_arrays(prefix="layout_pca_"),
            "layout_reference": self.reference,
            "layout_reference_coords": self.ref_coords,
            "layout_k": np.array(self.k),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> NeighborLayout:
        return cls(
            PCAProjection.from_arrays(arrays, prefix="layout_pca_"),
            arrays["layout_reference"],
            arrays["layout_reference_coords"],
            int(arrays["layout_k"]),
        )

    @classmethod
    def fit(
        cls,
        vectors: np.ndarray,
        n_components: int = 2,
        random_state: int | None = 0,
        sample: int | None = None,
        n_neighbors: int = N_NEIGHBORS,
        min_dist: float = MIN_DIST,
        placer: Place | None = None,
    ) -> NeighborLayout:
        """UMAP on (a sample of) the PCA-reduced vectors; the other vectors are placed by k-NN."""
        if import_umap() is None:
            raise ImportError("the UMAP layout needs umap-learn: pip install 'hercules-cluster[layout]'")
        n, d = vectors.shape
        rng = np.random.default_rng(random_state)
        fit_idx = np.sort(rng.choice(n, sample, replace=False)) if sample is not None and n > sample else np.arange(n)
        pca = PCAProjection(min(d, PCA_DIMS)).fit(vectors, random_state=random_state)
        Z = pca.transform(vectors[fit_idx])
        Y = umap_embed(Z, n_components, max(2, min(n_neighbors, len(fit_idx) - 1)), min_dist, random_state)
        ref_pos = np.arange(len(fit_idx))
        if len(ref_pos) > MAX_REFERENCE:
            ref_pos = np.sort(rng.choice(len(fit_idx), MAX_REFERENCE, replace=False))
        layout = cls(pca, Z[ref_pos], Y[ref_pos])
        if placer is not None:  # every point placed by the caller's ``placer`` (e.g. Ray tasks over blocks)
            layout.coords_ = placer(layout, fit_idx, Y)
            return layout
        coords = np.empty((n, n_components), dtype=np.float32)
        coords[fit_idx] = Y
        rest = np.setdiff1d(np.arange(n), fit_idx, assume_unique=True)
        if len(rest):
            log.info("UMAP fitted on %d of %d points; placing the other %d by %d-NN", len(fit_idx), n, len(rest), layout.k)
            for i in range(0, len(rest), _CHUNK):  # no copy of the whole remainder at once
                coords[rest[i : i + _CHUNK]] = layout.transform(vectors[rest[i : i + _CHUNK]])
        layout.coords_ = coords
        return layout
