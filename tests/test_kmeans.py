import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from hercules.clustering import TooFewDistinctPointsError, assign, kmeans, resample_refine


def blobs(n=3000, k=12, d=16, noise=0.2, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, d)).astype(np.float32) * 3
    y = rng.integers(0, k, n)
    return (centers[y] + noise * rng.normal(size=(n, d))).astype(np.float32), y


def test_recovers_separated_blobs_with_exactly_k_clusters():
    X, y = blobs()
    res = kmeans(X, 12, random_state=0)
    assert adjusted_rand_score(y, res.labels) > 0.95
    assert np.bincount(res.labels, minlength=12).min() > 0
    assert res.centroids.shape == (12, 16)


def test_centroids_are_member_means_and_inertia_is_consistent():
    X, _ = blobs(n=500)
    res = kmeans(X, 5, random_state=1)
    for j in range(5):
        np.testing.assert_allclose(res.centroids[j], X[res.labels == j].mean(axis=0), atol=1e-4)
    d = ((X - res.centroids[res.labels]) ** 2).sum()
    assert res.inertia == pytest.approx(d, rel=1e-3)


def test_inertia_close_to_sklearn():
    X, _ = blobs(n=4000, k=30, noise=1.0)
    ours = kmeans(X, 30, random_state=0).inertia
    theirs = KMeans(30, n_init=1, random_state=0).fit(X).inertia_
    assert ours <= theirs * 1.05


def test_subsampled_fit_then_assignment_pass():
    X, y = blobs(n=20000, k=10)
    res = kmeans(X, 10, random_state=0, max_points_per_centroid=50)  # fits on 500 points
    assert adjusted_rand_score(y, res.labels) > 0.95
    np.testing.assert_array_equal(res.labels, assign(X, res.centroids)[0])


def test_deterministic_and_leaves_global_rng_alone():
    X, _ = blobs(n=1000)
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    a = kmeans(X, 7, random_state=42)
    after = np.random.random()
    b = kmeans(X, 7, random_state=42)
    assert before == after
    np.testing.assert_array_equal(a.labels, b.labels)


def test_empty_clusters_are_refilled_not_dropped():
    # Two far groups, one tiny: bad init would leave clusters empty; we must still return k.
    X = np.vstack([np.zeros((50, 2)), np.ones((3, 2)) * 100, np.random.default_rng(0).normal(size=(20, 2)) + 50]).astype(
        np.float32
    )
    X[:50] += np.random.default_rng(1).normal(scale=0.01, size=(50, 2)).astype(np.float32)
    init = np.array([[0, 0], [0.001, 0.001], [0.002, 0], [100, 100]], dtype=np.float32)
    res = kmeans(X, 4, init=init, random_state=0)
    assert np.bincount(res.labels, minlength=4).min() > 0


def test_too_few_distinct_points_is_a_clear_error():
    X = np.repeat(np.eye(3, dtype=np.float32), 10, axis=0)  # 30 rows, 3 distinct
    with pytest.raises(TooFewDistinctPointsError, match="distinct"):
        kmeans(X, 5, random_state=0)
    with pytest.raises(TooFewDistinctPointsError):
        kmeans(X[:2], 3)


def test_rejects_nan():
    X = np.ones((10, 2), dtype=np.float32)
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        kmeans(X, 2)


def test_sample_weight_pulls_centroid():
    X = np.array([[0.0], [1.0], [10.0], [11.0]], dtype=np.float32)
    w = np.array([1.0, 9.0, 1.0, 1.0])
    res = kmeans(X, 2, sample_weight=w, random_state=0)
    left = res.labels[0]
    assert res.centroids[left, 0] == pytest.approx(0.9, abs=1e-5)


def test_resampling_refinement_keeps_k_and_quality():
    X, y = blobs(n=3000, k=8, noise=0.5)
    base = kmeans(X, 8, random_state=0)
    ref = resample_refine(X, base, iterations=5, points_per_cluster=20, random_state=0)
    assert np.bincount(ref.labels, minlength=8).min() > 0
    assert adjusted_rand_score(y, ref.labels) > 0.9
