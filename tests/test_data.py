import numpy as np
import pandas as pd
import pytest
from PIL import Image

from hercules.data import InputError, prepare, read_path


def test_list_of_strings_is_text():
    ds = prepare(["a cat", "a dog", "a bird"])
    assert ds.modality == "text" and ds.texts == ["a cat", "a dog", "a bird"]
    assert list(ds.ids) == [0, 1, 2]


def test_dataframe_keeps_other_columns_as_metadata():
    df = pd.DataFrame({"body": ["long text here", "another long text"], "label": ["x", "y"], "score": [1, 2]})
    ds = prepare(df)
    assert ds.modality == "text" and ds.texts[0] == "long text here"
    assert list(ds.metadata.columns) == ["label", "score"]


def test_text_column_and_id_column():
    df = pd.DataFrame({"id": ["a", "b"], "t": ["x y", "z w"]})
    ds = prepare(df, text_column="t", id_column="id")
    assert list(ds.ids) == ["a", "b"]
    with pytest.raises(InputError, match="not found"):
        prepare(df, text_column="nope")


def test_series_index_becomes_ids_and_must_be_unique():
    ds = prepare(pd.Series(["a b", "c d"], index=["k1", "k2"]))
    assert list(ds.ids) == ["k1", "k2"]
    with pytest.raises(InputError, match="unique"):
        prepare(pd.Series(["a", "b"], index=["k", "k"]))


def test_unicode_numpy_array_and_dict():
    assert prepare(np.array(["x", "y"])).modality == "text"
    ds = prepare({"u1": "hello there", "u2": "bye now"})
    assert list(ds.ids) == ["u1", "u2"]


def test_mixed_types_become_strings_and_bytes_are_decoded():
    ds = prepare(["text", 42, b"caf\xc3\xa9", b"bad \xff byte"])
    assert ds.texts[1] == "42" and ds.texts[2] == "café" and "\ufffd" in ds.texts[3]
    assert any("decoded" in n for n in ds.notes)


def test_empty_input_and_missing_texts():
    with pytest.raises(InputError, match="empty"):
        prepare([])
    with pytest.raises(InputError, match=r"2 item\(s\) have empty or missing text \(ids: 1, 3\)"):
        prepare(["ok", None, "fine", "  "])
    ds = prepare(["ok", None, "fine", "  "], missing="drop")
    assert ds.texts == ["ok", "fine"] and list(ds.ids) == [0, 2]


def test_huge_texts_are_truncated_with_a_note():
    ds = prepare(["x" * 100_000, "short"])
    assert len(ds.texts[0]) == 20_000 and any("truncated" in n for n in ds.notes)


def test_numeric_detection_nan_and_metadata():
    df = pd.DataFrame({"age": [30, 40, np.nan], "income": [1.0, 2.0, 3.0]})
    with pytest.raises(InputError, match=r"NaN or infinite.*age"):
        prepare(df)
    ds = prepare(df, missing="drop", numeric_metadata={"income": {"name": "Income", "unit": "EUR"}})
    assert ds.modality == "numeric" and ds.numeric.shape == (2, 2)
    # metadata renames only the column it names (pyhercules renamed the rest to feature_i)
    assert [v.name for v in ds.variables] == ["age", "Income"] and ds.variables[1].unit == "EUR"
    with pytest.raises(InputError, match="unknown column"):
        prepare(df.dropna(), numeric_metadata={"nope": {"name": "x"}})


def test_numeric_array_and_infinite_values():
    ds = prepare(np.arange(12.0).reshape(6, 2))
    assert ds.modality == "numeric" and ds.numeric.shape == (6, 2)
    with pytest.raises(InputError, match="NaN or infinite"):
        prepare(np.array([[1.0, np.inf], [2.0, 3.0]]))


def _png(path, color=(255, 0, 0)):
    Image.new("RGB", (8, 8), color).save(path)
    return str(path)


def test_images_and_broken_images_are_named(tmp_path):
    good = [_png(tmp_path / f"ok{i}.png") for i in range(3)]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    ds = prepare(good)
    assert ds.modality == "image"
    with pytest.raises(InputError, match="broken.jpg"):
        prepare([*good, str(broken)])
    ds = prepare([*good, str(broken)], missing="drop")
    assert len(ds) == 3 and "broken.jpg" in ds.notes[0]


def test_readers(tmp_path):
    df = pd.DataFrame({"text": ["alpha beta", "gamma delta"], "y": [1, 2]})
    df.to_csv(tmp_path / "a.csv", index=False)
    df.to_csv(tmp_path / "a.tsv", sep="\t", index=False)
    df.to_json(tmp_path / "a.jsonl", orient="records", lines=True)
    df.to_parquet(tmp_path / "a.parquet")
    (tmp_path / "a.txt").write_text("alpha beta\n\ngamma delta\n")
    for name in ["a.csv", "a.tsv", "a.jsonl", "a.parquet", "a.txt"]:
        got = read_path(tmp_path / name)
        assert got["text"].tolist() == ["alpha beta", "gamma delta"], name
    (tmp_path / "latin1.csv").write_bytes("text\ncaf\xe9\n".encode("latin-1"))
    assert "\ufffd" in read_path(tmp_path / "latin1.csv")["text"][0]
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="empty"):
        read_path(tmp_path / "empty.csv")
    with pytest.raises(InputError, match="unsupported"):
        (tmp_path / "x.docx").write_text("x")
        read_path(tmp_path / "x.docx")


def test_image_folder_is_recursive(tmp_path):
    (tmp_path / "sub").mkdir()
    _png(tmp_path / "a.png")
    _png(tmp_path / "sub" / "b.webp")
    (tmp_path / "notes.txt").write_text("x")
    df = read_path(tmp_path)
    assert sorted(df.index) == ["a.png", "sub/b.webp"]
