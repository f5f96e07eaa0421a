"""Read files and folders into a DataFrame that :func:`hercules.data.prepare` accepts.

Every reader turns a malformed file into :class:`InputError` naming the file (and the line,
where there is one), so a user sees what to fix rather than a parser's traceback.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hercules.data.archive import extract_images_zip
from hercules.data.dataset import IMAGE_EXTENSIONS, InputError

log = logging.getLogger(__name__)

TABLE_SUFFIXES = {".csv", ".tsv", ".tab", ".jsonl", ".ndjson", ".json", ".parquet", ".pq", ".txt"}

__all__ = ["TABLE_SUFFIXES", "extract_images_zip", "list_images", "read_path", "read_vectors"]


def _read_text(path: Path) -> str:
    """The file as UTF-8; invalid bytes are replaced and a warning says so (nothing silently lost)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        log.warning("%s is not valid UTF-8 (%s); invalid bytes are replaced with U+FFFD", path, e.reason)
        return data.decode("utf-8", errors="replace")


def _read_text_table(path: Path, reader: Callable[..., pd.DataFrame], **kw: Any) -> pd.DataFrame:
    """Read as UTF-8; on invalid bytes, re-read replacing them and say so."""
    try:
        return reader(path, encoding="utf-8", **kw)
    except UnicodeDecodeError as e:
        log.warning("%s is not valid UTF-8 (%s); invalid bytes are replaced with U+FFFD", path, e.reason)
        return reader(path, encoding="utf-8", encoding_errors="replace", **kw)


def _read_lines(path: Path) -> pd.DataFrame:
    lines = [s for s in _read_text(path).splitlines() if s.strip()]
    return pd.DataFrame({"text": lines})


def _read_jsonl(path: Path) -> pd.DataFrame:
    """One JSON object (or string) per line; a broken line is named by its number."""
    rows: list[Any] = []
    for no, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}, line {no}: not valid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(row, (dict, str)) or (rows and type(row) is not type(rows[0])):
            kind = "objects" if not rows or isinstance(rows[0], dict) else "strings"
            raise InputError(f"{path}, line {no}: expected one JSON {kind[:-1]} per line, got {type(row).__name__}")
        rows.append(row)
    if not rows:
        raise InputError(f"{path} holds no JSON lines")
    return pd.DataFrame({"text": rows}) if isinstance(rows[0], str) else pd.DataFrame.from_records(rows)


def _read_json(path: Path) -> pd.DataFrame:
    """A JSON document pandas understands (records, columns, ...); syntax errors name the line."""
    text = _read_text(path)
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}, line {e.lineno}: not valid JSON ({e.msg} at column {e.colno})") from None
    try:
        return pd.read_json(io.StringIO(text))
    except ValueError as e:
        raise InputError(f"{path} is valid JSON but not a table (a list of records or a dict of columns): {e}") from None


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except ImportError as e:
        raise InputError(f"reading {path} needs pyarrow: {e}") from None
    except (ValueError, OSError, TypeError) as e:  # pyarrow's ArrowInvalid/ArrowIOError derive from these
        raise InputError(f"{path} is not a readable Parquet file ({_first_line(e)})") from None


def _read_csv(path: Path, sep: str = ",") -> pd.DataFrame:
    try:
        return _read_text_table(path, pd.read_csv, sep=sep)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path} has no columns or rows") from None
    except (pd.errors.ParserError, ValueError) as e:
        raise InputError(f"{path} is not a well-formed {'CSV' if sep == ',' else 'TSV'} file ({_first_line(e)})") from None


def _first_line(e: BaseException) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def list_images(folder: Path) -> list[str]:
    """All image files under ``folder`` (recursive), sorted for determinism."""
    files = [p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")]
    return sorted(str(p) for p in files)


def _read_folder(path: Path) -> pd.DataFrame:
    images = list_images(path)
    if not images:
        raise InputError(f"no image files ({', '.join(sorted(IMAGE_EXTENSIONS))}) found under {path}")
    rel = [str(Path(p).relative_to(path)) for p in images]
    return pd.DataFrame({"path": images}, index=pd.Index(rel, name="id"))


_READERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    ".csv": _read_csv,
    ".tsv": lambda p: _read_csv(p, "\t"),
    ".tab": lambda p: _read_csv(p, "\t"),
    ".jsonl": _read_jsonl,
    ".ndjson": _read_jsonl,
    ".json": _read_json,
    ".parquet": _read_parquet,
    ".pq": _read_parquet,
    ".txt": _read_lines,
}


def read_path(path: str | Path) -> pd.DataFrame:
    """Read a CSV/TSV/JSONL/JSON/Parquet/TXT file, a folder or zip of images, into a DataFrame.

    A folder gives one row per image with columns ``path`` (relative ids as the
    index). TXT files give one item per non-empty line in column ``text``.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist")
    if path.is_dir():
        return _read_folder(path)
    suffix = path.suffix.lower()
    if suffix == ".zip":
        return _read_folder(extract_images_zip(path))
    reader = _READERS.get(suffix)
    if reader is None:
        raise InputError(f"unsupported file type {suffix!r}; use one of {sorted(TABLE_SUFFIXES)}, a zip or a folder of images")
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty")
    return reader(path)


def read_vectors(path: str | Path) -> np.ndarray:
    """Load precomputed embeddings from a ``.npy`` file: a 2-D array of numbers, never a pickle."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as e:
        raise InputError(f"cannot read embeddings file {path}: {e.strerror or e}") from None
    if magic != b"\x93NUMPY":
        raise InputError(f"{path} is not a NumPy .npy file (save the embeddings with numpy.save)")
    try:
        E = np.load(path, allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e).lower() or "object" in str(e).lower():
            raise InputError(f"{path} holds Python objects (a pickled or ragged array), not numbers") from None
        raise InputError(f"{path} is not a readable .npy file ({_first_line(e)})") from None
    except (OSError, EOFError) as e:
        raise InputError(f"{path} is not a readable .npy file ({_first_line(e)})") from None
    if not isinstance(E, np.ndarray) or E.dtype.kind not in "biuf":
        raise InputError(f"{path} must hold numbers, not {getattr(E, 'dtype', type(E).__name__)} values")
    if E.ndim != 2 or 0 in E.shape:
        raise InputError(f"{path} must hold a 2-D array, one row per item; got shape {E.shape}")
    return E
