"""Layouts: PCA and UMAP fit, persist as plain arrays, reload and place new points identically."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from hercules.layout import fit_layout, layout_from_arrays, umap_available
from hercules.layout.neighbors import BRUTE_FORCE_MAX, NeighborIndex

needs_umap = pytest.mark.skipif(not umap_available(), reason="umap-learn is not installed")


def blobs(n: int = 600, d: int = 24, k: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, d)) * 6
    y = rng.integers(0, k, n)
    return (centers[y] + rng.normal(size=(n, d))).astype(np.float32), y


def reload(layout, tmp_path):
    """Through an .npz on disk, read back without pickle: what a saved result goes through."""
    arrays = layout.to_arrays()
    assert all(k.startswith("layout_") for k in arrays)
    assert all(np.asarray(a).dtype != object for a in arrays.values())
    np.savez(tmp_path / "layout.npz", **arrays)
    with np.load(tmp_path / "layout.npz", allow_pickle=False) as f:
        return layout_from_arrays(dict(f))


def test_pca_round_trip(tmp_path):
    X, _ = blobs()
    lay = fit_layout(X, method="pca")
    assert lay.method == "pca" and lay.coords_.shape == (600, 2) and lay.coords_.dtype == np.float32
    new, _ = blobs(50, seed=1)
    again = reload(lay, tmp_path)
    assert again.method == "pca"
    np.testing.assert_allclose(again.transform(new), lay.transform(new), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(lay.transform(X), lay.coords_, atol=1e-5)


def test_pca_three_components_and_few_dimensions():
    X, _ = blobs(40, d=2)
    lay = fit_layout(X, method="pca", n_components=3)
    assert lay.coords_.shape == (40, 3)
    assert np.allclose(lay.coords_[:, 2], 0)  # 2-d data: the third component is padding


@needs_umap
def test_umap_round_trip_and_fitted_points(tmp_path):
    X, y = blobs()
    lay = fit_layout(X, method="umap")
    assert lay.method == "umap" and lay.coords_.shape == (600, 2)
    new, _ = blobs(50, seed=1)
    again = reload(lay, tmp_path)
    assert again.method == "umap"
    np.testing.assert_array_equal(again.transform(new), lay.transform(new))
    extent = np.ptp(lay.coords_, axis=0).max()
    err = np.linalg.norm(lay.transform(X) - lay.coords_, axis=1)
    assert np.median(err) < 1e-3 * extent and err.max() < 0.05 * extent
    # UMAP separates the blobs: each blob's spread is small against the distance between blob centres
    cents = np.stack([lay.coords_[y == c].mean(axis=0) for c in range(4)])
    spread = max(np.linalg.norm(lay.coords_[y == c] - cents[c], axis=1).mean() for c in range(4))
    gap = min(np.linalg.norm(cents[a] - cents[b]) for a in range(4) for b in range(a + 1, 4))
    assert spread < gap / 2


@needs_umap
def test_umap_on_a_sample_places_the_rest(tmp_path):
    X, y = blobs(2000, seed=2)
    lay = fit_layout(X, method="umap", sample=300)
    assert lay.coords_.shape == (2000, 2) and np.isfinite(lay.coords_).all()
    assert len(lay.reference) == 300
    # placed points land with their own blob: the nearest blob centre (from fitted points) is their own
    cents = np.stack([lay.coords_[y == c].mean(axis=0) for c in range(4)])
    nearest = np.linalg.norm(lay.coords_[:, None] - cents[None], axis=2).argmin(axis=1)
    assert (nearest == y).mean() > 0.98
    np.testing.assert_array_equal(reload(lay, tmp_path).transform(X[:100]), lay.transform(X[:100]))


def test_auto_falls_back_to_pca_without_umap(monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)  # "import umap" now raises ImportError
    assert not umap_available()
    X, _ = blobs(100)
    assert fit_layout(X, method="auto").method == "pca"
    with pytest.raises(ImportError, match="umap-learn"):
        fit_layout(X, method="umap")


def test_tiny_inputs_use_pca():
    X, _ = blobs(8)
    assert fit_layout(X, method="umap").method == "pca"
    assert fit_layout(X[:1], method="pca").coords_.shape == (1, 2)


def test_bad_arguments():
    X, _ = blobs(50)
    with pytest.raises(ValueError, match="unknown layout method"):
        fit_layout(X, method="tsne")
    with pytest.raises(ValueError, match="non-empty"):
        fit_layout(np.zeros((0, 4)))
    with pytest.raises(ValueError, match="sample"):
        fit_layout(X, sample=3)
    with pytest.raises(KeyError):
        layout_from_arrays({})


def test_inverted_file_search_finds_true_neighbours():
    rng = np.random.default_rng(0)
    R = (rng.normal(size=(BRUTE_FORCE_MAX + 2000, 16)) + rng.integers(0, 8, (BRUTE_FORCE_MAX + 2000, 1)) * 3).astype(np.float32)
    Q = R[:500] + rng.normal(scale=0.05, size=(500, 16)).astype(np.float32)
    index = NeighborIndex(R)
    assert len(index.cand) > 1  # cells, not brute force
    idx, dist = index.query(Q, 5)
    true = ((Q[:, None] - R[None]) ** 2).sum(axis=2).argmin(axis=1)
    assert (idx[:, 0] == true).mean() > 0.97
    assert (np.diff(dist, axis=1) >= -1e-5).all()  # sorted nearest first
    own, _ = index.query(R[:300], 1)
    assert (own[:, 0] == np.arange(300)).all()  # a reference point finds itself
