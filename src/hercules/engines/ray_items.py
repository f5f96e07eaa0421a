"""The items of a file read on the cluster stay there: validated by Ray tasks, read by row on demand.

:func:`hercules.engines.ray_read.read_with_ray` leaves the table's Arrow blocks in the object store
as a :class:`RayTable`; :func:`hercules.data.prepare` asks it for the ``Dataset``
(:meth:`RayTable.prepare_dataset`), which runs ``prepare``'s rules over the blocks:

1. one Ray task per block reports its columns, their kinds, the summed length of each string column
   (``pick_text_column``'s mean length, over all rows) and its first 200 non-missing values of each (the
   image-path check reads the first 200 of the column), so the driver picks the text column and the
   modality as in-process; anything but a text table (numbers, image paths, a column check that fails)
   is collected and prepared in-process, which also words the errors;
2. one Ray task per block cleans its texts (:func:`hercules.data.dataset.clean_texts`: missing or
   empty dropped or named, bytes decoded, long texts truncated) and returns the kept texts as a block
   in the store, and the other columns (metadata) of the kept rows as another (a
   :class:`~hercules.data.lazy.LazyFrame` over them is the ``Dataset``'s metadata); the ids (row numbers,
   or the id column) come to the driver, where the missing-item policy and the id checks run on the
   totals, with ``prepare``'s messages;
3. one Ray task per block cuts the kept texts into the embedding's blocks (``row``, ``text``; the
   same boundaries the embedding would choose for the whole list).

The ``Dataset``'s texts are a :class:`~hercules.data.lazy.LazyTexts` over those blocks: the embedding
actors and the keyword counts read the blocks, the labelers fetch their few example texts by row.
Before the cluster goes away (``RayEngine.close``), :func:`spill_texts` has one Ray task per block
encode it as a Parquet part, written by the driver into a temporary folder one part at a time (the
metadata likewise, :func:`spill_metadata`); the texts are read from there afterwards (views, the map, ``save``, which streams them into
``items.parquet``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import ray

from hercules.data.dataset import IMAGE_EXTENSIONS, Dataset, InputError, clean_texts, prepare, text_notes, unique_ids
from hercules.data.lazy import COLUMN, LazyFrame, LazyTexts, PartFiles, PartFrames

log = logging.getLogger(__name__)

_SAMPLE = 200  # values the image-path check reads


def _is_text(s: pd.Series) -> bool:
    return s.dtype == object or pd.api.types.is_string_dtype(s)


def _length(s: pd.Series) -> tuple[float, int]:
    """(sum, count) of the lengths ``pick_text_column`` averages (``astype(str).str.len()``, missing skipped)."""
    lengths = s.astype(str).str.len()
    return float(lengths.sum()), int(lengths.count())


@ray.remote
def _stats(table: pa.Table) -> dict[str, Any]:
    df = table.to_pandas()
    text = [c for c in df.columns if _is_text(df[c])]
    return {
        "n": len(df),
        "columns": list(df.columns),
        "numeric": [bool(pd.api.types.is_numeric_dtype(df[c])) for c in df.columns],
        "text": text,
        "length": {c: _length(df[c]) for c in text},
        "first": {c: [str(x) for x in df[c].dropna().head(_SAMPLE)] for c in text},
    }


@ray.remote(num_returns=3)
def _clean(table: pa.Table, offset: int, text_column: str, id_column: str | None) -> tuple[pd.DataFrame, dict, Any]:
    df = table.to_pandas()
    ids = df.pop(id_column).to_numpy(dtype=object) if id_column is not None else np.arange(offset, offset + len(df))
    texts, keep, bad, n_bytes, n_trunc = clean_texts(df[text_column].tolist(), ids)
    meta = df.drop(columns=[text_column])
    return (
        pd.DataFrame({"text": texts}),
        {
            "ids": ids if id_column is not None else None,  # row numbers: the driver has them from ``keep``
            "keep": keep,
            "bad": bad[:11],
            "n_bad": len(bad),
            "n_bytes": n_bytes,
            "n_trunc": n_trunc,
            "columns": list(meta.columns),
        },
        meta.loc[keep].reset_index(drop=True) if meta.shape[1] else None,  # stays in the store
    )


@ray.remote
def _cut(frame: pd.DataFrame, start: int, bounds: list[int]) -> Any:
    texts = frame["text"].tolist()
    out = [pd.DataFrame({"row": np.arange(start + a, start + b), "text": texts[a:b]}) for a, b in zip(bounds, bounds[1:])]
    return out if len(out) > 1 else out[0]


@ray.remote
def _take(frame: pd.DataFrame, rows: np.ndarray) -> list[str]:
    return frame["text"].to_numpy()[rows].tolist()


@ray.remote
def _part(frame: pd.DataFrame) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({COLUMN: pa.array(frame["text"].tolist(), pa.string())}), sink)
    return sink.getvalue().to_pybytes()


@ray.remote
def _frame_part(frame: pd.DataFrame) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    return sink.getvalue().to_pybytes()


@ray.remote
def _columns(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return frame[columns]


class BlockFrames:
    """Metadata in object-store blocks (one frame per read block of kept rows; a :class:`~hercules.data.lazy.
    FrameSource`)."""

    def __init__(self, refs: list[Any], sizes: np.ndarray) -> None:
        self.refs, self.sizes = refs, np.asarray(sizes, dtype=np.int64)

    def frame(self, block: int, columns: list[str]) -> pd.DataFrame:
        return ray.get(_columns.remote(self.refs[block], columns))


class BlockRefs:
    """Texts in object-store blocks (``row``, ``text`` frames), ``sizes`` rows each (a :class:`~hercules.data.lazy.
    TextSource`)."""

    def __init__(self, refs: list[Any], sizes: np.ndarray) -> None:
        self.refs, self.sizes = refs, np.asarray(sizes, dtype=np.int64)

    def fetch(self, block: int, rows: np.ndarray) -> list[str]:
        return ray.get(_take.remote(self.refs[block], np.asarray(rows, dtype=np.int64)))


def _bounds(start: int, count: int, rows: int) -> list[int]:
    """Cut points (local) of the kept rows ``start .. start + count`` at the global multiples of ``rows``."""
    cuts = np.arange((start // rows + 1) * rows, start + count, rows) - start
    return [0, *cuts.tolist(), count]


class RayTable:
    """A table read by Ray Data whose Arrow blocks stay in the object store (see the module docstring).
    ``collect``: the whole table on the driver as a DataFrame (the fallback); ``owner``: the engine (its
    ``block_rows(n)``: rows per embedding block for ``n`` texts)."""

    def __init__(self, refs: list[Any], collect: Callable[[], pd.DataFrame], owner: Any) -> None:
        self.refs, self.collect, self.owner = refs, collect, owner

    def prepare_dataset(self, modality, text_column, id_column, numeric_columns, numeric_metadata, missing) -> Dataset:
        """:func:`hercules.data.prepare` of this table, run over its blocks when it is a text table (else collected)."""
        column = self._text_column(modality, text_column, id_column, numeric_columns) if self.refs else None
        if column is None:
            log.info("ray: the table is collected on the driver and prepared in-process")
            return prepare(self.collect(), modality=modality, text_column=text_column, id_column=id_column,
                           numeric_columns=numeric_columns, numeric_metadata=numeric_metadata, missing=missing)  # fmt: skip
        return self._prepare_texts(column, id_column, missing)

    def _text_column(self, modality, text_column, id_column, numeric_columns) -> str | None:
        """The text column chosen as ``prepare`` chooses it; None: not a text table, or a check ``prepare`` words."""
        if modality not in ("auto", "text") or numeric_columns is not None:
            return None
        stats = ray.get([_stats.remote(t) for t in self.refs])
        self._n = [s["n"] for s in stats]
        first = stats[0]
        if any(s["columns"] != first["columns"] or s["text"] != first["text"] for s in stats):
            return None  # blocks that disagree on columns or kinds: the collected table decides
        columns = [c for c in first["columns"] if c != id_column]
        if (id_column is not None and id_column not in first["columns"]) or (
            text_column is not None and text_column not in columns
        ):
            return None
        numeric = dict(zip(first["columns"], first["numeric"]))
        if modality == "auto" and text_column is None and all(numeric[c] for c in columns):
            return None
        if text_column is None:
            texts = [c for c in first["text"] if c != id_column]
            if not texts:
                return None
            totals = {c: np.sum([s["length"][c] for s in stats], axis=0) for c in texts}
            means = {c: t[0] / t[1] if t[1] else -1.0 for c, t in totals.items()}
            text_column = max(means, key=means.get)  # prepare's pick_text_column: the longest mean text
        if text_column == id_column:
            return None
        if modality == "auto":
            sample = [x for s in stats for x in s["first"].get(text_column, [])][:_SAMPLE]
            looks = [Path(x.split("?")[0]).suffix.lower() in IMAGE_EXTENSIONS for x in sample]
            if sample and np.mean(looks) > 0.95:
                return None  # image paths: checked and embedded in-process
            log.info("detected text input (%d items)", sum(s["n"] for s in stats))
        return text_column

    def _prepare_texts(self, column: str, id_column: str | None, missing: str) -> Dataset:
        offsets = np.concatenate([[0], np.cumsum(self._n)]).astype(np.int64)
        triples = [_clean.remote(t, int(o), column, id_column) for t, o in zip(self.refs, offsets)]
        frames, infos, metas = [t[0] for t in triples], ray.get([t[1] for t in triples]), [t[2] for t in triples]
        keep = np.concatenate([i["keep"] for i in infos])
        if id_column is not None:
            ids = unique_ids(np.concatenate([i["ids"] for i in infos]), f"id column {id_column!r}")[keep]
        else:
            ids = np.flatnonzero(keep).astype(np.int64)  # row numbers, as in-process (int64, not objects)
        notes: list[str] = []
        bad = [b for i in infos for b in i["bad"]][:11]
        text_notes(missing, notes, bad, *(sum(i[c] for i in infos) for c in ("n_bytes", "n_trunc", "n_bad")))
        if not len(ids):
            raise InputError("no usable items remain after removing empty ones")
        kept = [int(i["keep"].sum()) for i in infos]
        columns = infos[0]["columns"]
        metadata = LazyFrame(BlockFrames(metas, np.array(kept)), columns) if columns else None
        rows = self.owner.block_rows(len(ids))
        refs: list[Any] = []
        sizes: list[int] = []
        for frame, start, count in zip(frames, np.cumsum([0, *kept]).tolist(), kept):
            if count:
                bounds = _bounds(start, count, rows)
                got = _cut.options(num_returns=len(bounds) - 1).remote(frame, start, bounds)
                refs += got if len(bounds) > 2 else [got]
                sizes += np.diff(bounds).tolist()
        log.info("ray: %d texts validated on the cluster, kept in %d blocks", len(ids), len(refs))
        texts = LazyTexts(BlockRefs(refs, np.array(sizes)))
        return Dataset("text", ids, texts=texts, metadata=metadata, notes=notes)


def held_in_blocks(texts: Any) -> BlockRefs | None:
    """The object-store blocks of ``texts`` when they are a :class:`LazyTexts` over them."""
    return texts.source if isinstance(texts, LazyTexts) and isinstance(texts.source, BlockRefs) else None


def spill_texts(texts: LazyTexts, progress: bool) -> None:
    """Move ``texts`` from its object-store blocks to Parquet parts (column ``__item__``) in a temporary folder of the
    driver's disk, one part per block, written as the tasks finish (one part in the driver's memory at a time)."""
    from hercules.engines.ray_membership import write_parts

    blocks = held_in_blocks(texts)
    assert blocks is not None
    folder = PartFiles.spill()
    write_parts([_part.remote(r) for r in blocks.refs], folder, "items (ray)", progress)
    texts.source = PartFiles(folder, blocks.sizes, owned=True)
    texts.forget()
    log.info("ray: %d texts written as %d Parquet parts under %s", len(texts), len(blocks.refs), folder)


def spill_metadata(meta: Any, progress: bool) -> None:
    """Move a :class:`LazyFrame` from its object-store blocks to Parquet parts on the driver's disk (as the texts)."""
    from hercules.engines.ray_membership import write_parts

    if not (isinstance(meta, LazyFrame) and isinstance(meta.source, BlockFrames)):
        return
    folder = PartFiles.spill()
    write_parts([_frame_part.remote(r) for r in meta.source.refs], folder, "metadata (ray)", progress)
    meta.source = PartFrames(folder, meta.source.sizes, owned=True)
