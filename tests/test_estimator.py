import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import adjusted_rand_score

from hercules import Hercules, InputError
from tests.conftest import make_corpus


def fit(df, **kw):
    params = {"embedder": "hashing:256", "progress": False}
    params.update(kw)
    return Hercules(**params).fit(df)


def test_fixed_levels_are_bottom_up_and_exact(corpus):
    m = fit(corpus, levels=[12, 6, 2])
    assert m.levels_ == [12, 6, 2]
    assert m.n_levels_ == 3 and len(m.clusters()) == 2
    assert adjusted_rand_score(corpus.topic, m.hierarchy_.item_labels(2)) > 0.8


def test_tree_is_consistent(corpus):
    m = fit(corpus, levels=[12, 6, 2])
    h = m.hierarchy_
    for t in range(1, 4):
        lvl = h.level(t)
        assert lvl.sizes.sum() == len(corpus)
        assert np.all(np.diff(lvl.sizes) <= 0)  # largest first
        np.testing.assert_array_equal(np.bincount(h.item_labels(t), minlength=lvl.k), lvl.sizes)
    for c in m.clusters(2):
        assert sum(k.size for k in c.children) == c.size
        assert all(k.parent.id == c.id for k in c.children)
        assert set(c.item_indices) == set(np.concatenate([k.item_indices for k in c.children]))
    leaf = m.clusters(1)[0]
    assert [a.level for a in leaf.ancestors] == [2, 3]
    assert m.cluster(leaf.id) == leaf and leaf.items(2)


def test_titles_are_keywords_of_members(corpus):
    m = fit(corpus, levels=[6])
    for c in m.clusters(1):
        topic = corpus.topic.iloc[c.item_indices].mode()[0]
        words = set(" ".join(c.keywords).split())
        from tests.conftest import TOPICS

        assert words & set(TOPICS[topic].split()), (c.title, topic)
        assert c.title and str(c.size) in c.description


def test_precomputed_embeddings_give_identical_result(corpus):
    a = fit(corpus, levels=[10, 3])
    b = Hercules([10, 3], progress=False).fit(corpus, embeddings=a.embeddings_)
    for t in (1, 2):
        np.testing.assert_array_equal(a.hierarchy_.item_labels(t), b.hierarchy_.item_labels(t))
    assert [c.title for c in a.clusters(1)] == [c.title for c in b.clusters(1)]


def test_deterministic_and_seed_matters(corpus):
    a, b = fit(corpus, levels=[15, 4]), fit(corpus, levels=[15, 4])
    np.testing.assert_array_equal(a.labels_, b.labels_)
    c = fit(corpus, levels=[15, 4], random_state=7)
    assert not np.array_equal(a.hierarchy_.level(1).centroids, c.hierarchy_.level(1).centroids)


def test_sklearn_conventions(corpus):
    m = Hercules([8, 3], embedder="hashing:128", progress=False).fit(corpus)
    assert m.get_params()["levels"] == [8, 3] and m.levels_ == [8, 3]
    m.set_params(levels=[9, 3])
    labels = m.fit_predict(corpus)
    np.testing.assert_array_equal(labels, m.labels_)
    assert m.levels_ == [9, 3]
    copy = clone(m)  # parameters only: the fitted state stays behind
    assert copy.get_params()["levels"] == [9, 3] and not hasattr(copy, "hierarchy_")


def test_predict_routes_new_items_through_every_level(corpus):
    m = fit(corpus, levels=[12, 6, 2])
    same = m.predict(corpus, level=1)
    assert (same == m.labels_).mean() > 0.95
    np.testing.assert_array_equal(m.predict(corpus, level=3), m.hierarchy_.level(3).parent[m.hierarchy_.level(2).parent[same]])
    new = pd.DataFrame({"text": ["rocket launch to the moon", "bake the dough in the oven"]})
    mem = m.predict_membership(new)
    assert list(mem.columns) == [f"L{t}_cluster_{x}" for t in (1, 2, 3) for x in ("id", "title")]
    space_cluster = m.predict(new, level=2)[0]
    members = corpus.topic.iloc[np.flatnonzero(m.hierarchy_.item_labels(2) == space_cluster)]
    assert members.mode()[0] == "space"


def test_membership_frame(corpus):
    m = fit(corpus, levels=[10, 3])
    mem = m.membership()
    assert len(mem) == len(corpus) and mem.index.name == "id"
    assert mem["item"].iloc[0] == corpus.text.iloc[0]
    assert "topic" in mem.columns  # metadata kept
    assert mem["L2_cluster_title"].iloc[0] == m.cluster(str(mem["L2_cluster_id"].iloc[0])).title


def test_print_tree(corpus, capsys):
    m = fit(corpus, levels=[10, 3])
    m.print_tree(show_items=1)
    out = capsys.readouterr().out
    assert out.startswith("240 text items in 2 level(s)")
    assert out.count("L2-") == 3 and "L1-" in out


def test_auto_k_does_not_collapse_to_two(corpus):
    big = make_corpus(n_per_topic=120)
    m = fit(big, levels="auto")
    assert m.levels_[0] >= 6
    assert m.levels_[-1] <= 8
    assert m.hierarchy_.level(1).auto_k["candidates"]


def test_unweighted_paper_mode_and_resampling(corpus):
    m = fit(corpus, levels=[20, 6], weighted=False, resampling=True, resampling_iterations=3)
    assert m.levels_ == [20, 6]
    assert adjusted_rand_score(corpus.topic, m.hierarchy_.item_labels(2)) > 0.6


def test_description_mode(corpus):
    m = fit(corpus, levels=[12, 4], representation="description")
    assert m.levels_ == [12, 4]
    assert m.hierarchy_.level(1).description_embeddings.shape[0] == 12
    with pytest.raises(InputError, match="description mode"):
        Hercules([5], representation="description", progress=False).fit(corpus, embeddings=np.ones((len(corpus), 3)))


def test_numeric_data_with_metadata():
    from sklearn.datasets import load_wine

    data = load_wine(as_frame=True)
    df = data.data
    m = Hercules([9, 3], progress=False, numeric_metadata={"alcohol": {"name": "Alcohol", "unit": "%vol"}}).fit(df)
    assert adjusted_rand_score(data.target, m.hierarchy_.item_labels(2)) > 0.7
    title = m.clusters(2)[0].title
    assert title.startswith(("High", "Low"))
    assert "%vol" in " ".join(c.description for c in m.clusters(1)) or "Alcohol" in " ".join(c.keywords[0] for c in m.clusters(1))
    # predict uses the stored scaler
    np.testing.assert_array_equal(m.predict(df.iloc[:20]), m.labels_[:20])


def test_digits_as_images(tmp_path):
    from PIL import Image
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    paths = []
    for i in range(300):
        p = tmp_path / f"d{i}.png"
        Image.fromarray((X[i].reshape(8, 8) * 16).astype(np.uint8)).save(p)
        paths.append(str(p))
    m = Hercules([20, 10], image_embedder="pixels", progress=False).fit(paths)
    assert m.dataset_.modality == "image"
    assert adjusted_rand_score(y[:300], m.hierarchy_.item_labels(2)) > 0.4
    assert m.clusters(1)[0].title and "8x8 px" in m.dataset_.descriptions[0]  # image facts describe each item


def test_bad_inputs_get_clear_errors(corpus):
    with pytest.raises(InputError, match="empty"):
        fit([])
    with pytest.raises(InputError, match="at least 3 items"):
        fit(["one", "two"], levels=[1])
    with pytest.raises(InputError, match="only 4 items"):
        fit(["a b", "c d", "e f", "g h"], levels=[5])
    with pytest.raises(InputError, match="distinct"):
        fit(["same text"] * 10, levels=[3])
    with pytest.raises(ValueError, match="strictly decrease"):
        fit(corpus, levels=[5, 10])
    with pytest.raises(InputError, match="NaN"):
        Hercules([3], progress=False).fit(None, embeddings=np.full((10, 4), np.nan))
    with pytest.raises(InputError, match="shape"):
        Hercules([3], progress=False).fit(corpus, embeddings=np.ones((5, 4)))
    with pytest.raises(NotFittedError, match="not fitted"):
        Hercules().predict(["x"])


def test_vectors_only_and_precomputed_predict_needs_embeddings():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(loc=i * 5, size=(50, 8)) for i in range(4)]).astype(np.float32)
    m = Hercules([4], progress=False).fit(embeddings=X)
    assert m.dataset_.modality == "vectors" and m.levels_ == [4]
    np.testing.assert_array_equal(m.predict(embeddings=X), m.labels_)
    with pytest.raises(InputError, match="embeddings="):
        m.predict(["new text"])


def test_description_mode_on_numeric_data():
    from sklearn.datasets import load_iris

    X = load_iris(as_frame=True).data
    m = Hercules([6, 3], representation="description", embedder="wordllama", progress=False).fit(X)
    assert m.levels_ == [6, 3]
    assert m.embeddings_.shape == (150, 256)  # L0 vectors are embedded value descriptions
    # an embedder blind to numbers sees identical descriptions: a clear error, not a silent collapse
    with pytest.raises(InputError, match="distinct"):
        Hercules([6, 3], representation="description", embedder="hashing:128", progress=False).fit(X)


def test_fit_leaves_global_random_state_alone(corpus):
    import random

    np.random.seed(5)
    random.seed(5)
    expected = (np.random.random(), random.random())
    np.random.seed(5)
    random.seed(5)
    fit(corpus, levels=[8, 3], resampling=True)
    fit(corpus, levels="auto")
    assert (np.random.random(), random.random()) == expected


def test_project_new_items(corpus):
    m = fit(corpus, levels=[8, 3], n_components=3)
    assert m.coords_.shape == (len(corpus), 3)
    np.testing.assert_allclose(m.project(corpus.head(5)), m.coords_[:5], atol=1e-5)
    assert m.hierarchy_.level(2).coords.shape == (3, 3)


def test_keyword_titles_skip_near_duplicates():
    from hercules.labeling.keywords import _pick_distinct

    assert _pick_distinct(["card working", "card work", "cards", "broken", "card"], 3) == ["card working", "broken"]
    assert _pick_distinct(["transfer", "transaction"], 2) == ["transfer", "transaction"]
