import numpy as np
import pandas as pd
import pytest

from hercules import Hercules
from hercules.evaluation import (
    external_metrics,
    hungarian_accuracy,
    internal_metrics,
    pair_agreement,
    resolve_labels,
    sibling_distinctness,
    title_alignment,
)


def test_external_metrics_known_answers():
    y = ["a", "a", "b", "b", "c", "c"]
    perfect = external_metrics(y, [2, 2, 0, 0, 1, 1])  # renamed clusters are still perfect
    assert all(v == pytest.approx(1.0) for v in perfect.values())
    merged = external_metrics(y, [0, 0, 0, 0, 1, 1])
    assert merged["completeness"] == pytest.approx(1.0) and merged["homogeneity"] < 1
    assert merged["accuracy"] == pytest.approx(4 / 6)


def test_hungarian_accuracy_with_more_clusters_than_classes():
    assert hungarian_accuracy([0, 0, 0, 1, 1, 1], [0, 0, 1, 2, 2, 2]) == pytest.approx(5 / 6)


def test_internal_metrics():
    X = np.array([[0, 0], [0, 0.1], [5, 5], [5, 5.1]], dtype=np.float32)
    good = internal_metrics(X, [0, 0, 1, 1])
    bad = internal_metrics(X, [0, 1, 0, 1])
    assert good["silhouette"] > 0.9 > bad["silhouette"]
    assert good["davies_bouldin"] < bad["davies_bouldin"]
    assert good["calinski_harabasz"] > bad["calinski_harabasz"]
    assert internal_metrics(X, [0, 0, 0, 0])["silhouette"] is None


def test_pair_agreement_known_answers():
    truth = [0, 0, 0, 1, 1, 1]
    # tree splits group 0 into {0,1},{2}: 1 of its 3 pairs kept; group 1 intact: 3 of 3
    r = pair_agreement(truth, [0, 0, 1, 2, 2, 2])
    assert r["pair_recall"] == pytest.approx(4 / 6)
    assert r["pair_precision"] == pytest.approx(1.0)
    assert pair_agreement(truth, [0] * 6)["pair_precision"] == pytest.approx(6 / 15)


def test_title_alignment_and_sibling_distinctness():
    names = ["cats", "dogs"]
    name_vecs = np.array([[1.0, 0], [0, 1.0]])
    titles = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])
    assert title_alignment(titles, ["cats", "dogs", "dogs"], names, name_vecs) == pytest.approx(2 / 3)
    d = sibling_distinctness(np.array([[1.0, 0], [1.0, 0], [0, 1.0]]), np.array([0, 0, 0]), ["A", "a", "B"])
    assert d["duplicate_sibling_titles"] == pytest.approx(1 / 3)
    assert d["sibling_title_similarity"] == pytest.approx(1 / 3)


def test_model_evaluate_all_levels(corpus):
    m = Hercules([12, 6, 2], embedder="hashing:256", progress=False, topic_seed="space travel").fit(corpus)
    df = m.evaluate(labels="topic", class_names=True, truth_levels={"topic": corpus.topic.to_numpy()})
    assert list(df.index) == [1, 2, 3]
    assert df.loc[2, "ari"] > 0.8 and df.loc[2, "accuracy"] > 0.8
    assert df.loc[1, "topic_pair_recall"] < df.loc[3, "topic_pair_recall"]  # coarser levels keep more pairs
    assert {"items_silhouette", "prev_level_silhouette", "description_silhouette", "topic_alignment", "title_alignment"} <= set(
        df.columns
    )
    one = m.evaluate(2, corpus.topic)
    assert one["ari"] == pytest.approx(df.loc[2, "ari"])


def test_resolve_labels_errors(corpus):
    m = Hercules([6], embedder="hashing:64", progress=False).fit(corpus)
    with pytest.raises(KeyError, match="nope"):
        resolve_labels(m, "nope")
    with pytest.raises(ValueError, match="labels for"):
        resolve_labels(m, [1, 2])
    by_id = pd.Series(corpus.topic.to_numpy(), index=range(len(corpus)))
    assert (resolve_labels(m, by_id) == corpus.topic.to_numpy()).all()
