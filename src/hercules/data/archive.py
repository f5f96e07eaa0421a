"""Safe extraction of the images in a zip archive.

A zip is untrusted input: member names may try to escape the folder (``../``, absolute paths),
headers may lie about sizes, and a few kilobytes may expand to terabytes. Members are streamed
in chunks into a private staging folder; sizes are enforced on the bytes actually written, not on
what the header claims; the staging folder is renamed into place only when every member is out,
so a refused, damaged or interrupted archive never leaves a half-filled (or zero-byte) folder that a
later run would mistake for a finished one.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

from hercules.data.dataset import IMAGE_EXTENSIONS, InputError

log = logging.getLogger(__name__)

MAX_ZIP_MEMBERS = 500_000
MAX_ZIP_BYTES = 20 * 2**30  # uncompressed, all image members together
#: Uncompressed / compressed size beyond which a member is treated as a zip bomb. Images are
#: already compressed (PNG, JPEG: ratio ~1; raw BMP/TIFF rarely above 20).
MAX_ZIP_RATIO = 100
#: The ratio test starts once a member has expanded this far (tiny files compress oddly).
RATIO_FLOOR_BYTES = 8 * 2**20
CHUNK_BYTES = 1 << 20
#: Written last into a finished extraction; a folder without it is an interrupted one.
DONE_MARKER = ".hercules-extracted"
STALE_STAGING_S = 3600


def _bomb(path: Path, what: str) -> InputError:
    return InputError(f"{path} {what}: refusing a possible zip bomb")


def _member_path(path: Path, m: zipfile.ZipInfo) -> Path | None:
    """The member's relative path, None for non-image members; unsafe names are refused."""
    name = m.filename.replace("\\", "/")
    parts = Path(name).parts
    if name.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
        raise InputError(f"{path} contains an unsafe member name {m.filename!r}")
    rel = Path(*parts) if parts else Path()
    if rel.suffix.lower() not in IMAGE_EXTENSIONS or rel.name.startswith(".") or "__MACOSX" in rel.parts:
        return None
    return rel


def _plan(path: Path, zf: zipfile.ZipFile) -> list[tuple[zipfile.ZipInfo, Path]]:
    """Image members to extract, after the checks that need no decompression (count, names, declared sizes)."""
    members = [m for m in zf.infolist() if not m.is_dir()]
    if len(members) > MAX_ZIP_MEMBERS:
        raise InputError(f"{path} has {len(members)} members; the limit is {MAX_ZIP_MEMBERS}")
    plan = [(m, rel) for m in members if (rel := _member_path(path, m)) is not None]
    if not plan:
        raise InputError(f"{path} holds no image files ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    declared = sum(m.file_size for m, _ in plan)
    if declared > MAX_ZIP_BYTES:
        raise _bomb(path, f"expands to {declared / 2**30:.1f} GiB (limit {MAX_ZIP_BYTES / 2**30:.0f} GiB)")
    for m, _ in plan:
        if m.file_size > RATIO_FLOOR_BYTES and m.file_size > MAX_ZIP_RATIO * max(m.compress_size, 1):
            raise _bomb(path, f"member {m.filename!r} claims a compression ratio of {m.file_size / max(m.compress_size, 1):.0f}x")
    return plan


def _stream(path: Path, zf: zipfile.ZipFile, m: zipfile.ZipInfo, target: Path, budget: int) -> int:
    """Copy one member in chunks, enforcing its declared size, the ratio and the remaining budget."""
    written = 0
    limit = max(m.compress_size, 1) * MAX_ZIP_RATIO
    try:
        with zf.open(m) as src, open(target, "wb") as out:
            while chunk := src.read(CHUNK_BYTES):
                written += len(chunk)
                if written > m.file_size:
                    raise InputError(f"{path}: member {m.filename!r} holds more data than its header says ({m.file_size} bytes)")
                if written > budget:
                    raise _bomb(path, f"expands beyond {MAX_ZIP_BYTES / 2**30:.0f} GiB")
                if written > RATIO_FLOOR_BYTES and written > limit:
                    raise _bomb(path, f"member {m.filename!r} expands more than {MAX_ZIP_RATIO}x")
                out.write(chunk)
    except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError, RuntimeError) as e:
        raise InputError(f"{path}: member {m.filename!r} is damaged or does not match its header ({e})") from None
    return written


def _publish(staging: Path, dest: Path) -> None:
    """Move a finished staging folder into place; an unfinished folder already there is replaced."""
    if dest.exists():
        if (dest / DONE_MARKER).exists():
            return  # another run finished the same archive first
        log.warning("removing an interrupted extraction at %s", dest)
        shutil.rmtree(dest)
    try:
        staging.rename(dest)
    except OSError:
        if not (dest / DONE_MARKER).exists():
            raise


def _sweep_stale(root: Path) -> None:
    """Remove staging folders that a killed process left behind long ago."""
    now = time.time()
    for p in root.glob(".*.partial"):
        try:
            if p.is_dir() and now - p.stat().st_mtime > STALE_STAGING_S:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass


def extract_images_zip(path: str | Path, dest_root: str | Path | None = None) -> Path:
    """Extract the image members of the zip ``path`` into ``dest_root/<content hash>`` and return that folder.

    Refuses absolute paths and ``..`` (path traversal), too many members, members whose data
    exceeds their header, and archives that expand too far in total or by ratio (zip bombs);
    non-image members are skipped. A finished extraction is reused by the next run.
    """
    from hercules.common.paths import default_cache_dir
    from hercules.common.plugins import file_digest

    path = Path(path)
    root = Path(dest_root) if dest_root is not None else default_cache_dir() / "unzipped"
    try:
        digest = file_digest(path)[:16]
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}") from None
    dest = root / digest
    if (dest / DONE_MARKER).exists():
        return dest
    try:
        with zipfile.ZipFile(path) as zf:
            plan = _plan(path, zf)
            root.mkdir(parents=True, exist_ok=True)
            _sweep_stale(root)
            staging = Path(tempfile.mkdtemp(prefix=f".{digest}-", suffix=".partial", dir=root))
            try:
                budget = MAX_ZIP_BYTES
                resolved = staging.resolve()
                for m, rel in plan:
                    target = staging / rel
                    if resolved not in target.resolve().parents:
                        raise InputError(f"{path} member {m.filename!r} escapes the extraction folder")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    budget -= _stream(path, zf, m, target, budget)
                (staging / DONE_MARKER).touch()
                _publish(staging, dest)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise InputError(f"{path} is not a valid zip archive (it may be truncated or damaged: {e})") from None
    return dest
