"""Read files and folders into a DataFrame that :func:`hercules.data.prepare` accepts."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from hercules.data.dataset import IMAGE_EXTENSIONS, InputError

log = logging.getLogger(__name__)

TABLE_SUFFIXES = {".csv", ".tsv", ".tab", ".jsonl", ".ndjson", ".json", ".parquet", ".pq", ".txt"}


def _read_text_table(path: Path, reader, **kw) -> pd.DataFrame:
    """Read as UTF-8; on invalid bytes, re-read replacing them and say so (nothing silently lost)."""
    try:
        return reader(path, encoding="utf-8", **kw)
    except UnicodeDecodeError as e:
        log.warning("%s is not valid UTF-8 (%s); invalid bytes are replaced with U+FFFD", path, e.reason)
        return reader(path, encoding="utf-8", encoding_errors="replace", **kw)


def _read_lines(path: Path, encoding: str = "utf-8", encoding_errors: str = "strict") -> pd.DataFrame:
    with open(path, encoding=encoding, errors=encoding_errors, newline=None) as f:
        lines = [line.rstrip("\n") for line in f]
    lines = [s for s in lines if s.strip()]
    return pd.DataFrame({"text": lines})


def list_images(folder: Path) -> list[str]:
    """All image files under ``folder`` (recursive), sorted for determinism."""
    files = [p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")]
    return sorted(str(p) for p in files)


MAX_ZIP_MEMBERS = 500_000
MAX_ZIP_BYTES = 20 * 2**30  # uncompressed
MAX_ZIP_RATIO = 200  # uncompressed / compressed, beyond which a zip is treated as a bomb


def extract_images_zip(path: Path, dest_root: Path | None = None) -> Path:
    """Safely extract the image files of a zip into a content-addressed cache folder.

    Refuses absolute paths and ``..`` (path traversal), too many members, and archives whose
    uncompressed size is huge or implausibly compressed (zip bombs). Non-image members are skipped.
    """
    import hashlib
    import zipfile

    from hercules.common.paths import default_cache_dir

    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    dest = (dest_root or default_cache_dir() / "unzipped") / digest
    with zipfile.ZipFile(path) as zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        if len(members) > MAX_ZIP_MEMBERS:
            raise InputError(f"{path} has {len(members)} members; the limit is {MAX_ZIP_MEMBERS}")
        total = sum(m.file_size for m in members)
        packed = max(sum(m.compress_size for m in members), 1)
        if total > MAX_ZIP_BYTES or (total > 2**30 and total / packed > MAX_ZIP_RATIO):
            raise InputError(
                f"{path} expands to {total / 2**30:.1f} GiB (ratio {total / packed:.0f}x): refusing a possible zip bomb"
            )
        for m in members:
            parts = Path(m.filename.replace("\\", "/")).parts
            if m.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                raise InputError(f"{path} contains an unsafe member name {m.filename!r}")
        dest.mkdir(parents=True, exist_ok=True)
        root = dest.resolve()
        for m in members:
            rel = Path(*Path(m.filename.replace("\\", "/")).parts)
            if rel.suffix.lower() not in IMAGE_EXTENSIONS or rel.name.startswith(".") or "__MACOSX" in rel.parts:
                continue
            target = (dest / rel).resolve()
            if root not in target.parents:
                raise InputError(f"{path} member {m.filename!r} escapes the extraction folder")
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(m) as src, open(target, "wb") as out:
                    out.write(src.read(m.file_size + 1))
    return dest


def read_path(path: str | Path) -> pd.DataFrame:
    """Read a CSV/TSV/JSONL/JSON/Parquet/TXT file, a folder or zip of images, into a DataFrame.

    A folder gives one row per image with columns ``path`` (relative ids as the
    index). TXT files give one item per non-empty line in column ``text``.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist")
    if path.is_dir():
        images = list_images(path)
        if not images:
            raise InputError(f"no image files ({', '.join(sorted(IMAGE_EXTENSIONS))}) found under {path}")
        rel = [str(Path(p).relative_to(path)) for p in images]
        return pd.DataFrame({"path": images}, index=pd.Index(rel, name="id"))
    suffix = path.suffix.lower()
    if suffix == ".zip":
        return read_path(extract_images_zip(path))
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty")
    if suffix in (".csv",):
        return _read_text_table(path, pd.read_csv)
    if suffix in (".tsv", ".tab"):
        return _read_text_table(path, pd.read_csv, sep="\t")
    if suffix in (".jsonl", ".ndjson"):
        return _read_text_table(path, pd.read_json, lines=True)
    if suffix == ".json":
        return _read_text_table(path, pd.read_json)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if suffix == ".txt":
        return _read_text_table(path, _read_lines)
    raise InputError(f"unsupported file type {suffix!r}; use one of {sorted(TABLE_SUFFIXES)} or a folder of images")
