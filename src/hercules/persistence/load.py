"""Read a result folder back, checking every file against the JSON, so a damaged result is one
clear error naming the file and what is wrong, never a traceback or an empty tree."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hercules.data.dataset import Dataset, Variable
from hercules.engines.membership import MembershipParts, fingerprint
from hercules.hierarchy.tree import ClusterLabel, Hierarchy, Level
from hercules.layout import Layout, PCALayout, PCAProjection, layout_from_arrays
from hercules.persistence.folder import FORMAT, MEMBERSHIP_DIR, SCHEMA_VERSION, TUNED_DIR, ResultFormatError
from hercules.pipeline.encoder import EncoderConfig, L0Encoder
from hercules.pipeline.state import FittedState
from hercules.space import space_from_state


def _read_meta(src: Path) -> dict[str, Any]:
    jpath = src / "hercules.json"
    if not src.is_dir():
        raise ResultFormatError(f"{src} is not a folder (a hercules result is a folder)")
    if not jpath.exists():
        raise ResultFormatError(f"{src} is not a hercules result (no hercules.json)")
    try:
        meta = json.loads(jpath.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ResultFormatError(f"{jpath} is damaged: {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ResultFormatError(f"{jpath} is not a hercules result file")
    version = meta.get("schema_version")
    if not isinstance(version, int) or version < 1:
        raise ResultFormatError(f"{jpath} has no valid schema_version")
    if version > SCHEMA_VERSION:
        raise ResultFormatError(
            f"{src} uses schema {version}, newer than this hercules supports ({SCHEMA_VERSION}); upgrade hercules"
        )
    missing = [k for k in ("modality", "n_items", "n_features", "levels", "params") if k not in meta]
    if missing or not meta["levels"]:
        raise ResultFormatError(f"{jpath} is damaged: missing {', '.join(missing) or 'levels'}")
    return meta


def _read_arrays(src: Path) -> dict[str, np.ndarray]:
    path = src / "arrays.npz"
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise ResultFormatError(f"{path} is missing") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ResultFormatError(f"{path} is damaged: {e}") from None


def _read_items(src: Path, n_items: int) -> pd.DataFrame:
    path = src / "items.parquet"
    try:
        items = pd.read_parquet(path)
    except FileNotFoundError:
        raise ResultFormatError(f"{path} is missing") from None
    except Exception as e:  # noqa: BLE001 - pyarrow raises several unrelated types for a bad file
        raise ResultFormatError(f"{path} is damaged: {e}") from None
    if "__id__" not in items.columns or len(items) != n_items:
        raise ResultFormatError(f"{path} has {len(items)} rows (or no ids); hercules.json says {n_items} items")
    return items


def _read_membership(src: Path, n: int, arrays: dict[str, np.ndarray]) -> MembershipParts | None:
    """Schema 2: level 1's parents (``parent_L1``) read from the ``L1`` column of ``membership/`` (the ``row`` and
    ``L1`` columns only, fully: 12 bytes per item) into ``arrays``; the parts are kept for the next save."""
    path = src / MEMBERSHIP_DIR
    if not path.is_dir():
        return None
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path, columns=["row", "L1"])
        rows, lab = table.column("row").to_numpy(), table.column("L1").to_numpy()
    except Exception as e:  # noqa: BLE001 - pyarrow raises several unrelated types for a bad file
        raise ResultFormatError(f"{path} is damaged: {e}") from None
    parent = np.full(n, -1, dtype=np.int32)
    if len(rows) == n and rows.min(initial=0) >= 0 and rows.max(initial=-1) < n:
        parent[rows] = lab
    if len(rows) != n or (parent < 0).any():
        raise ResultFormatError(f"{path} does not hold every item once ({len(rows)} rows; hercules.json says {n} items)")
    arrays["parent_L1"] = parent
    return MembershipParts(path, ())


def _require(arrays: dict[str, np.ndarray], key: str, shape: tuple[int | None, ...], src: Path) -> np.ndarray:
    a = arrays.get(key)
    if a is None:
        raise ResultFormatError(f"{src / 'arrays.npz'} is damaged: no {key}")
    if a.ndim != len(shape) or any(s is not None and s != got for s, got in zip(shape, a.shape)):
        raise ResultFormatError(f"{src / 'arrays.npz'} is damaged: {key} has shape {a.shape}, expected {shape}")
    return a


def _hierarchy(meta: dict, arrays: dict[str, np.ndarray], src: Path) -> Hierarchy:
    """Levels from the JSON and arrays, with every parent link checked for length and range."""
    n, below = int(meta["n_items"]), int(meta["n_items"])
    h = Hierarchy(n_items=n)
    for t, lj in enumerate(meta["levels"], start=1):
        clusters = lj.get("clusters") or []
        k = len(clusters)
        if lj.get("level") != t or k < 1:
            raise ResultFormatError(f"{src / 'hercules.json'} is damaged: level {t} is malformed")
        parent = _require(arrays, f"parent_L{t}", (below,), src)
        if len(parent) and (parent.min() < 0 or parent.max() >= k):
            raise ResultFormatError(f"{src / 'arrays.npz'} is damaged: parent_L{t} points outside 0..{k - 1}")
        labels = [
            ClusterLabel(c["title"], c["description"], c.get("keywords", []), c.get("label_source", "keywords")) for c in clusters
        ]
        h.levels.append(
            Level(
                level=t,
                parent=parent,
                centroids=_require(arrays, f"centroids_L{t}", (k, None), src),
                sizes=np.array([c["size"] for c in clusters], dtype=np.int64),
                labels=labels,
                requested_k=lj.get("requested_k"),
                auto_k=lj.get("auto_k"),
                coords=arrays.get(f"coords_L{t}"),
                description_embeddings=arrays.get(f"desc_emb_L{t}"),
                space_centroids=arrays.get(f"space_centroids_L{t}"),
            )
        )
        below = k
    return h


def _dataset(meta: dict, items: pd.DataFrame) -> Dataset:
    ids = items["__id__"].to_numpy().astype(object)
    meta_cols = [c for c in items.columns if c.startswith("meta:")]
    metadata = items[meta_cols].rename(columns=lambda c: c[5:]) if meta_cols else None
    modality, notes = meta["modality"], meta.get("notes") or []
    if modality == "text":
        return Dataset("text", ids, texts=items["__item__"].tolist(), metadata=metadata, notes=notes)
    if modality == "image":
        descs = items["__desc__"].tolist() if "__desc__" in items.columns else None
        return Dataset("image", ids, image_paths=items["__item__"].tolist(), metadata=metadata, notes=notes, descriptions=descs)
    if modality == "numeric":
        cols = sorted((c for c in items.columns if c.startswith("__num__")), key=lambda c: int(c[7:]))
        variables = [Variable(**v) for v in meta["variables"]]
        return Dataset(
            "numeric", ids, numeric=items[cols].to_numpy(np.float64), variables=variables, metadata=metadata, notes=notes
        )
    return Dataset("vectors", ids, metadata=metadata, notes=notes)


def _layout(arrays: dict[str, np.ndarray]) -> Layout:
    """The saved layout; results written before layouts existed hold a bare PCA (``pca_*`` arrays)."""
    if "layout_method" in arrays:
        return layout_from_arrays(arrays)
    return PCALayout(PCAProjection.from_arrays(arrays))


def _embeddings(src: Path, n: int, d: int) -> np.ndarray | None:
    path = src / "embeddings.npy"
    if not path.exists():
        return None
    try:
        E = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise ResultFormatError(f"{path} is damaged: {e}") from None
    if E.shape != (n, d):
        raise ResultFormatError(f"{path} has shape {E.shape}; hercules.json says ({n}, {d})")
    return E


def load_state(path: str | os.PathLike) -> tuple[FittedState, dict[str, Any]]:
    """(fitted state, constructor parameters) of the result folder ``path``."""
    src = Path(path)
    meta = _read_meta(src)
    arrays = _read_arrays(src)
    items = _read_items(src, int(meta["n_items"]))
    parts = _read_membership(src, int(meta["n_items"]), arrays)
    try:
        hierarchy = _hierarchy(meta, arrays, src)
        dataset = _dataset(meta, items)
        projection = _layout(arrays)
        space = space_from_state(meta.get("space"), arrays)  # older results: the identity space
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, ResultFormatError):
            raise
        raise ResultFormatError(f"{src} is damaged: {type(e).__name__}: {e}") from None
    n, d = int(meta["n_items"]), int(meta["n_features"])
    changes = meta.get("changes")
    if changes is not None and not isinstance(changes, dict):
        raise ResultFormatError(f"{src / 'hercules.json'} is damaged: changes is not an object")
    coords = _require(arrays, "item_coords", (n, None), src)
    params = dict(meta["params"])
    if meta.get("tuned_embedder") and not (src / TUNED_DIR / "config.json").exists():
        raise ResultFormatError(f"{src} is damaged: its fine-tuned embedder folder {TUNED_DIR}/ is missing")
    state = FittedState(
        hierarchy=hierarchy,
        dataset=dataset,
        encoder=L0Encoder.from_state(EncoderConfig.from_params(params), meta, arrays, str(src / TUNED_DIR)),
        projection=projection,
        coords=coords,
        embeddings=_embeddings(src, n, d),
        n_features=d,
        timings=meta.get("timings_s", {}),
        llm_stats=meta.get("llm_stats", []),
        changes=changes,
        space=space,
    )
    if parts is not None:
        parts.written_for = fingerprint(hierarchy)  # checked against the hierarchy again at the next save
        state.membership = parts
    return state, params
