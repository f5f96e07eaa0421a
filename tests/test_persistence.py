import json
import time

import numpy as np
import pytest

import hercules
from hercules import Hercules
from hercules.persistence import ResultFormatError
from tests.conftest import make_corpus


def test_roundtrip_keeps_tree_labels_and_predict(tmp_path, corpus):
    m = Hercules([12, 4], embedder="hashing:256", progress=False).fit(corpus)
    m.save(tmp_path / "r")
    back = hercules.load(tmp_path / "r")
    assert back.levels_ == m.levels_
    np.testing.assert_array_equal(back.hierarchy_.all_item_labels(), m.hierarchy_.all_item_labels())
    assert [c.title for c in back.clusters(1)] == [c.title for c in m.clusters(1)]
    assert back.tree_text() == m.tree_text()
    np.testing.assert_array_equal(back.predict(corpus.head(30), level=2), m.predict(corpus.head(30), level=2))
    np.testing.assert_allclose(back.projection_.transform(m.embeddings_[:5]), m.coords_[:5], atol=1e-5)
    assert back.membership().equals(m.membership())
    assert back.get_params()["levels"] == [12, 4]


def test_json_is_readable_and_versioned(tmp_path, corpus):
    Hercules([6, 2], embedder="hashing:64", progress=False).fit(corpus).save(tmp_path / "r", embeddings=None)
    meta = json.loads((tmp_path / "r" / "hercules.json").read_text())
    assert meta["schema_version"] == 1 and meta["modality"] == "text"
    top = meta["levels"][1]["clusters"]
    assert sum(c["size"] for c in top) == len(corpus)
    assert all(c["children"] and c["title"] for c in top)
    assert not (tmp_path / "r" / "embeddings.npy").exists()


def test_refuses_foreign_or_future_folders(tmp_path, corpus):
    (tmp_path / "x").mkdir()
    with pytest.raises(ResultFormatError):
        hercules.load(tmp_path / "x")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("precious")
    m = Hercules([4], embedder="hashing:64", progress=False).fit(corpus)
    with pytest.raises(FileExistsError):
        m.save(tmp_path / "other")
    assert (tmp_path / "other" / "keep.txt").read_text() == "precious"
    m.save(tmp_path / "r")
    meta = json.loads((tmp_path / "r" / "hercules.json").read_text())
    meta["schema_version"] = 99
    (tmp_path / "r" / "hercules.json").write_text(json.dumps(meta))
    with pytest.raises(ResultFormatError, match="newer"):
        hercules.load(tmp_path / "r")


def test_numeric_and_vectors_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    m = Hercules([6, 2], progress=False).fit(X)
    m.save(tmp_path / "n")
    back = hercules.load(tmp_path / "n")
    np.testing.assert_array_equal(back.predict(X[:50]), m.predict(X[:50]))
    v = Hercules([5], progress=False).fit(embeddings=X.astype(np.float32))
    v.save(tmp_path / "v")
    assert hercules.load(tmp_path / "v").dataset_.modality == "vectors"


def test_loads_100k_items_fast(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100_000, 32)).astype(np.float32)
    texts = make_corpus(n_per_topic=10).text.tolist()
    items = [texts[i % len(texts)] + f" #{i}" for i in range(len(X))]
    Hercules([200, 20, 4], progress=False).fit(items, embeddings=X).save(tmp_path / "big")
    t = time.perf_counter()
    back = hercules.load(tmp_path / "big")
    elapsed = time.perf_counter() - t
    assert back.hierarchy_.n_items == 100_000
    # generous bound for a shared CI box; the benchmark reports the real figure
    assert elapsed < 5.0
