"""Size-weighted Ward of nodes (clustering/ward.py) and its use at the coarse levels (pipeline/coarse.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.metrics import adjusted_rand_score

from hercules.clustering.ward import ward
from hercules.pipeline.coarse import coarse_method, coarse_ward, parse_coarse


def test_weighted_ward_is_ward_of_the_items_the_nodes_stand_for():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    w = rng.integers(1, 6, size=60)
    items = np.repeat(X, w, axis=0)  # duplicates merge at zero cost first: then the same merges as the weighted nodes
    ref = fcluster(linkage(items, method="ward"), t=7, criterion="maxclust")
    ref_nodes = ref[np.cumsum(w) - 1]
    got = ward(X, 7, w)
    assert len(np.unique(got)) == 7
    assert adjusted_rand_score(ref_nodes, got) == pytest.approx(1.0)


def test_weights_change_the_merges():
    X = np.array([[0.0], [1.0], [2.2]])
    assert ward(X, 2).tolist() == [0, 0, 1]  # unweighted: 0 and 1 are closest
    assert ward(X, 2, np.array([100.0, 1.0, 1.0])).tolist() == [0, 1, 1]  # a heavy node is costly to move


def test_coarse_ward_groups_nodes_by_their_level0_means_and_keeps_space_centroids():
    rng = np.random.default_rng(1)
    items = np.vstack([rng.normal(c, 0.1, size=(20, 3)) for c in (0.0, 0.0, 5.0, 5.0)])  # 4 nodes, 2 far groups
    item_nodes = np.repeat(np.arange(4), 20)
    space = np.array([[0.0, 0.0], [9.0, 9.0], [0.1, 0.0], [9.0, 9.1]], dtype=np.float32)  # the space pairs them otherwise
    km = coarse_ward(items, item_nodes, space, np.full(4, 20), 2, unit=False)
    assert km.labels[0] == km.labels[1] and km.labels[2] == km.labels[3] and km.labels[0] != km.labels[2]
    np.testing.assert_allclose(km.centroids[km.labels[0]], space[:2].mean(axis=0), atol=1e-6)
    assert coarse_method("space", 3, 64, True) == "space"  # opt-in: it lost at level 3 on digits and Banking77
    assert coarse_method("ward", 3, 64, False) == "ward" and coarse_method("ward", 2, 64, False) == "space"
    assert coarse_method("ward", 3, 10**6, False) == "space"  # too many nodes for Ward: the space's k-means
    assert coarse_method("Ward:2", 2, 64, False) == "ward" and parse_coarse("ward") == ("ward", 3)


@pytest.mark.parametrize("bad", ["wards", "ward:1", "ward:x", "connectivity:", ""])
def test_parse_coarse_rejects_what_it_cannot_run(bad):
    with pytest.raises(ValueError, match="coarse must be"):
        parse_coarse(bad)


def test_ward_checks_its_arguments():
    with pytest.raises(ValueError, match="cannot merge"):
        ward(np.zeros((3, 2)), 4)
