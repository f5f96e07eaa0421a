"""Evaluate a fitted hierarchy level by level (Section 3.7, and beyond it)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from hercules.evaluation.metrics import (
    cosine_matrix,
    external_metrics,
    internal_metrics,
    pair_agreement,
    sibling_distinctness,
    title_alignment,
)
from hercules.evaluation.titles import identification_unavailable, title_quality

log = logging.getLogger(__name__)


def resolve_labels(model: Any, labels: Any) -> np.ndarray:
    """Ground truth aligned with the fitted items: an array, a Series/dict keyed by item id, or a metadata column name."""
    ds = model.dataset_
    if isinstance(labels, str):
        if ds.metadata is None or labels not in ds.metadata.columns:
            cols = [] if ds.metadata is None else list(ds.metadata.columns)
            raise KeyError(f"no column {labels!r} among the items' metadata columns {cols}")
        return ds.metadata[labels].to_numpy()
    if isinstance(labels, (pd.Series, Mapping)):
        series = labels if isinstance(labels, pd.Series) else pd.Series(labels)
        missing = [i for i in ds.ids[:1000] if i not in series.index]
        if missing:
            raise KeyError(f"labels are missing for item ids such as {missing[:5]}")
        return series.loc[list(ds.ids)].to_numpy()
    arr = np.asarray(labels, dtype=object)
    if len(arr) != ds.n_items:
        raise ValueError(f"got {len(arr)} labels for {ds.n_items} items")
    return arr


def _embed_titles(model: Any, texts: list[str]) -> np.ndarray:
    return model.encoder_.text_embedder().embed(texts, desc="embedding titles")


def evaluate_level(
    model: Any,
    level: int,
    labels: Any = None,
    *,
    truth_levels: Mapping[str, Any] | None = None,
    class_names: Mapping[Any, str] | bool | None = None,
    sample_size: int = 5000,
    random_state: int | None = 0,
    skip_reason: str | None | bool = False,
) -> dict[str, Any]:
    """All metrics for one level; keys are flat so a list of results makes a DataFrame.
    ``skip_reason``: why title identification cannot run (False: find out here)."""
    h = model.hierarchy_
    lvl = h.level(level)
    item_labels = h.item_labels(level)
    out: dict[str, Any] = {"level": level, "n_clusters": lvl.k, "n_items": h.n_items}
    reason = identification_unavailable(model) if skip_reason is False else skip_reason
    out.update(title_quality(model, level, lambda t: _embed_titles(model, t), reason))  # type: ignore[arg-type]

    if model.embeddings_ is not None:
        X = np.asarray(model.embeddings_, dtype=np.float32)
        for key, v in internal_metrics(X, item_labels, sample_size=sample_size, random_state=random_state).items():
            out[f"items_{key}"] = v
    if level >= 2:
        below = h.level(level - 1)
        nodes = below.description_embeddings if model.representation == "description" else below.centroids
        for key, v in internal_metrics(nodes, lvl.parent, sample_size=sample_size, random_state=random_state).items():
            out[f"prev_level_{key}"] = v
        # "LLM" metrics of the paper: the same metrics on the embedded descriptions of the level below.
        desc = below.description_embeddings
        if desc is None:
            desc = _embed_titles(model, [f"{lb.title}. {lb.description}" for lb in below.labels])
        for key, v in internal_metrics(desc, lvl.parent, sample_size=sample_size, random_state=random_state).items():
            out[f"description_{key}"] = v
    if model.topic_seed:
        seed_vec = _embed_titles(model, [model.topic_seed])
        desc = lvl.description_embeddings
        if desc is None:
            desc = _embed_titles(model, [f"{lb.title}. {lb.description}" for lb in lvl.labels])
        out["topic_alignment"] = float(cosine_matrix(desc, seed_vec).mean())

    if labels is not None:
        y = resolve_labels(model, labels)
        out.update(external_metrics(y, item_labels))
        if class_names is not None and class_names is not False:
            classes = sorted({str(c) for c in y})
            names = (
                {c: c.replace("_", " ") for c in classes} if class_names is True else {str(k): v for k, v in class_names.items()}
            )
            frame = pd.DataFrame({"y": np.asarray(y).astype(str), "c": item_labels})
            majority = frame.groupby("c")["y"].agg(lambda s: s.value_counts().index[0]).reindex(range(lvl.k))
            titles = [lb.title for lb in lvl.labels]
            tv = _embed_titles(model, titles)
            nv = _embed_titles(model, [names[c] for c in classes])
            out["title_alignment"] = title_alignment(tv, [names[m] for m in majority], [names[c] for c in classes], nv)
    if labels is not None or class_names is not None:
        titles = [lb.title for lb in lvl.labels]
        parents = h.level(level + 1).parent if level < h.depth else np.zeros(lvl.k, dtype=int)
        out.update(sibling_distinctness(_embed_titles(model, titles), parents, titles))

    for name, truth in (truth_levels or {}).items():
        t = resolve_labels(model, truth)
        ext = external_metrics(t, item_labels)
        out[f"{name}_ari"] = ext["ari"]
        out[f"{name}_nmi"] = ext["nmi"]
        for key, v in pair_agreement(t, item_labels).items():
            out[f"{name}_{key}"] = v
    return out


def evaluate(
    model: Any,
    level: int | None = None,
    labels: Any = None,
    *,
    truth_levels: Mapping[str, Any] | None = None,
    class_names: Mapping[Any, str] | bool | None = None,
    sample_size: int = 5000,
    random_state: int | None = 0,
) -> dict[str, Any] | pd.DataFrame:
    """Metrics for ``level`` (a dict), or for every level (a DataFrame, one row per level)."""
    model._check_fitted()
    reason = identification_unavailable(model)
    if reason is not None:
        log.info("title identification skipped: %s", reason)
    kw = dict(
        truth_levels=truth_levels, class_names=class_names, sample_size=sample_size, random_state=random_state, skip_reason=reason
    )
    if level is not None:
        return evaluate_level(model, level, labels, **kw)
    rows = [evaluate_level(model, t, labels, **kw) for t in range(1, model.hierarchy_.depth + 1)]
    return pd.DataFrame(rows).set_index("level")


__all__: Sequence[str] = ["evaluate", "evaluate_level", "resolve_labels"]
