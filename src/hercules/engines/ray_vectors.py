"""Item-level arrays that stay off the driver's memory: the level-0 vectors as a file written by Ray tasks,
and per-row results of Ray tasks gathered into small (n x c) arrays.

* :func:`vectors_file`: the embedding blocks written by one Ray task per block into one float32 ``.npy`` file
  the driver created (rows at their offsets); the driver then maps it read-only (``np.load(mmap_mode="r")``), so
  its memory holds only the pages of the rows it reads (samples, evidence), never the whole matrix, and the file is
  unlinked at once (the mapping keeps it until the array is dropped). The folder is ``$HERCULES_RAY_SPILL_DIR``,
  else the system's temporary folder; it must be visible to every node (a shared disk): when a task cannot see it
  (another machine), the caller gathers the blocks on the driver instead, as before.
* :func:`place_rows`: ``transform`` of a fitted object (a clustering space, a 2-D layout) applied to every block by
  Ray tasks, the sample rows it was fitted on keeping their fitted coordinates, gathered as one (n x c) array.
"""

from __future__ import annotations

import logging
import os
import tempfile
import uuid
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import ray
from tqdm.auto import tqdm

log = logging.getLogger(__name__)

SPILL_ENV = "HERCULES_RAY_SPILL_DIR"
_FITTED: dict[str, Any] = {}  # per worker process: the fitted object of a placement, rebuilt once


@ray.remote
def _width(block: dict[str, np.ndarray]) -> int:
    return int(block["vector"].shape[1])


@ray.remote
def _write_rows(block: dict[str, np.ndarray], path: str) -> int:
    if not os.path.exists(path):
        return -1  # another machine without the shared folder
    out = np.load(path, mmap_mode="r+")
    out[block["row"]] = block["vector"]
    out.flush()
    del out
    return len(block["row"])


def vectors_file(refs: list[Any], n: int, progress: bool = True) -> np.ndarray | None:
    """The vector blocks ``refs`` (``row``, ``vector``) as a read-only (n, d) float32 memory map written by Ray tasks;
    None when a task could not see the file (the folder is not shared by every node)."""
    if not refs:
        return None
    d = ray.get(_width.remote(refs[0]))
    folder = Path(tempfile.mkdtemp(prefix="hercules-vectors-", dir=os.environ.get(SPILL_ENV) or None))
    path = folder / "vectors.npy"
    try:
        np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d)).flush()  # sparse file, pages untouched
        written = 0
        with tqdm(total=n, desc="vectors (to disk)", unit="item", disable=not progress) as bar:
            pending = [_write_rows.remote(b, str(path)) for b in refs]
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                got = ray.get(done[0])
                if got < 0:
                    log.warning("ray: %s is not visible to every node; the vectors are gathered on the driver", folder)
                    return None
                written += got
                bar.update(got)
        if written != n:
            raise RuntimeError(f"ray: {written} vectors written for {n} items")
        return RowFile.open(path)
    finally:
        path.unlink(missing_ok=True)  # a mapping keeps the file's pages until it is dropped
        folder.rmdir()


class RowFile(np.memmap):
    """The read-only (n, d) memory map of the vectors whose row reads (``X[rows]``, ``X[mask]``, ``X[a:b]``) are
    copied from the file with ``pread``, 4 MB at a time, instead of mapping its pages: a mapped page stays in the
    driver's resident memory, and the kernel maps the pages around each one read (fault-around), so mapping the
    20,000 rows of a UMAP sample maps nearly all of a 1M-row file (measured: 601 of 614 MB for 20,000 of 400,000
    rows; 17 MB read with ``pread``). Anything else (``X[i]``, column slices, numpy on the whole array) maps pages
    as any memmap, and views and results are plain memory maps or arrays."""

    _fd: int | None = None

    @classmethod
    def open(cls, path: Path) -> RowFile:
        mapped = np.load(path, mmap_mode="r")
        out = mapped.view(cls)
        out._fd = os.open(path, os.O_RDONLY)
        weakref.finalize(out, os.close, out._fd)
        return out

    def __array_finalize__(self, obj: Any) -> None:
        super().__array_finalize__(obj)
        self._fd = None  # views and results: as any memory map

    def __reduce__(self) -> Any:  # a copy (pickle, deepcopy) is an in-memory array, as for any memmap
        return np.asarray(self).copy().__reduce__()

    def __getitem__(self, key: Any) -> Any:
        rows = self._rows(key)
        return super().__getitem__(key) if rows is None else self._read(rows)

    def _rows(self, key: Any) -> np.ndarray | None:
        if self._fd is None or self.ndim != 2:
            return None
        n = self.shape[0]
        if isinstance(key, slice) and key.step in (None, 1):
            return np.arange(*key.indices(n)[:2])
        if isinstance(key, (np.ndarray, list)):
            idx = np.asarray(key)
            if idx.dtype == bool and idx.shape == (n,):
                return np.flatnonzero(idx)
            if idx.ndim == 1 and idx.dtype.kind in "iu":
                if len(idx) and (idx.min() < -n or idx.max() >= n):
                    raise IndexError(f"index out of bounds for axis 0 with size {n}")
                return np.where(idx < 0, idx + n, idx).astype(np.int64)
        return None

    def _read(self, rows: np.ndarray) -> np.ndarray:
        d, width = self.shape[1], self.shape[1] * self.itemsize
        out = np.empty((len(rows), d), dtype=self.dtype)
        if not len(rows):
            return out
        per = max(1, (4 << 20) // width)  # rows per read
        order = np.argsort(rows, kind="stable")
        window = rows[order] // per
        cuts = np.flatnonzero(np.diff(window)) + 1
        buf = np.empty((per, d), dtype=self.dtype)
        for part in np.split(np.arange(len(rows)), cuts):  # one pread per 4 MB window holding some rows
            w = int(window[part[0]])
            start, stop = w * per, min(self.shape[0], (w + 1) * per)
            view = memoryview(buf[: stop - start]).cast("B")
            got = 0
            while got < len(view):
                k = _pread_into(self._fd, view[got:], self.offset + start * width + got)
                if k <= 0:
                    raise OSError(f"the vectors file ended at row {start + got // width} of {self.shape[0]}")
                got += k
            out[order[part]] = buf[rows[order[part]] - start]
        return out


def _pread_into(fd: int, view: memoryview, offset: int) -> int:
    if hasattr(os, "preadv"):
        return os.preadv(fd, [view], offset)
    data = os.pread(fd, len(view), offset)  # platforms without preadv: one more copy
    view[: len(data)] = data
    return len(data)


@ray.remote
def _place_block(block: dict[str, np.ndarray], key: str, make: Any, fit_rows: np.ndarray, fit_Y: np.ndarray) -> dict:
    fitted = _FITTED.get(key)
    if fitted is None:
        _FITTED.clear()
        fitted = _FITTED[key] = make() if callable(make) else make
    rows = block["row"]
    Y = np.asarray(fitted.transform(block["vector"]), dtype=np.float32)
    if len(fit_rows):
        pos = np.minimum(np.searchsorted(fit_rows, rows), len(fit_rows) - 1)
        hit = fit_rows[pos] == rows  # sample rows keep their fitted coordinates, as in-process
        Y[hit] = fit_Y[pos[hit]]
    return {"row": rows, "vector": Y}


def gather_rows(refs: list[Any], n: int, desc: str, progress: bool = True) -> np.ndarray:
    """Blocks ``{"row", "vector"}`` (object refs) as one (n, c) float32 array in row order."""
    out: np.ndarray | None = None
    seen = 0
    with tqdm(total=n, desc=desc, unit="item", disable=not progress) as bar:
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            block = ray.get(done[0])
            if out is None:
                out = np.empty((n, block["vector"].shape[1]), dtype=np.float32)
            out[block["row"]] = block["vector"]
            seen += len(block["row"])
            bar.update(len(block["row"]))
    if out is None or seen != n:
        raise RuntimeError(f"ray: {seen} rows came back for {n} items")
    return out


def place_rows(
    blocks: list[Any], n: int, make: Any, fit_rows: np.ndarray, fit_Y: np.ndarray, desc: str, progress: bool = True
) -> tuple[np.ndarray, list[Any]]:
    """(``fitted.transform`` of every row of the vector ``blocks`` gathered on the driver, the same rows as blocks);
    ``make``: the fitted object, or a function that rebuilds it (once per worker process); rows in ``fit_rows``
    (sorted) take ``fit_Y`` instead."""
    key = uuid.uuid4().hex
    args = (ray.put(make), ray.put(np.asarray(fit_rows)), ray.put(np.asarray(fit_Y, dtype=np.float32)))
    refs = [_place_block.remote(b, key, *args) for b in blocks]
    return gather_rows(refs, n, desc, progress), refs
