"""2-D (or 3-D) layouts of the item vectors for maps: UMAP when umap-learn is installed, PCA otherwise.

>>> layout = fit_layout(vectors)          # layout.coords_: (n, 2) coordinates of `vectors`
>>> layout.transform(new_vectors)        # new items, in the same plane
>>> layout_from_arrays(layout.to_arrays())  # persisted as plain arrays (no pickle), transform unchanged

UMAP separates clusters that PCA stacks on top of each other (on Banking77 the 8 top clusters overlap in the
PCA plane). For large inputs it is fitted on ``sample`` points and the rest are placed by k-NN, so a million
items take minutes, not hours.
"""

from __future__ import annotations

import logging

import numpy as np

from hercules.layout.base import Layout, Place
from hercules.layout.pca import PCALayout, PCAProjection
from hercules.layout.umap_layout import NeighborLayout, import_umap

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_SAMPLE",
    "METHODS",
    "Layout",
    "NeighborLayout",
    "PCALayout",
    "PCAProjection",
    "Place",
    "fit_layout",
    "layout_from_arrays",
    "umap_available",
]

METHODS = ("auto", "umap", "pca")
#: UMAP is fitted on at most this many points by default; the others are placed by k-NN.
DEFAULT_SAMPLE = 20_000
#: Fewer points than this are laid out by PCA: UMAP's neighbour graph means little on a handful of points.
MIN_UMAP_POINTS = 16


def umap_available() -> bool:
    return import_umap() is not None


def fit_layout(
    vectors: np.ndarray,
    method: str = "auto",
    n_components: int = 2,
    random_state: int | None = 0,
    sample: int | None = DEFAULT_SAMPLE,
    placer: Place | None = None,
) -> Layout:
    """Fit a layout on ``vectors`` (n, d); the returned layout's ``coords_`` are their (n, n_components) float32
    coordinates.

    ``method``: "auto" (UMAP when umap-learn imports, else PCA), "umap" or "pca". ``sample``: fit UMAP on at most
    this many random points (None: all) and place the rest by k-NN; PCA always fits on at most 50,000 points.
    ``placer``: computes the coordinates of every item from the fitted layout (the same ``transform``, e.g. by Ray tasks
    where the vectors are; the rows UMAP was fitted on keep their coordinates), so only the fit samples are read here.
    """
    if method not in METHODS:
        raise ValueError(f"unknown layout method {method!r}; use one of {', '.join(METHODS)}")
    X = np.asanyarray(vectors)  # keeps a RowFile (rows read with pread, not mapped)
    if X.ndim != 2 or len(X) == 0:
        raise ValueError(f"expected a non-empty (n, d) matrix of vectors, got shape {X.shape}")
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float32)
    if n_components < 1:
        raise ValueError("n_components must be at least 1")
    if sample is not None and sample < MIN_UMAP_POINTS:
        raise ValueError(f"sample must be at least {MIN_UMAP_POINTS} (or None for no sampling)")
    use_umap = method == "umap" or (method == "auto" and umap_available())
    if use_umap and len(X) < MIN_UMAP_POINTS:
        log.warning("only %d points: using the PCA layout instead of UMAP", len(X))
        use_umap = False
    if use_umap:
        return NeighborLayout.fit(X, n_components=n_components, random_state=random_state, sample=sample, placer=placer)
    return PCALayout.fit(X, n_components=n_components, random_state=random_state, placer=placer)


def layout_from_arrays(arrays: dict[str, np.ndarray]) -> Layout:
    """Rebuild a layout from :meth:`Layout.to_arrays` output (e.g. read back from an ``.npz`` without pickle)."""
    if "layout_method" not in arrays:
        raise KeyError("no layout_method array: these arrays hold no layout")
    method = str(np.asarray(arrays["layout_method"]))
    if method == "pca":
        return PCALayout.from_arrays(arrays)
    if method == "umap":
        return NeighborLayout.from_arrays(arrays)
    raise ValueError(f"unknown stored layout method {method!r}")
