"""Turn whatever the user hands us into one validated :class:`Dataset`.

Accepted: list/tuple of str, pandas Series or DataFrame (choose the text
column; other columns are kept as metadata), numpy arrays (numeric, or of
strings), lists of image paths, dicts ``{id: item}``. Modality is detected and
can be forced. Bad input raises :class:`InputError` with a message that names
the offending rows, never a crash deep inside numpy.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

Modality = Literal["text", "numeric", "image", "vectors"]
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
#: Texts longer than this are truncated (characters); embedders read far less anyway.
MAX_TEXT_CHARS = 20_000


class InputError(ValueError):
    """The input cannot be clustered as given; the message says why and what to do."""


@dataclass(frozen=True)
class Variable:
    """A numeric column: its display name plus optional unit and description."""

    name: str
    unit: str = ""
    description: str = ""


@dataclass
class Dataset:
    """Validated items of one modality, with ids and any extra metadata columns."""

    modality: Modality  # "vectors": precomputed vectors only, no raw items
    ids: np.ndarray  # (n,) object or integer ids, unique
    texts: Sequence[str] | None = None  # text modality (a list, or data.lazy.LazyTexts read from elsewhere)
    numeric: np.ndarray | None = None  # numeric modality, original (unscaled) float64
    variables: list[Variable] | None = None
    image_paths: list[str] | None = None  # image modality
    metadata: pd.DataFrame | None = None  # other columns, aligned with ids (data.lazy.LazyFrame: read from elsewhere)
    descriptions: list[str] | None = None  # images: what the classifier or a captioner sees, plus image facts
    notes: list[str] = field(default_factory=list)  # documented fix-ups (truncation, decoding)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def n_items(self) -> int:
        return len(self.ids)

    def stored_ids(self) -> np.ndarray:
        """The ids as one column type, as saved results hold them: int64 when every id is an integer, else str."""
        kinds = {type(x) for x in self.ids.tolist()}
        return self.ids.astype(np.int64) if kinds <= {int, np.int64} else self.ids.astype(str)

    @cached_property
    def _item_texts(self) -> list[str]:
        return self._build_item_texts()

    def set_descriptions(self, descriptions: list[str]) -> None:
        """Attach per-item descriptions (images) and refresh the cached item texts."""
        if len(descriptions) != len(self.ids):
            raise ValueError(f"{len(descriptions)} descriptions for {len(self.ids)} items")
        self.descriptions = list(descriptions)
        self.__dict__.pop("_item_texts", None)

    def item_texts(self) -> list[str]:
        """A short human-readable string per item (text, file name or values); computed once."""
        return self._item_texts

    def _build_item_texts(self) -> list[str]:
        if self.modality == "text":
            assert self.texts is not None
            return self.texts
        if self.modality == "vectors":
            return [f"item {i}" for i in self.ids]
        if self.modality == "image":
            assert self.image_paths is not None
            names = [os.path.basename(p) for p in self.image_paths]
            if self.descriptions is not None:
                return [f"{n}: {d}" for n, d in zip(names, self.descriptions)]
            return names
        assert self.numeric is not None and self.variables is not None
        names = [v.name for v in self.variables]
        return [", ".join(f"{n}={_fmt(x)}" for n, x in zip(names, row)) for row in self.numeric[:, :8]]


def _fmt(x: float) -> str:
    return f"{x:.4g}"


#: How a user skips bad items, in the Python API and on the command line.
DROP_HINT = "pass missing='drop' (CLI: --drop-missing) to skip them"


def _raise_or_note(missing: str, notes: list[str], problem: str, note: str, fix: str = "Remove them") -> None:
    """One policy for bad items: raise naming them and both ways to skip them, or record a note and warn."""
    if missing == "raise":
        raise InputError(f"{problem}. {fix}, or {DROP_HINT}.")
    notes.append(note)
    log.warning(note)


def _shown(values: Sequence[Any], sep: str = ", ") -> str:
    """The first ten offending ids/paths, so a message names them without flooding the terminal."""
    return sep.join(map(str, values[:10])) + (" ..." if len(values) > 10 else "")


def _looks_like_image(s: str) -> bool:
    return Path(s.split("?")[0]).suffix.lower() in IMAGE_EXTENSIONS


def clean_texts(values: Sequence[Any], ids: np.ndarray) -> tuple[list[str], np.ndarray, list[Any], int, int]:
    """(texts kept, keep mask, ids of empty or missing texts, byte strings decoded, texts truncated)."""
    texts: list[str] = []
    keep = np.ones(len(values), dtype=bool)
    bad: list[Any] = []
    n_bytes = n_trunc = 0
    for i, v in enumerate(values):
        if isinstance(v, bytes):
            v = v.decode("utf-8", errors="replace")
            n_bytes += 1
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, str) and not v.strip()):
            bad.append(ids[i])
            keep[i] = False
            continue
        s = v if isinstance(v, str) else str(v)
        if len(s) > MAX_TEXT_CHARS:
            s = s[:MAX_TEXT_CHARS]
            n_trunc += 1
        texts.append(s)
    return texts, keep, bad, n_bytes, n_trunc


def text_notes(missing: str, notes: list[str], bad: list[Any], n_bytes: int, n_trunc: int, n_bad: int | None = None) -> None:
    """The missing-item policy and the notes of :func:`clean_texts`'s counts (``n_bad``: when ``bad`` holds the first 11)."""
    n_bad = len(bad) if n_bad is None else n_bad
    if n_bad:
        shown = _shown(bad)
        problem = f"{n_bad} item(s) have empty or missing text (ids: {shown})"
        _raise_or_note(missing, notes, problem, f"dropped {n_bad} empty or missing text(s): {shown}")
    if n_bytes:
        notes.append(f"decoded {n_bytes} byte string(s) as UTF-8 (invalid bytes replaced)")
    if n_trunc:
        notes.append(f"truncated {n_trunc} text(s) longer than {MAX_TEXT_CHARS} characters")
        log.warning(notes[-1])


def _clean_texts(values: Sequence[Any], ids: np.ndarray, missing: str, notes: list[str]) -> tuple[list[str], np.ndarray]:
    texts, keep, bad, n_bytes, n_trunc = clean_texts(values, ids)
    text_notes(missing, notes, bad, n_bytes, n_trunc)
    return texts, keep


def unique_ids(ids: Sequence[Any] | np.ndarray | pd.Index, source: str = "the index") -> np.ndarray:
    """Ids as an object array; missing or repeated ids are named, since every result row is keyed by them."""
    arr = np.asarray(list(ids), dtype=object)
    missing = [i for i, x in enumerate(arr.tolist()) if x is None or (isinstance(x, float) and np.isnan(x))]
    if missing:
        raise InputError(f"{source} has {len(missing)} missing id(s) (rows: {_shown(missing)}); every item needs an id")
    dup = [x for x, n in Counter(arr.tolist()).items() if n > 1]  # first-seen order
    if dup:
        raise InputError(
            f"item ids must be unique, but {source} repeats {len(dup)} value(s): {_shown(dup)}; "
            "remove the duplicates or use another id column"
        )
    return arr


def _variables_for(columns: Sequence[Any], numeric_metadata: Mapping[Any, Mapping[str, str]] | None) -> list[Variable]:
    """One Variable per column; metadata renames only the columns it names (pyhercules renamed all)."""
    meta = dict(numeric_metadata or {})
    unknown = set(meta) - set(columns)
    if unknown:
        raise InputError(f"numeric_metadata names unknown column(s): {sorted(map(str, unknown))}")
    out = []
    for c in columns:
        m = meta.get(c, {})
        out.append(Variable(name=str(m.get("name", c)), unit=str(m.get("unit", "")), description=str(m.get("description", ""))))
    names = [v.name for v in out]
    if len(set(names)) != len(names):
        raise InputError(f"variable names must be unique after applying numeric_metadata: {names}")
    return out


def _numeric(values: np.ndarray, ids: np.ndarray, columns: Sequence[Any], metadata, missing: str, notes: list[str]):
    try:
        X = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InputError(f"numeric data could not be converted to numbers: {e}") from None
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise InputError(f"numeric data must be 1-D or 2-D, got shape {X.shape}")
    bad_rows = ~np.isfinite(X).all(axis=1)
    if bad_rows.any():
        bad_cols = [str(c) for c, b in zip(columns, (~np.isfinite(X)).any(axis=0)) if b]
        n_bad = int(bad_rows.sum())
        problem = f"{n_bad} row(s) contain NaN or infinite values (columns: {bad_cols}; ids: {_shown(ids[bad_rows].tolist())})"
        _raise_or_note(missing, notes, problem, f"dropped {n_bad} row(s) with NaN/inf in {bad_cols}", fix="Clean them")
    return X, ~bad_rows, _variables_for(columns, metadata)


def _is_pil(x: Any) -> bool:
    return type(x).__module__.startswith("PIL.")


def _save_pil_images(images: list[Any]) -> list[str]:
    """In-memory PIL images become PNG files in the cache, named by content hash (stable ids, cacheable)."""
    import hashlib
    import io

    from hercules.common.paths import default_cache_dir

    if not all(_is_pil(im) for im in images):
        raise InputError("a list of PIL images must contain only PIL images")
    folder = default_cache_dir() / "pil_images"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for im in images:
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        data = buf.getvalue()
        p = folder / f"{hashlib.sha256(data).hexdigest()[:24]}.png"
        if not p.exists():
            p.write_bytes(data)
        paths.append(str(p))
    return paths


def pick_text_column(df: pd.DataFrame) -> str:
    """Guess the content column when the user names none: the string column with the longest mean text."""
    obj = [c for c in df.columns if df[c].dtype == object or pd.api.types.is_string_dtype(df[c])]
    if not obj:
        raise InputError(
            f"no text column found among {list(map(str, df.columns))}; name one with text_column= (CLI: --text-column)"
        )
    # The column with the longest mean text is almost always the content.
    lengths = {c: df[c].astype(str).str.len().mean() for c in obj}
    return max(lengths, key=lengths.get)


def _to_frame(data: Any, modality: str, text_column: str | None) -> tuple[pd.DataFrame, str | None]:
    """Normalise every accepted input type to a DataFrame (plus the text column a Series implies)."""
    if isinstance(data, Mapping):
        data = pd.Series(list(data.values()), index=list(data.keys()))
    if isinstance(data, np.ndarray) and data.dtype.kind in "US":
        data = data.astype(object)
    if isinstance(data, (list, tuple)) and data and all(isinstance(x, (list, tuple, np.ndarray)) for x in data):
        try:
            data = np.asarray(data, dtype=object).astype(np.float64)
        except (TypeError, ValueError):
            raise InputError("nested lists must be rows of numbers, all of the same length") from None
    if isinstance(data, (list, tuple)) and data and _is_pil(data[0]):
        data = _save_pil_images(list(data))
    if isinstance(data, (list, tuple)):
        data = pd.Series(list(data), dtype=object)
    if isinstance(data, np.ndarray):
        if data.ndim == 2 and data.dtype != object:
            data = pd.DataFrame(data, columns=[f"x{i}" for i in range(data.shape[1])])
        elif data.ndim == 1:
            data = pd.Series(data)
        else:
            raise InputError(f"unsupported array shape {data.shape}")
    if isinstance(data, pd.Series):
        data = data.to_frame(name=data.name if data.name is not None else "item")
        if text_column is None and modality != "numeric" and not pd.api.types.is_numeric_dtype(data.iloc[:, 0]):
            text_column = data.columns[0]
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"unsupported input type {type(data).__name__}")
    if len(data) == 0:
        raise InputError("the input is empty: nothing to cluster")
    return data, text_column


def _split_ids(df: pd.DataFrame, id_column: str | None, text_column: str | None) -> tuple[pd.DataFrame, np.ndarray]:
    """Take the ids out of the frame: the id column, a non-default index, or row numbers."""
    if id_column is None:
        if isinstance(df.index, pd.RangeIndex):
            return df, np.arange(len(df), dtype=np.int64).astype(object)
        return df, unique_ids(df.index)
    if id_column not in df.columns:
        raise InputError(f"id column {id_column!r} not found; columns are {list(map(str, df.columns))}")
    if id_column == text_column:
        raise InputError(f"{id_column!r} cannot be both the id column and the text column")
    return df.drop(columns=[id_column]), unique_ids(df[id_column], f"id column {id_column!r}")


def _text_or_image(df: pd.DataFrame) -> Modality:
    """Image when nearly every value of the sampled column looks like an image path, else text."""
    sample = [str(x) for x in df.dropna().head(200)]
    return "image" if sample and np.mean([_looks_like_image(s) for s in sample]) > 0.95 else "text"


def prepare(
    data: Any,
    *,
    modality: Modality | Literal["auto"] = "auto",
    text_column: str | None = None,
    id_column: str | None = None,
    numeric_columns: Sequence[str] | None = None,
    numeric_metadata: Mapping[Any, Mapping[str, str]] | None = None,
    missing: Literal["raise", "drop"] = "raise",
) -> Dataset:
    """Validate ``data`` and return a :class:`Dataset` (see module docstring)."""
    if missing not in ("raise", "drop"):
        raise ValueError("missing must be 'raise' or 'drop'")
    if modality not in ("auto", "text", "numeric", "image"):
        raise ValueError(f"unknown modality {modality!r}")
    if isinstance(data, Dataset):
        return data
    if hasattr(data, "prepare_dataset"):  # a table held elsewhere (the Ray engine's read): validated where it is
        return data.prepare_dataset(modality, text_column, id_column, numeric_columns, numeric_metadata, missing)
    df, text_column = _to_frame(data, modality, text_column)
    df, ids = _split_ids(df, id_column, text_column)
    if text_column is not None and text_column not in df.columns:
        raise InputError(f"text column {text_column!r} not found; columns are {list(map(str, df.columns))}")
    if modality == "auto":
        if text_column is None and (numeric_columns is not None or all(pd.api.types.is_numeric_dtype(df[c]) for c in df.columns)):
            modality = "numeric"
        else:
            text_column = text_column if text_column is not None else pick_text_column(df)
            modality = _text_or_image(df[text_column])
        log.info("detected %s input (%d items)", modality, len(df))
    notes: list[str] = []
    if modality == "numeric":
        return _numeric_dataset(df, ids, numeric_columns, numeric_metadata, missing, notes)
    if text_column is None:
        text_column = pick_text_column(df)
    texts, keep = _clean_texts(df[text_column].tolist(), ids, missing, notes)
    meta = df.drop(columns=[text_column])
    metadata = meta.loc[keep].reset_index(drop=True) if meta.shape[1] else None
    if not texts:
        raise InputError("no usable items remain after removing empty ones")
    if modality == "text":
        return Dataset("text", ids[keep], texts=texts, metadata=metadata, notes=notes)
    return _image_dataset(texts, ids[keep], metadata, missing, notes)


def _numeric_dataset(df: pd.DataFrame, ids: np.ndarray, numeric_columns, numeric_metadata, missing: str, notes: list[str]):
    """The numeric columns become the matrix to cluster; the other columns stay as metadata."""
    if numeric_columns is not None:
        cols = list(numeric_columns)
    else:
        cols = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
    missing_cols = [c for c in cols if c not in df.columns]
    if missing_cols:
        raise InputError(f"numeric column(s) not found: {missing_cols}")
    if not cols:
        raise InputError("no numeric columns to cluster")
    non_num = [c for c in cols if not pd.api.types.is_numeric_dtype(df[c])]
    if non_num:
        raise InputError(f"column(s) {non_num} are not numeric; choose numeric columns or a text column")
    X, keep, variables = _numeric(
        df[cols].to_numpy(dtype=np.float64, na_value=np.nan), ids, cols, numeric_metadata, missing, notes
    )
    other = df.drop(columns=cols)
    metadata = other.loc[keep].reset_index(drop=True) if other.shape[1] else None
    if not keep.any():
        raise InputError("no usable rows remain after removing rows with NaN/inf")
    return Dataset("numeric", ids[keep], numeric=X[keep], variables=variables, metadata=metadata, notes=notes)


def _image_dataset(paths: list[str], ids: np.ndarray, metadata, missing: str, notes: list[str]) -> Dataset:
    """Check every image opens; broken ones are named, then raised or dropped."""
    from PIL import Image, UnidentifiedImageError

    bad: list[str] = []
    keep = np.ones(len(paths), dtype=bool)
    for i, p in enumerate(paths):
        try:
            with Image.open(p) as im:
                im.verify()
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as e:
            bad.append(f"{p} ({type(e).__name__})")
            keep[i] = False
    if bad:
        shown = _shown(bad, "; ")
        problem = f"{len(bad)} image(s) cannot be read: {shown}"
        _raise_or_note(missing, notes, problem, f"skipped {len(bad)} unreadable image(s): {shown}", fix="Fix or remove them")
    kept = [p for p, k in zip(paths, keep) if k]
    if not kept:
        raise InputError("no readable images")
    meta = metadata.loc[keep].reset_index(drop=True) if metadata is not None else None
    return Dataset("image", ids[keep], image_paths=kept, metadata=meta, notes=notes)
