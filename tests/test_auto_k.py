import numpy as np
from sklearn.metrics import silhouette_score

from hercules.clustering.auto_k import AutoKConfig, candidate_ks, choose_k, pairwise_distances, silhouette_from_distances
from hercules.pipeline.policy import LevelPolicy


def test_sampled_silhouette_equals_sklearn_when_not_sampling():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5)).astype(np.float32)
    labels = rng.integers(0, 4, 300)
    ours = silhouette_from_distances(pairwise_distances(X), labels, 4)
    assert abs(ours - silhouette_score(X, labels)) < 1e-6


def test_finds_the_number_of_well_separated_blobs():
    rng = np.random.default_rng(1)
    centers = rng.normal(size=(9, 20)) * 10
    X = (centers[rng.integers(0, 9, 2000)] + rng.normal(size=(2000, 20))).astype(np.float32)
    res = choose_k(X, AutoKConfig(n_candidates=30), random_state=0)
    assert res.k == 9
    assert len(res.candidates) == len(res.scores)


def test_candidates_respect_branching_and_bounds():
    cfg = AutoKConfig(max_k=50, min_branching=3)
    ks = candidate_ks(90, cfg)
    assert min(ks) == 2 and max(ks) <= 30
    assert max(candidate_ks(10**6, cfg)) == 50


def test_stopping_rule():
    policy = LevelPolicy(None, AutoKConfig(top_max=8, min_branching=3))
    assert policy.should_stop(2, 8) and not policy.should_stop(2, 9)
    assert not policy.should_stop(1, 4)  # level 1 always gets built
