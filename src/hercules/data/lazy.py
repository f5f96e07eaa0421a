"""Texts (and metadata columns) held outside the fitting process and read by row on demand.

With the Ray engine the texts of a file read on the cluster stay there: in object-store blocks
during the fit, then in Parquet parts on the driver's disk (written from the blocks before the
cluster goes away). :class:`LazyTexts` is the ``Dataset.texts`` of such a fit: a read-only
sequence of ``str`` whose rows are fetched from its source by row, many at a time
(:meth:`LazyTexts.prefetch`: what the labelers call for the few example texts per cluster), and
kept once fetched. Iterating reads the source block by block; ``list(texts)`` collects them all
(what an opt-in full pass over the texts on the driver pays, e.g. guidance).

The table's other columns (metadata) stay beside them: :class:`LazyFrame` is the ``Dataset.metadata`` of
such a fit, read one column at a time (``metadata["label"]``, what evaluation and the label judge read),
by rows (``metadata.iloc[a:b]``, what ``save`` streams into ``items.parquet``), or whole
(:func:`frame_of`, what an explicit ``membership(include_metadata=True)`` asks for).
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd


class TextSource(Protocol):
    """Where the texts are: ``sizes`` rows per block, in order; ``fetch(block, local_rows)`` their texts."""

    sizes: np.ndarray

    def fetch(self, block: int, rows: np.ndarray) -> list[str]: ...


class LazyTexts(Sequence):
    """A sequence of texts read from ``source`` by row (see the module docstring)."""

    def __init__(self, source: TextSource) -> None:
        self.source = source
        self._found: dict[int, str] = {}

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.source.sizes)]).astype(np.int64)

    def __len__(self) -> int:
        return int(np.sum(self.source.sizes))

    def take(self, rows: Any) -> list[str]:
        """The texts at ``rows`` (any order, repeats allowed), fetched from the source once per block."""
        rows = np.asarray(rows, dtype=np.int64).ravel()
        n = len(self)
        if len(rows) and (rows.min() < -n or rows.max() >= n):
            raise IndexError(f"row index out of range for {n} texts")
        rows = np.where(rows < 0, rows + n, rows)
        self.prefetch(rows)
        return [self._found[r] for r in rows.tolist()]

    def prefetch(self, rows: Any) -> None:
        """Fetch the texts at ``rows`` (one request per block holding some) and keep them."""
        want = np.unique(np.asarray(rows, dtype=np.int64).ravel())
        want = want[[r not in self._found for r in want.tolist()]] if self._found else want
        if not len(want):
            return
        offsets = self.offsets
        block = np.searchsorted(offsets, want, side="right") - 1
        for b in np.unique(block).tolist():
            mine = want[block == b]
            self._found.update(zip(mine.tolist(), self.source.fetch(b, mine - offsets[b])))

    def forget(self) -> None:
        """Drop the texts kept so far (they are fetched again when asked for)."""
        self._found = {}

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return self.take(np.arange(len(self))[i])
        if isinstance(i, (int, np.integer)):
            r = int(i) + (len(self) if i < 0 else 0)
            if r in self._found:
                return self._found[r]
            return self.take([r])[0]
        return self.take(i)

    def block(self, b: int) -> list[str]:
        """Every text of block ``b``."""
        return self.source.fetch(b, np.arange(int(self.source.sizes[b])))

    def __iter__(self) -> Iterator[str]:
        for b in range(len(self.source.sizes)):
            yield from self.block(b)

    def __repr__(self) -> str:
        return f"LazyTexts({len(self):,} texts in {len(self.source.sizes)} blocks)"


def prefetch(texts: Any, rows: Any) -> None:
    """Ask ``texts`` for ``rows`` at once when it fetches them from elsewhere (a no-op for a list)."""
    if isinstance(texts, LazyTexts):
        rows = [np.asarray(r, dtype=np.int64).ravel() for r in rows] if isinstance(rows, list) else [rows]
        texts.prefetch(np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64))


PART = "part-{:05d}.parquet"
COLUMN = "__item__"


class PartFiles:
    """Texts in Parquet parts (column ``__item__``), one part per block, in a folder; a temporary folder of a fit
    (``owned``) is removed with the object. The last part read is kept (reading rows in order reads each part once)."""

    def __init__(self, path: Path, sizes: np.ndarray, owned: bool = False) -> None:
        self.path, self.sizes = Path(path), np.asarray(sizes, dtype=np.int64)
        self._last: tuple[int, list[str]] | None = None
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(self.path), True) if owned else None

    @classmethod
    def spill(cls) -> Path:
        """A new temporary folder for the parts."""
        return Path(tempfile.mkdtemp(prefix="hercules-items-"))

    def file(self, block: int) -> Path:
        return self.path / PART.format(block)

    def column(self, block: int) -> list[str]:
        import pyarrow.parquet as pq

        if self._last is None or self._last[0] != block:
            if not self.file(block).exists():
                raise FileNotFoundError(f"the texts of this fit were in {self.path}, which is gone")
            self._last = (block, pq.read_table(self.file(block), columns=[COLUMN]).column(COLUMN).to_pylist())
        return self._last[1]

    def fetch(self, block: int, rows: np.ndarray) -> list[str]:
        texts, rows = self.column(block), np.asarray(rows)
        if len(rows) == len(texts) and np.array_equal(rows, np.arange(len(texts))):
            return list(texts)
        return [texts[r] for r in rows.tolist()]

    def __getstate__(self) -> dict:
        """A copy (pickle, deepcopy) only reads the folder; the original removes it."""
        return {"path": self.path, "sizes": self.sizes, "_last": None, "_cleanup": None}


class FrameSource(Protocol):
    """Where the metadata is: ``sizes`` rows per block, in order; ``frame(block, columns)`` a block's columns."""

    sizes: np.ndarray

    def frame(self, block: int, columns: list[str]) -> pd.DataFrame: ...


class LazyFrame:
    """Metadata columns read from ``source`` per column or by rows (see the module docstring); the few pandas
    operations the pipeline uses on ``Dataset.metadata``: ``columns``, ``len``, ``[column]``, ``iloc[rows]``."""

    def __init__(self, source: FrameSource, columns: list[str]) -> None:
        self.source, self.columns = source, pd.Index(columns)

    def __len__(self) -> int:
        return int(np.sum(self.source.sizes))

    @property
    def shape(self) -> tuple[int, int]:
        return len(self), len(self.columns)

    def __getitem__(self, column: Any) -> pd.Series:
        if column not in self.columns:
            raise KeyError(column)
        parts = [self.source.frame(b, [column])[column] for b in range(len(self.source.sizes))]
        return pd.concat(parts, ignore_index=True).rename(column)

    @property
    def iloc(self) -> _Rows:
        return _Rows(self)

    def to_pandas(self) -> pd.DataFrame:
        cols = list(self.columns)
        return pd.concat([self.source.frame(b, cols) for b in range(len(self.source.sizes))], ignore_index=True)

    def __repr__(self) -> str:
        return f"LazyFrame({len(self):,} rows x {list(self.columns)} in {len(self.source.sizes)} blocks)"


class _Rows:
    def __init__(self, frame: LazyFrame) -> None:
        self.frame = frame

    def __getitem__(self, key: Any) -> pd.DataFrame:
        """The rows ``key`` (a slice, or row numbers in any order) as a DataFrame with a fresh RangeIndex."""
        n, src, cols = len(self.frame), self.frame.source, list(self.frame.columns)
        rows = np.arange(n)[key] if isinstance(key, slice) else np.asarray(key, dtype=np.int64).ravel()
        rows = np.where(rows < 0, rows + n, rows)
        offsets = np.concatenate([[0], np.cumsum(src.sizes)]).astype(np.int64)
        block = np.searchsorted(offsets, rows, side="right") - 1
        parts = []
        for b in np.unique(block).tolist():  # one read per block holding some of the rows
            at = np.flatnonzero(block == b)
            parts.append(src.frame(b, cols).iloc[rows[at] - offsets[b]].set_axis(at))
        if not parts:
            return pd.DataFrame(columns=cols)
        return pd.concat(parts).sort_index().reset_index(drop=True)


def frame_of(meta: Any) -> pd.DataFrame | None:
    """``Dataset.metadata`` as an in-memory DataFrame (a :class:`LazyFrame` read whole)."""
    return meta.to_pandas() if isinstance(meta, LazyFrame) else meta


class PartFrames:
    """Metadata in Parquet parts (one per block) in a folder, removed with the object when ``owned``."""

    def __init__(self, path: Path, sizes: np.ndarray, owned: bool = False) -> None:
        self.path, self.sizes = Path(path), np.asarray(sizes, dtype=np.int64)
        self._last: tuple[Any, pd.DataFrame] | None = None  # reading rows in order reads each part once
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(self.path), True) if owned else None

    def frame(self, block: int, columns: list[str]) -> pd.DataFrame:
        import pyarrow.parquet as pq

        key = (block, tuple(columns))
        if self._last is None or self._last[0] != key:
            file = self.path / PART.format(block)
            if not file.exists():
                raise FileNotFoundError(f"the metadata of this fit was in {self.path}, which is gone")
            self._last = (key, pq.read_table(file, columns=columns).to_pandas())
        return self._last[1]

    def __getstate__(self) -> dict:
        """A copy (pickle, deepcopy) only reads the folder; the original removes it."""
        return {"path": self.path, "sizes": self.sizes, "_last": None, "_cleanup": None}
