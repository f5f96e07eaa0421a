"""Save and load a fitted model as one folder: readable JSON + compact binary arrays.

Layout (``SCHEMA_VERSION`` 1)::

    result/
      hercules.json     tree, titles, descriptions, sizes, parameters (readable)
      arrays.npz        parent links, centroids, 2-D/3-D coordinates, PCA, scaler
      items.parquet     item ids, the items (text/path/values) and metadata columns
      embeddings.npy    optional L0 vectors (float16 by default), memory-mapped on load

No pickle anywhere: loading a result cannot execute code.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hercules.data.dataset import Dataset, Variable
from hercules.hierarchy.tree import Hierarchy, Level, cluster_id
from hercules.hierarchy.tree import ClusterLabel
from hercules.reduction import PCAProjection

SCHEMA_VERSION = 1
FORMAT = "hercules-result"


class ResultFormatError(ValueError):
    """The folder is not a hercules result, or was written by an incompatible version."""


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
    ids = ds.ids
    kinds = {type(x) for x in ids.tolist()}
    id_col = ids.astype(np.int64) if kinds <= {int, np.int64} else ids.astype(str)
    df = pd.DataFrame({"__id__": id_col})
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
        meta = ds.metadata.reset_index(drop=True).copy()
        for c in meta.columns:  # parquet needs one type per column
            if meta[c].dtype == object:
                meta[c] = meta[c].map(lambda x: None if x is None or (isinstance(x, float) and np.isnan(x)) else str(x))
        meta.columns = [f"meta:{c}" for c in meta.columns]
        df = pd.concat([df, meta], axis=1)
    return df


def save(model: Any, path: str | os.PathLike, embeddings: str | None = "float16") -> Path:
    """Write ``model`` (a fitted :class:`hercules.Hercules`) to the folder ``path`` atomically."""
    from hercules import __version__

    model._check_fitted()
    if embeddings not in ("float16", "float32", None):
        raise ValueError("embeddings must be 'float16', 'float32' or None")
    dest = Path(path)
    h: Hierarchy = model.hierarchy_
    ds: Dataset = model.dataset_
    levels_json = []
    arrays: dict[str, np.ndarray] = {"item_coords": model.coords_}
    for lvl in h.levels:
        upper = h.levels[lvl.level] if lvl.level < h.depth else None
        children = [[] for _ in range(lvl.k)]
        if lvl.level > 1:
            for c, p in enumerate(lvl.parent.tolist()):
                children[p].append(cluster_id(lvl.level - 1, c))
        clusters = []
        for j, lab in enumerate(lvl.labels):
            clusters.append(
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
            )
        levels_json.append(
            {"level": lvl.level, "k": lvl.k, "requested_k": lvl.requested_k, "auto_k": lvl.auto_k, "clusters": clusters}
        )
        arrays[f"parent_L{lvl.level}"] = lvl.parent.astype(np.int32)
        arrays[f"centroids_L{lvl.level}"] = lvl.centroids.astype(np.float32)
        if lvl.coords is not None:
            arrays[f"coords_L{lvl.level}"] = lvl.coords
        if lvl.description_embeddings is not None:
            arrays[f"desc_emb_L{lvl.level}"] = lvl.description_embeddings.astype(np.float32)
    arrays.update(model.projection_.to_arrays())
    if getattr(model, "scaler_", None) is not None:
        arrays["scaler_mean"] = model.scaler_["mean"]
        arrays["scaler_scale"] = model.scaler_["scale"]
    meta = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "hercules_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "modality": ds.modality,
        "n_items": ds.n_items,
        "n_features": int(model.n_features_in_),
        "embedder": model.embedder_id_,
        "embedder_spec": getattr(model, "embedder_spec_", None),
        "variables": [vars(v) for v in ds.variables] if ds.variables else None,
        "notes": ds.notes,
        "params": _jsonable(model.get_params()),
        "timings_s": {k: round(v, 4) for k, v in model.timings_.items()},
        "levels": levels_json,
    }
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".hercules-", dir=dest.parent))
    try:
        (tmp / "hercules.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False), encoding="utf-8")
        np.savez(tmp / "arrays.npz", **arrays)
        _items_frame(ds).to_parquet(tmp / "items.parquet", index=False)
        if embeddings is not None and model.embeddings_ is not None:
            np.save(tmp / "embeddings.npy", model.embeddings_.astype(embeddings))
        if dest.exists():
            if not (dest / "hercules.json").exists() and any(dest.iterdir()):
                raise FileExistsError(f"{dest} exists and is not a hercules result; refusing to overwrite it")
            shutil.rmtree(dest)
        tmp.rename(dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _dataset_from(meta: dict, items: pd.DataFrame) -> Dataset:
    ids = items["__id__"].to_numpy().astype(object)
    meta_cols = [c for c in items.columns if c.startswith("meta:")]
    metadata = items[meta_cols].rename(columns=lambda c: c[5:]) if meta_cols else None
    modality = meta["modality"]
    if modality == "text":
        return Dataset("text", ids, texts=items["__item__"].tolist(), metadata=metadata, notes=meta["notes"])
    if modality == "image":
        descs = items["__desc__"].tolist() if "__desc__" in items.columns else None
        return Dataset(
            "image", ids, image_paths=items["__item__"].tolist(), metadata=metadata, notes=meta["notes"], descriptions=descs
        )
    if modality == "numeric":
        cols = sorted((c for c in items.columns if c.startswith("__num__")), key=lambda c: int(c[7:]))
        return Dataset(
            "numeric",
            ids,
            numeric=items[cols].to_numpy(np.float64),
            variables=[Variable(**v) for v in meta["variables"]],
            metadata=metadata,
            notes=meta["notes"],
        )
    return Dataset("vectors", ids, metadata=metadata, notes=meta["notes"])


def load(path: str | os.PathLike) -> Any:
    """Load a result folder written by :func:`save` into a fitted :class:`hercules.Hercules`."""
    from hercules.estimator import Hercules

    src = Path(path)
    jpath = src / "hercules.json"
    if not jpath.exists():
        raise ResultFormatError(f"{src} is not a hercules result (no hercules.json)")
    meta = json.loads(jpath.read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        raise ResultFormatError(f"{jpath} is not a hercules result file")
    if meta.get("schema_version", 0) > SCHEMA_VERSION:
        raise ResultFormatError(
            f"{src} uses schema {meta['schema_version']}, newer than this hercules supports ({SCHEMA_VERSION}); upgrade hercules"
        )
    with np.load(src / "arrays.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    items = pd.read_parquet(src / "items.parquet")
    params = {k: v for k, v in meta["params"].items() if k in Hercules().get_params()}
    params["labeler"] = None
    model = Hercules(**params)
    if meta.get("embedder_spec"):
        model.embedder = meta["embedder_spec"]
    ds = _dataset_from(meta, items)
    h = Hierarchy(n_items=meta["n_items"])
    for lj in meta["levels"]:
        t = lj["level"]
        labels = [
            ClusterLabel(c["title"], c["description"], c.get("keywords", []), c.get("label_source", "keywords"))
            for c in lj["clusters"]
        ]
        h.levels.append(
            Level(
                level=t,
                parent=arrays[f"parent_L{t}"],
                centroids=arrays[f"centroids_L{t}"],
                sizes=np.array([c["size"] for c in lj["clusters"]], dtype=np.int64),
                labels=labels,
                requested_k=lj.get("requested_k"),
                auto_k=lj.get("auto_k"),
                coords=arrays.get(f"coords_L{t}"),
                description_embeddings=arrays.get(f"desc_emb_L{t}"),
            )
        )
    model.dataset_ = ds
    model.hierarchy_ = h
    model.levels_ = [lvl.k for lvl in h.levels]
    model.labels_ = h.item_labels(1)
    model.n_features_in_ = meta["n_features"]
    model.embedder_id_ = meta["embedder"]
    model.embedder_ = None
    model.image_embedder_ = None
    model.projection_ = PCAProjection.from_arrays(arrays)
    model.coords_ = arrays["item_coords"]
    model.timings_ = meta.get("timings_s", {})
    if "scaler_mean" in arrays:
        model.scaler_ = {"mean": arrays["scaler_mean"], "scale": arrays["scaler_scale"]}
    emb = src / "embeddings.npy"
    model.embeddings_ = np.load(emb, mmap_mode="r") if emb.exists() else None
    return model
