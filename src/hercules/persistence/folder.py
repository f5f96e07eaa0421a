"""Save a fitted model as one folder: readable JSON + compact binary arrays, never losing data.

Layout (schema 1, in-process fits)::

    result/
      hercules.json     tree, titles, descriptions, sizes, parameters (readable)
      arrays.npz        parent links, centroids, 2-D/3-D coordinates, PCA, scaler, the clustering space
      items.parquet     item ids, the items (text/path/values) and metadata columns
      embeddings.npy    optional L0 vectors (float16 by default), memory-mapped on load

Schema 2 (fits with ``engine="ray"`` whose level 1 ran over blocks): the same, plus
``membership/part-NNNNN.parquet`` (columns ``row``, ``id``, ``L1`` ... ``Ln``: every item's cluster
index at every level, written by Ray tasks from the label blocks, :mod:`hercules.engines.membership`),
and ``arrays.npz`` without the n-long ``parent_L1`` (it is the ``L1`` column). Older hercules versions
refuse schema 2 with "upgrade hercules".

No pickle anywhere: loading a result cannot execute code.

Saving never destroys what it was not asked to replace: an existing result is replaced only
with ``overwrite=True``, a folder holding anything else is refused, and files of the user's
own that sit beside a result are left alone. Everything is written to a temporary sibling
first and swapped in only once complete (see :func:`_move_into_place`), so a crash
mid-save leaves the old result as it was.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hercules.data.dataset import Dataset
from hercules.data.lazy import LazyTexts, frame_of
from hercules.hierarchy.tree import Hierarchy, cluster_id
from hercules.pipeline.state import FittedState

SCHEMA_VERSION = 2  # the newest this version reads and writes (in-process results are still written as 1)
FORMAT = "hercules-result"
MEMBERSHIP_DIR = "membership"  # schema 2: per-item clusters as Parquet parts
RESULT_FILES = ("arrays.npz", "items.parquet", "embeddings.npy", "embedder", MEMBERSHIP_DIR, "hercules.json")  # json last
TUNED_DIR = "embedder"  # a text embedder fine-tuned by a judge (guidance), as a sentence-transformers folder


class ResultFormatError(ValueError):
    """The folder is not a hercules result, is damaged, or was written by an incompatible version."""


class DestinationError(ValueError):
    """A result cannot be written where asked (occupied, not a folder, not writable)."""


def is_result(path: Path) -> bool:
    try:
        return json.loads((path / "hercules.json").read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def check_destination(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Fail now, before any work, if a result could not be saved at ``path`` later."""
    dest = Path(path)
    if dest.exists():
        if not dest.is_dir():
            raise DestinationError(f"{dest} exists and is not a folder")
        if is_result(dest):
            if not overwrite:
                raise DestinationError(f"{dest} already holds a hercules result; use --overwrite (overwrite=True) to replace it")
        elif any(dest.iterdir()):
            raise DestinationError(f"{dest} is a folder with other files in it and not a hercules result; choose a new folder")
    probe_dir = dest if dest.is_dir() else dest.parent
    while not probe_dir.exists() and probe_dir != probe_dir.parent:
        probe_dir = probe_dir.parent
    try:
        fd, probe = tempfile.mkstemp(prefix=".hercules-probe-", dir=probe_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise DestinationError(f"cannot write a result under {probe_dir}: {e.strerror or e}") from None
    return dest


def _jsonable(v: Any) -> Any:
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, np.generic):
        return v.item()
    return getattr(v, "spec", None) or getattr(v, "model_id", None) or repr(v)


def _items_frame(ds: Dataset) -> pd.DataFrame:
    df = pd.DataFrame({"__id__": ds.stored_ids()})
    if ds.modality == "text":
        df["__item__"] = ds.texts
    elif ds.modality == "image":
        df["__item__"] = ds.image_paths
        if ds.descriptions is not None:
            df["__desc__"] = ds.descriptions
    elif ds.modality == "numeric":
        assert ds.numeric is not None and ds.variables is not None
        for j, _v in enumerate(ds.variables):
            df[f"__num__{j}"] = ds.numeric[:, j]
    if ds.metadata is not None:
        meta = frame_of(ds.metadata).reset_index(drop=True).copy()
        for c in meta.columns:  # parquet needs one type per column
            if meta[c].dtype == object:
                meta[c] = meta[c].map(lambda x: None if x is None or (isinstance(x, float) and np.isnan(x)) else str(x))
        meta.columns = [f"meta:{c}" for c in meta.columns]
        df = pd.concat([df, meta], axis=1)
    return df


def _write_items(ds: Dataset, path: Path) -> None:
    """``items.parquet``; texts held elsewhere (the Ray engine's parts, :class:`~hercules.data.lazy.LazyTexts`) are
    streamed into it block by block (one row group each): one block of texts in memory, the same file."""
    if not isinstance(ds.texts, LazyTexts):
        _items_frame(ds).to_parquet(path, index=False)
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids, offsets, writer = ds.stored_ids(), ds.texts.offsets, None
    try:
        for b, (a, z) in enumerate(zip(offsets[:-1].tolist(), offsets[1:].tolist())):
            meta = None if ds.metadata is None else ds.metadata.iloc[a:z]
            frame = _items_frame(replace(ds, ids=ids[a:z], texts=ds.texts.block(b), metadata=meta))
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:  # a column missing in the first block: strings (what _items_frame writes)
                schema = pa.schema([pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in table.schema])
                writer = pq.ParquetWriter(path, schema.with_metadata(table.schema.metadata))
            writer.write_table(table.cast(writer.schema))
    finally:
        if writer is not None:
            writer.close()


def _levels_json(h: Hierarchy) -> list[dict[str, Any]]:
    out = []
    for lvl in h.levels:
        upper = h.levels[lvl.level] if lvl.level < h.depth else None
        children: list[list[str]] = [[] for _ in range(lvl.k)]
        if lvl.level > 1:
            for c, p in enumerate(lvl.parent.tolist()):
                children[p].append(cluster_id(lvl.level - 1, c))
        clusters = [
            {
                "id": cluster_id(lvl.level, j),
                "title": lab.title,
                "description": lab.description,
                "keywords": lab.keywords,
                "label_source": lab.source,
                "size": int(lvl.sizes[j]),
                "parent": cluster_id(lvl.level + 1, int(upper.parent[j])) if upper is not None else None,
                "children": children[j],
            }
            for j, lab in enumerate(lvl.labels)
        ]
        out.append({"level": lvl.level, "k": lvl.k, "requested_k": lvl.requested_k, "auto_k": lvl.auto_k, "clusters": clusters})
    return out


def _arrays(state: FittedState, encoder_arrays: dict[str, np.ndarray], membership: bool) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {"item_coords": state.coords}
    for lvl in state.hierarchy.levels:
        if not (membership and lvl.level == 1):  # with membership/, level 1's n-long parents are its L1 column
            arrays[f"parent_L{lvl.level}"] = lvl.parent.astype(np.int32)
        arrays[f"centroids_L{lvl.level}"] = lvl.centroids.astype(np.float32)
        if lvl.coords is not None:
            arrays[f"coords_L{lvl.level}"] = lvl.coords
        if lvl.description_embeddings is not None:
            arrays[f"desc_emb_L{lvl.level}"] = lvl.description_embeddings.astype(np.float32)
        if lvl.space_centroids is not None:
            arrays[f"space_centroids_L{lvl.level}"] = lvl.space_centroids.astype(np.float32)
    arrays.update(state.projection.to_arrays())
    arrays.update(state.space.to_state()[1])
    arrays.update(encoder_arrays)
    return arrays


def _save_rows(path: Path, X: np.ndarray, dtype: np.dtype, step: int = 65_536) -> None:
    """``X`` (2-D) written as an ``.npy`` of ``dtype`` chunk by chunk: no converted copy of the whole matrix (the Ray
    engine's vectors are a memory map the driver never holds at once)."""
    with open(path, "wb") as f:
        header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": tuple(X.shape)}
        np.lib.format.write_array_header_1_0(f, header)
        for s in range(0, len(X), step):
            f.write(np.ascontiguousarray(X[s : s + step], dtype=dtype).tobytes())


def save(
    state: FittedState,
    params: dict[str, Any],
    path: str | os.PathLike,
    *,
    embeddings: str | None = "float16",
    overwrite: bool = False,
) -> Path:
    """Write a fitted model's ``state`` (and its constructor ``params``) to the folder ``path``."""
    from hercules import __version__

    if embeddings not in ("float16", "float32", None):
        raise ValueError("embeddings must be 'float16', 'float32' or None")
    dest = check_destination(path, overwrite)
    ds = state.dataset
    enc_values, enc_arrays = state.encoder.state()
    parts = state.membership if state.membership is not None and state.membership.matches(state.hierarchy) else None
    meta = {
        "format": FORMAT,
        "schema_version": 1 if parts is None else 2,
        "hercules_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "modality": ds.modality,
        "n_items": ds.n_items,
        "n_features": int(state.n_features),
        **enc_values,
        "variables": [vars(v) for v in ds.variables] if ds.variables else None,
        "notes": ds.notes,
        "params": _jsonable(params),
        "timings_s": {k: round(v, 4) for k, v in state.timings.items()},
        "llm_stats": _jsonable(state.llm_stats),
        "changes": _jsonable(state.changes),  # the change report of the last update, if any
        "space": _jsonable(state.space.to_state()[0]),  # the clustering space's settings (arrays: space_*)
        "levels": _levels_json(state.hierarchy),
    }
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".hercules-", dir=dest.parent))
    try:
        np.savez(tmp / "arrays.npz", **_arrays(state, enc_arrays, parts is not None))
        if parts is not None:
            parts.copy_to(tmp / MEMBERSHIP_DIR)
        _write_items(ds, tmp / "items.parquet")
        if embeddings is not None and state.embeddings is not None:
            _save_rows(tmp / "embeddings.npy", state.embeddings, np.dtype(embeddings))
        if state.encoder.tuned_ is not None:
            shutil.copytree(state.encoder.tuned_["path"], tmp / TUNED_DIR)
        (tmp / "hercules.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False), encoding="utf-8")
        _move_into_place(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _move_into_place(tmp: Path, dest: Path) -> None:
    """Swap the complete new result in.

    A new folder, or one holding only result files: two renames (old -> backup, new -> dest),
    so the old result stays whole until the new one is in place. A result folder that also
    holds files of the user's: result files are replaced one by one with ``hercules.json``
    removed first and written last (a half-swapped folder never looks like a valid result), and
    the user's files are not touched.
    """
    if not dest.exists():
        tmp.rename(dest)
        return
    if all(p.name in RESULT_FILES for p in dest.iterdir()):
        backup = Path(tempfile.mkdtemp(prefix=".hercules-old-", dir=dest.parent))
        backup.rmdir()
        dest.rename(backup)
        tmp.rename(dest)
        shutil.rmtree(backup, ignore_errors=True)
        return
    (dest / "hercules.json").unlink(missing_ok=True)
    for name in RESULT_FILES:
        new = tmp / name
        if (dest / name).is_dir():
            shutil.rmtree(dest / name)
        if new.exists():
            os.replace(new, dest / name)
        elif name != "hercules.json":
            (dest / name).unlink(missing_ok=True)
