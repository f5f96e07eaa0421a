"""Reading an input path as a Ray Data pipeline (``Hercules(engine="ray").fit(path)``, ``hercules run PATH --engine ray``).

* CSV/TSV: ``ray.data.read_csv`` (pyarrow's parser, empty fields as missing, as pandas reads them);
  JSONL: ``ray.data.read_json(lines=True)``; Parquet: ``ray.data.read_parquet``; TXT: the files as
  ``ray.data.read_binary_files`` blocks, split into lines by the workers exactly as in-process.
* A folder: every file of one table type inside it (a partitioned table, as Spark or Ray write
  them) is read as one table; a folder of ``.txt`` files gives one item per file (id: the relative
  path); a folder of images is listed as in-process (images are embedded in-process). Names starting
  with ``.`` or ``_`` (Spark's ``_SUCCESS``, hidden files) are skipped.
* Rows keep the files' order (sorted paths, ``preserve_order``), so ids (row numbers) and the fit
  are those of the in-process reader on the same data.
* Validation is :func:`hercules.data.read_path`'s: a file the Ray reader rejects (empty, broken
  line, invalid UTF-8, a JSONL of strings) is read again by the in-process reader, which either
  raises its :class:`~hercules.data.InputError` naming the file and line, or reads it (invalid
  bytes replaced, with a warning) and the pipeline goes on with that file read in-process.
  Column checks (missing text column, empty table) stay with :func:`hercules.data.prepare`.

A table of rows stays in the object store as Arrow blocks (:class:`~hercules.engines.ray_items.RayTable`):
a text table is validated there and its texts never come to the driver; any other table (numbers,
image paths) and a folder of text files are collected on the driver and prepared in-process.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import ray

from hercules.data.dataset import IMAGE_EXTENSIONS, InputError
from hercules.data.readers import read_path

log = logging.getLogger(__name__)

#: Table types read by Ray Data: suffix -> kind.
KINDS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
KINDS |= {".pq": "parquet", ".txt": "txt"}


def _listing(folder: Path) -> tuple[str, list[Path]]:
    """(kind, sorted files) of a folder holding one kind of file; images and anything else go in-process."""
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and not any(s.startswith((".", "_")) for s in p.relative_to(folder).parts)
    )
    if not files:
        raise InputError(f"{folder} is an empty folder: nothing to cluster")
    suffixes = {p.suffix.lower() for p in files}
    if suffixes & IMAGE_EXTENSIONS:
        return "images", files
    kinds = {KINDS.get(s) for s in suffixes}
    if len(kinds) != 1 or None in kinds:
        raise InputError(
            f"{folder} holds {', '.join(sorted(s or '(no suffix)' for s in suffixes))} files; a folder must hold one kind: "
            f"{', '.join(sorted(KINDS))} (one table), .txt files (one item per file) or images"
        )
    return kinds.pop(), files


def _txt_lines(batch: dict[str, np.ndarray]) -> pd.DataFrame:
    """One item per non-empty line, as the in-process reader (UTF-8; invalid bytes replaced, with a warning)."""
    out: list[str] = []
    for path, data in zip(batch["path"], batch["bytes"]):
        out += [s for s in _decode(path, data).splitlines() if s.strip()]
    return pd.DataFrame({"text": out})


def _txt_files(batch: dict[str, np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame({"path": batch["path"], "text": [_decode(p, d) for p, d in zip(batch["path"], batch["bytes"])]})


def _decode(path: str, data: bytes) -> str:
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError as e:
        log.warning("%s is not valid UTF-8 (%s); invalid bytes are replaced with U+FFFD", path, e.reason)
        return bytes(data).decode("utf-8", errors="replace")


def _csv_args(kind: str) -> dict[str, Any]:
    from pyarrow import csv

    return {
        "parse_options": csv.ParseOptions(delimiter="\t" if kind == "tsv" else ","),
        "convert_options": csv.ConvertOptions(strings_can_be_null=True),
    }


def _dataset(kind: str, files: list[str], per_file: bool) -> Any:
    """The Ray Dataset reading ``files`` (lazy: nothing runs until it is consumed)."""
    if kind in ("csv", "tsv"):
        return ray.data.read_csv(files, file_extensions=None, **_csv_args(kind))
    if kind == "jsonl":
        return ray.data.read_json(files, lines=True, file_extensions=None)
    if kind == "parquet":
        return ray.data.read_parquet(files, file_extensions=None)
    raw = ray.data.read_binary_files(files, include_paths=True)
    return raw.map_batches(_txt_files if per_file else _txt_lines, batch_format="numpy", batch_size=64)


class _Fallback(Exception):
    """The Ray reader read something the in-process reader reads differently (invalid UTF-8 as bytes)."""


@ray.remote
def _binary(table: Any) -> list[str]:
    import pyarrow as pa

    return [f.name for f in table.schema if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)]


def _blocks(kind: str, files: list[Path], per_file: bool) -> list[Any]:
    """The table's Arrow blocks, in the files' order, left in the object store."""
    ctx = ray.data.DataContext.get_current()
    saved = ctx.execution_options.preserve_order
    ctx.execution_options.preserve_order = True  # rows in the files' order: the same ids as in-process
    quiet = logging.getLogger("ray.data")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # a rejected file is read again in-process, which says what is wrong
    try:
        refs = _dataset(kind, [str(f) for f in files], per_file).to_arrow_refs()
    finally:
        ctx.execution_options.preserve_order = saved
        quiet.setLevel(level)
    binary = sorted({c for cols in ray.get([_binary.remote(r) for r in refs]) for c in cols})
    if binary:  # pyarrow keeps invalid UTF-8 as bytes
        raise _Fallback(f"column(s) {binary} are not valid UTF-8")
    return refs


def _collect(refs: list[Any], per_file: bool, root: Path) -> pd.DataFrame:
    """The blocks gathered on the driver as one DataFrame (numpy dtypes, as pandas' own readers give)."""
    import pyarrow as pa

    tables = ray.get(refs)
    table = pa.concat_tables(tables, promote_options="default") if tables else pa.table({})
    df = table.to_pandas()
    if per_file:  # a folder of texts: one item per file, its relative path as the id
        base = root.resolve()
        df.index = pd.Index([str(Path(p).resolve().relative_to(base)) for p in df.pop("path")], name="id")
    return df


def _first_line(path: Path) -> str:
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                return line.decode("utf-8", errors="replace").strip()
    return ""


def _in_process(files: list[Path], error: BaseException | None) -> pd.DataFrame:
    """The in-process reader on every file: its InputError names the bad file and line; else its (fixed-up) rows.
    A file Ray Data rejects is usually one the in-process reader rejects too (its error is the one to show), so the
    fallback is logged at INFO; a table the in-process reader reads after all is on the driver: said at WARNING."""
    if error is not None:
        log.info("ray: %s: reading in-process instead", _last_line(error))
    frames = [read_path(f) for f in files]
    if error is not None and not isinstance(error, _Fallback):
        log.warning("ray: Ray Data could not read %s (%s); read on the driver instead", files[0].parent, _last_line(error))
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def read_with_ray(path: str | Path, owner: Any = None) -> pd.DataFrame | Any:
    """The table at ``path`` (a file or a folder, see the module docstring), read on the connected Ray cluster.
    ``owner`` (the engine): return a table of rows as a :class:`~hercules.engines.ray_items.RayTable` whose blocks
    stay in the object store; else (or a folder of text files) collected as a DataFrame."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist")
    if path.is_dir():
        kind, files = _listing(path)
        if kind == "images":
            return read_path(path)
    else:
        kind, files = KINDS.get(path.suffix.lower(), ""), [path]
        if not kind or path.stat().st_size == 0:  # .json, .zip, unsupported or empty: the in-process reader's answer
            return read_path(path)
    per_file = path.is_dir() and kind == "txt"
    if kind == "jsonl" and _first_line(files[0]).startswith('"'):
        return read_path(path) if len(files) == 1 else _in_process(files, None)  # JSON strings, one per line
    log.info("ray: reading %d %s file(s) under %s with Ray Data", len(files), kind, path)
    try:
        refs = _blocks(kind, files, per_file)
        if owner is None or per_file:
            return _collect(refs, per_file, path)
    except Exception as e:  # noqa: BLE001 - Ray wraps the parser's error; the in-process reader names the problem
        if per_file:
            raise InputError(f"{path}: the text files cannot be read ({_last_line(e)})") from None
        return _in_process(files, e)
    from hercules.engines.ray_items import RayTable

    return RayTable(refs, lambda: _collect(refs, False, path), owner)


def _last_line(e: BaseException) -> str:
    lines = [s for s in str(e).strip().splitlines() if s.strip()]
    return lines[-1][:300] if lines else type(e).__name__
