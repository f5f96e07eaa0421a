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
        return np.load(path, mmap_mode="r")
    finally:
        path.unlink(missing_ok=True)  # a mapping keeps the file's pages until it is dropped
        folder.rmdir()


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
