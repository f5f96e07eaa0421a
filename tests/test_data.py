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


def test_malformed_files_name_the_file_and_line(tmp_path):
    (tmp_path / "d.jsonl").write_text('{"text": "a"}\n\n{"text": "b"}\n{"text": \n')
    with pytest.raises(InputError, match=r"d.jsonl, line 4: not valid JSON"):
        read_path(tmp_path / "d.jsonl")
    (tmp_path / "mixed.jsonl").write_text('{"text": "a"}\n"just a string"\n')
    with pytest.raises(InputError, match=r"line 2: expected one JSON object"):
        read_path(tmp_path / "mixed.jsonl")
    (tmp_path / "s.jsonl").write_text('"first text"\n"second text"\n')
    assert read_path(tmp_path / "s.jsonl")["text"].tolist() == ["first text", "second text"]
    (tmp_path / "d.json").write_text('[{"text": "a"},\n {"text": }]')
    with pytest.raises(InputError, match=r"d.json, line 2"):
        read_path(tmp_path / "d.json")
    (tmp_path / "d.parquet").write_text("text\nnot parquet\n")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        read_path(tmp_path / "d.parquet")
    (tmp_path / "d.csv").write_text('text,y\n"open quote,1\nb,2\n')
    with pytest.raises(InputError, match="not a well-formed CSV"):
        read_path(tmp_path / "d.csv")


def test_read_vectors_accepts_numbers_only(tmp_path):
    from hercules.data import read_vectors

    np.save(tmp_path / "ok.npy", np.ones((3, 2), dtype=np.float16))
    assert read_vectors(tmp_path / "ok.npy").shape == (3, 2)
    cases = {
        "pickled.npy": (np.array([{"a": 1}, None], dtype=object), "Python objects"),
        "strings.npy": (np.array([["a", "b"]]), "must hold numbers"),
        "flat.npy": (np.zeros(5), "2-D"),
        "empty.npy": (np.zeros((0, 3)), "2-D"),
    }
    for name, (array, message) in cases.items():
        np.save(tmp_path / name, array, allow_pickle=True)
        with pytest.raises(InputError, match=message):
            read_vectors(tmp_path / name)
    (tmp_path / "text.npy").write_text("1,2,3\n")
    with pytest.raises(InputError, match=r"not a NumPy \.npy file"):
        read_vectors(tmp_path / "text.npy")
    (tmp_path / "cut.npy").write_bytes((tmp_path / "ok.npy").read_bytes()[:-4])
    with pytest.raises(InputError, match="not a readable .npy"):
        read_vectors(tmp_path / "cut.npy")


def test_id_column_problems_are_named():
    df = pd.DataFrame({"id": ["a", "b", "a", "c", "c"], "text": ["x y", "z w", "u v", "p q", "r s"]})
    with pytest.raises(InputError, match=r"id column 'id' repeats 2 value\(s\): a, c"):
        prepare(df, id_column="id")
    with pytest.raises(InputError, match=r"id column 'nope' not found; columns are \['id', 'text'\]"):
        prepare(df, id_column="nope")
    with pytest.raises(InputError, match="both the id column and the text column"):
        prepare(df, id_column="text", text_column="text")
    holes = pd.DataFrame({"id": ["a", None, "b"], "text": ["x", "y", "z"]})
    with pytest.raises(InputError, match=r"1 missing id\(s\) \(rows: 1\)"):
        prepare(holes, id_column="id")


def test_every_skip_hint_names_the_api_argument_and_the_cli_flag(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG nope")
    bad_inputs = [
        ["ok", None, "fine"],
        pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [1.0, 2.0, 3.0]}),
        [_png(tmp_path / "a.png"), _png(tmp_path / "b.png"), str(broken)],
    ]
    for data in bad_inputs:
        with pytest.raises(InputError, match=r"missing='drop' \(CLI: --drop-missing\)"):
            prepare(data)


def test_no_text_column_says_how_to_name_one():
    with pytest.raises(InputError, match="--text-column"):
        from hercules.data.dataset import pick_text_column

        pick_text_column(pd.DataFrame({"a": [1, 2]}))
