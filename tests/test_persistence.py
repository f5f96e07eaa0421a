import json
import os

import numpy as np
import pytest

import hercules
from hercules import Hercules
from hercules.persistence import DestinationError, ResultFormatError, check_destination
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
    np.testing.assert_allclose(back.layout_.transform(m.embeddings_[:5]), m.coords_[:5], atol=1e-5)
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
    with pytest.raises(DestinationError, match="other files"):
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


def test_loads_100k_items_memory_mapped(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100_000, 32)).astype(np.float32)
    texts = make_corpus(n_per_topic=10).text.tolist()
    items = [texts[i % len(texts)] + f" #{i}" for i in range(len(X))]
    m = Hercules([200, 20, 4], progress=False).fit(items, embeddings=X)
    m.save(tmp_path / "big")
    back = hercules.load(tmp_path / "big")
    assert back.hierarchy_.n_items == 100_000
    assert isinstance(back.embeddings_, np.memmap)  # vectors stay on disk until used
    np.testing.assert_array_equal(back.labels_, m.labels_)


# ---------------------------------------------------------------- no data loss on save


@pytest.fixture()
def small_model(corpus):
    return Hercules([6, 2], embedder="hashing:64", progress=False).fit(corpus)


def test_an_existing_result_is_replaced_only_with_overwrite(tmp_path, small_model, corpus):
    dest = tmp_path / "r"
    small_model.save(dest)
    before = (dest / "hercules.json").read_bytes()
    other = Hercules([5, 2], embedder="hashing:64", progress=False).fit(corpus)
    with pytest.raises(DestinationError, match="already holds a hercules result"):
        other.save(dest)
    assert (dest / "hercules.json").read_bytes() == before  # untouched
    with pytest.raises(DestinationError):
        check_destination(dest)
    other.save(dest, overwrite=True)
    assert hercules.load(dest).levels_ == [5, 2]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".hercules")]  # no temporary leftovers


def test_overwrite_keeps_the_users_own_files_and_drops_stale_ones(tmp_path, small_model):
    dest = tmp_path / "r"
    small_model.save(dest)
    (dest / "notes.md").write_text("mine")
    small_model.save(dest, overwrite=True, embeddings=None)
    assert (dest / "notes.md").read_text() == "mine"
    assert not (dest / "embeddings.npy").exists()  # the new result has none; the old one is not left behind
    assert hercules.load(dest).embeddings_ is None


def test_a_crash_mid_save_leaves_the_old_result_intact(tmp_path, small_model, monkeypatch):
    dest = tmp_path / "r"
    small_model.save(dest)
    before = {p.name: p.read_bytes() for p in dest.iterdir()}

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("hercules.persistence.folder._items_frame", boom)
    with pytest.raises(OSError, match="disk full"):
        small_model.save(dest, overwrite=True)
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".hercules")]


def test_destination_that_cannot_be_written_fails_before_any_work(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(DestinationError, match="cannot write|not a folder"):
        check_destination(blocker / "result")
    with pytest.raises(DestinationError, match="not a folder"):
        check_destination(blocker)
    assert check_destination(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # the check creates nothing


# ---------------------------------------------------------------- damaged results


def _damage(dest, name, how):
    path = dest / name
    if how == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif how == "delete":
        path.unlink()
    elif how == "garbage":
        path.write_bytes(b"not what you expect")


@pytest.mark.parametrize(
    "name,how,message",
    [
        ("arrays.npz", "truncate", "arrays.npz"),
        ("arrays.npz", "delete", "arrays.npz is missing"),
        ("embeddings.npy", "truncate", "embeddings.npy"),
        ("items.parquet", "delete", "items.parquet is missing"),
        ("items.parquet", "garbage", "items.parquet is damaged"),
        ("hercules.json", "truncate", "hercules.json is damaged"),
    ],
)
def test_a_damaged_file_is_one_clear_error(tmp_path, small_model, name, how, message):
    dest = tmp_path / "r"
    small_model.save(dest)
    _damage(dest, name, how)
    with pytest.raises(ResultFormatError, match=message):
        hercules.load(dest)


def _edit_arrays(dest, **changes):
    with np.load(dest / "arrays.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes)
    np.savez(dest / "arrays.npz", **arrays)


def test_parent_links_are_checked_against_the_json(tmp_path, small_model):
    dest = tmp_path / "r"
    small_model.save(dest)
    parent = small_model.hierarchy_.level(2).parent
    _edit_arrays(dest, parent_L2=np.full_like(parent, 99))
    with pytest.raises(ResultFormatError, match="parent_L2 points outside"):
        hercules.load(dest)
    _edit_arrays(dest, parent_L2=parent[:-1])
    with pytest.raises(ResultFormatError, match="parent_L2 has shape"):
        hercules.load(dest)


def test_wrong_schema_or_empty_tree_is_refused(tmp_path, small_model):
    dest = tmp_path / "r"
    small_model.save(dest)
    meta = json.loads((dest / "hercules.json").read_text())
    for broken, message in (({**meta, "schema_version": "x"}, "schema_version"), ({**meta, "levels": []}, "damaged")):
        (dest / "hercules.json").write_text(json.dumps(broken))
        with pytest.raises(ResultFormatError, match=message):
            hercules.load(dest)
    assert os.path.exists(dest / "arrays.npz")


def test_schema_2_membership_parts_load_and_are_checked(tmp_path, corpus):
    """A schema-2 result (what engine="ray" writes): level 1's parents are the L1 column of membership/ Parquet
    parts, not in arrays.npz; it loads to the same hierarchy, is saved again as schema 2, and a part missing rows
    is one clear error. (Written here by hand, so this runs without Ray; tests/test_ray.py writes it on a cluster.)"""
    import pandas as pd

    m = Hercules([8, 3], embedder="hashing:64", progress=False).fit(corpus)
    m.save(tmp_path / "r", embeddings=None)
    r = tmp_path / "r"
    with np.load(r / "arrays.npz") as z:
        arrays = {k: z[k] for k in z.files if k != "parent_L1"}
    np.savez(r / "arrays.npz", **arrays)
    meta = json.loads((r / "hercules.json").read_text())
    (r / "hercules.json").write_text(json.dumps({**meta, "schema_version": 2}))
    (r / "membership").mkdir()
    labels = m.hierarchy_.all_item_labels()
    rows = np.random.default_rng(0).permutation(len(corpus))
    for i, part in enumerate(np.array_split(rows, 3)):
        cols = {"row": part, "id": m.dataset_.stored_ids()[part], **{f"L{t + 1}": labels[t][part] for t in range(2)}}
        pd.DataFrame(cols).to_parquet(r / "membership" / f"part-{i:05d}.parquet")
    back = hercules.load(r)
    np.testing.assert_array_equal(back.hierarchy_.all_item_labels(), labels)
    assert back.membership().equals(m.membership()) and back.membership_parts_ is not None
    back.save(tmp_path / "again")
    assert json.loads((tmp_path / "again" / "hercules.json").read_text())["schema_version"] == 2
    np.testing.assert_array_equal(hercules.load(tmp_path / "again").labels_, m.labels_)
    pd.read_parquet(r / "membership" / "part-00001.parquet").iloc[1:].to_parquet(r / "membership" / "part-00001.parquet")
    with pytest.raises(ResultFormatError, match="every item once"):
        hercules.load(r)
