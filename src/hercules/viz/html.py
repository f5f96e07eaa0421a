"""``export_html``: one self-contained HTML file with a zoomable WebGL map of a fitted model.

Everything is inline: the page's script and style come from files in this package, the data is one gzip'ed
binary container (JSON header + typed arrays: uint16 coordinates, uint16/uint32 labels) in base64, unpacked in
the browser with ``DecompressionStream``. The file opens from disk with no network access.
"""

from __future__ import annotations

import base64
import gzip
import html
import io
import json
import logging
import struct
import time
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from hercules.viz.data import MapModel, VizError, map_model, representatives

log = logging.getLogger(__name__)

#: Points drawn by default; larger results are shown as a uniform random sample (cluster sizes stay exact).
DEFAULT_MAX_POINTS = 100_000
_MAGIC = b"HRC1"
_JS_FILES = ("decode.js", "render.js", "labels.js", "ui.js", "main.js")


def _trunc(s: str, n: int) -> str:
    s = " ".join(str(s).split())
    return s if len(s) <= n else s[: n - 1] + "\u2026"


def _pack(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
    """JSON header + 8-byte-aligned raw arrays (little-endian), so the browser reads typed arrays in place."""
    blobs, offsets, pos = [], {}, 0
    for name, a in arrays.items():
        a = np.ascontiguousarray(a)
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        offsets[name] = {"offset": pos, "dtype": a.dtype.name, "length": int(a.size)}
        raw = a.tobytes()
        pad = (-len(raw)) % 8
        blobs.append(raw + b"\0" * pad)
        pos += len(raw) + pad
    header = json.dumps({**meta, "arrays": offsets}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    header += b" " * ((-len(header) - 8) % 8)
    return _MAGIC + struct.pack("<I", len(header)) + header + b"".join(blobs)


def _thumbnails(paths: list[str], items: list[int], size: int = 96) -> dict[str, str]:
    """Small JPEG data URIs for the given items; unreadable files are skipped (the text still shows)."""
    from PIL import Image

    out: dict[str, str] = {}
    for i in items:
        try:
            with Image.open(paths[i]) as im:
                im = im.convert("RGB")
                im.thumbnail((size, size))
                buf = io.BytesIO()
                im.save(buf, format="JPEG", quality=70)
        except (OSError, ValueError):
            continue
        out[str(i)] = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    return out


def _level_json(mm: MapModel, t: int, lo: np.ndarray, ext: float, text_chars: int, n_samples: int) -> dict[str, Any]:
    info = mm.levels[t - 1]
    reps = representatives(mm.model, mm.labels[t - 1], info.k, n_samples)
    anchors = np.round((info.anchors - lo) / ext, 5)
    return {
        "level": t,
        "k": info.k,
        "source": info.source,
        "title": [_trunc(s, 120) for s in info.titles],
        "desc": [_trunc(s, 800) for s in info.descriptions],
        "kw": [kw[:8] for kw in info.keywords],
        "size": info.sizes.tolist(),
        "parent": None if info.parent is None else info.parent.tolist(),
        "anchor": anchors.ravel().tolist(),
        "samples": [[[int(i), _trunc(mm.texts[i], text_chars)] for i in r] for r in reps],
    }


def build_payload(
    mm: MapModel,
    max_points: int,
    title: str,
    text_chars: int = 200,
    n_samples: int = 5,
    max_thumbnails: int = 2000,
    seed: int = 0,
) -> bytes:
    """The packed (uncompressed) data container of the page."""
    n = mm.n_items
    rng = np.random.default_rng(seed)
    pts = rng.permutation(n)[:max_points] if n > max_points else rng.permutation(n)  # random draw order
    lo, hi = mm.coords.min(axis=0), mm.coords.max(axis=0)
    ext = float(max((hi - lo).max(), 1e-12))
    uv = (mm.coords[pts] - lo) / ext
    q = np.round(np.clip(uv, 0, 1) * 65535).astype(np.uint16)
    view = np.concatenate([np.percentile(uv, 0.5, axis=0), np.percentile(uv, 99.5, axis=0)])
    arrays: dict[str, np.ndarray] = {"xy": q.ravel(), "item": pts.astype(np.uint32)}
    for info in mm.levels:
        lab = mm.labels[info.level - 1][pts]
        arrays[f"lab{info.level}"] = lab.astype(np.uint16 if info.k < 65536 else np.uint32)
    levels = [_level_json(mm, t, lo, ext, text_chars, n_samples) for t in range(1, mm.depth + 1)]
    thumbs: dict[str, str] = {}
    paths = getattr(mm.model.dataset_, "image_paths", None)
    if mm.modality == "image" and paths:
        wanted = {i for lv in levels for s in lv["samples"] for i, _ in s} | set(pts[:max_thumbnails].tolist())
        thumbs = _thumbnails(paths, sorted(wanted))
    meta = {
        "title": title,
        "n_items": n,
        "n_points": int(len(pts)),
        "modality": mm.modality,
        "layout": getattr(getattr(mm.model, "layout_", None), "method", None),
        "view": np.round(view, 5).tolist(),
        "colors": mm.colors,
        "levels": levels,
        "texts": [_trunc(mm.texts[i], text_chars) for i in pts.tolist()],
        "thumbs": thumbs,
    }
    return _pack(meta, arrays)


def _asset(name: str) -> str:
    return resources.files("hercules.viz").joinpath("static", name).read_text(encoding="utf-8")


def render_page(payload: bytes, title: str) -> str:
    """The HTML text: template + inlined CSS and JS + base64 of the gzip'ed payload."""
    data = base64.b64encode(gzip.compress(payload, compresslevel=6, mtime=0)).decode("ascii")
    js = "\n".join(_asset(f) for f in _JS_FILES).replace("</script", "<\\/script")
    page = _asset("map.html")
    for key, value in (("__TITLE__", html.escape(title)), ("/*__CSS__*/", _asset("map.css")), ("/*__JS__*/", js)):
        page = page.replace(key, value)
    return page.replace("__DATA__", data)


def export_html(
    model: Any,
    path: str | Path,
    *,
    max_points: int = DEFAULT_MAX_POINTS,
    title: str | None = None,
    text_chars: int = 200,
    max_thumbnails: int = 2000,
) -> Path:
    """Write a self-contained interactive map of ``model`` to ``path`` and return the path.

    Shows every item (or a random ``max_points`` of them) coloured by its top-level cluster, titles of the
    level that suits the zoom, hover text (thumbnails for images), search, a cluster pane and the tree.
    """
    if max_points < 1:
        raise VizError("max_points must be at least 1")
    t0 = time.perf_counter()
    mm = map_model(model)
    if title is None:
        title = f"hercules map: {mm.n_items:,} items, levels {'/'.join(str(lv.k) for lv in reversed(mm.levels))}"
    page = render_page(build_payload(mm, max_points, title, text_chars, max_thumbnails=max_thumbnails), title)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    log.info("wrote %s (%.1f MB) in %.1f s", out, out.stat().st_size / 1e6, time.perf_counter() - t0)
    return out
