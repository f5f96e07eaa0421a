"""Texts held outside the process (data.lazy): read by row, block by block, and saved as the same items.parquet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hercules.data import Dataset
from hercules.data.lazy import COLUMN, PART, LazyTexts, PartFiles, prefetch


class Blocks:
    """A source that counts its requests."""

    def __init__(self, blocks: list[list[str]]) -> None:
        self.blocks, self.sizes, self.requests = blocks, np.array([len(b) for b in blocks]), []

    def fetch(self, block: int, rows: np.ndarray) -> list[str]:
        self.requests.append((block, len(rows)))
        return [self.blocks[block][r] for r in rows.tolist()]


def test_rows_fetched_once_per_block_and_kept():
    texts = [f"text {i}" for i in range(10)]
    src = Blocks([texts[:4], texts[4:5], texts[5:]])
    lazy = LazyTexts(src)
    assert len(lazy) == 10 and lazy.offsets.tolist() == [0, 4, 5, 10]
    prefetch(lazy, [np.array([9, 0, 3]), np.array([3, 6])])
    assert sorted(src.requests) == [(0, 2), (2, 2)]  # one request per block holding some, repeats once
    assert [lazy[9], lazy[0], lazy[-1], lazy[6]] == ["text 9", "text 0", "text 9", "text 6"] and len(src.requests) == 2
    assert lazy[2:5] == texts[2:5] and lazy.take([8, 1, 8]) == ["text 8", "text 1", "text 8"]
    assert list(lazy) == texts and lazy.block(1) == ["text 4"]
    with pytest.raises(IndexError):
        lazy.take([10])
    prefetch(texts, [np.array([1])])  # a list: nothing to do


def test_parts_on_disk_read_by_row_and_saved_as_in_process(tmp_path):
    from hercules.persistence.folder import _items_frame, _write_items

    texts = [f"t{i} é" for i in range(7)]
    folder = tmp_path / "parts"
    folder.mkdir()
    for b, (a, z) in enumerate([(0, 3), (3, 7)]):
        pq.write_table(pa.table({COLUMN: texts[a:z]}), folder / PART.format(b))
    lazy = LazyTexts(PartFiles(folder, np.array([3, 4])))
    assert list(lazy) == texts and lazy.take([6, 0]) == ["t6 é", "t0 é"]
    meta = pd.DataFrame({"tag": [None, None, None, "x", None, "y", "z"], "n": np.arange(7)})  # no value in block 0
    ids = np.array([f"id{i}" for i in range(7)], dtype=object)
    _write_items(Dataset("text", ids, texts=lazy, metadata=meta), tmp_path / "lazy.parquet")
    expected = _items_frame(Dataset("text", ids, texts=texts, metadata=meta))
    got = pd.read_parquet(tmp_path / "lazy.parquet")
    pd.testing.assert_frame_equal(got, expected)
    assert pq.ParquetFile(tmp_path / "lazy.parquet").num_row_groups == 2  # block by block
    owned = PartFiles(PartFiles.spill(), np.array([0]), owned=True)
    where = owned.path
    assert where.is_dir()
    del owned
    assert not where.exists()  # a fit's temporary parts go with the object


def test_metadata_parts_read_per_column_by_rows_and_whole(tmp_path):
    """LazyFrame over Parquet parts (empty blocks included): a column, rows in any order, the whole frame; the
    operations of Dataset.metadata the pipeline uses give what the in-memory frame gives."""
    from hercules.data.lazy import LazyFrame, PartFrames, frame_of
    from hercules.pipeline.update_data import take_dataset

    df = pd.DataFrame({"tag": [f"t{i % 4}" for i in range(10)], "n": np.arange(10) * 1.5})
    cuts = [0, 4, 4, 7, 10]  # block 1 is empty
    for b, (a, z) in enumerate(zip(cuts, cuts[1:])):
        df.iloc[a:z].to_parquet(tmp_path / PART.format(b), index=False)
    meta = LazyFrame(PartFrames(tmp_path, np.diff(cuts)), ["tag", "n"])
    assert len(meta) == 10 and meta.shape == (10, 2) and list(meta.columns) == ["tag", "n"]
    pd.testing.assert_series_equal(meta["n"], df["n"])
    pd.testing.assert_frame_equal(meta.iloc[3:8], df.iloc[3:8].reset_index(drop=True))
    pd.testing.assert_frame_equal(meta.iloc[[9, 0, 4, -1]], df.iloc[[9, 0, 4, 9]].reset_index(drop=True))
    pd.testing.assert_frame_equal(frame_of(meta), df)
    assert frame_of(df) is df and frame_of(None) is None
    with pytest.raises(KeyError):
        meta["nope"]
    ds = Dataset("text", np.arange(10), texts=[str(i) for i in range(10)], metadata=meta)
    pd.testing.assert_frame_equal(take_dataset(ds, np.array([8, 2])).metadata, df.iloc[[8, 2]].reset_index(drop=True))
