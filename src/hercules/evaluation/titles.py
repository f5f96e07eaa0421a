"""Title quality without ground truth, at every level (issue 11): does each title pick out its
own cluster (identification), and how many titles are duplicates or generic umbrella words.
The rules live in :mod:`hercules.labeling.llm.quality`, shared with the labeler's repair loop."""

from __future__ import annotations

from typing import Any

import numpy as np

from hercules.common.groups import group_means
from hercules.labeling.llm.quality import count_duplicates, generic_mask, identification_margins


def title_space_reason(dataset: Any, encoder: Any) -> str | None:
    """Why titles embedded by ``encoder``'s text embedder are not comparable with the level-0
    vectors it made (None when they are: text items, or description mode). The builder uses it
    to decide whether to give the labeler ``LevelContext.embed_texts``."""
    if dataset.modality in ("numeric", "vectors"):
        return f"{dataset.modality} items have no text embedding to compare titles with"
    if encoder.model_id_ == "precomputed":
        return "the item vectors were precomputed, not made by the text embedder"
    text_id = encoder.text_embedder().model_id
    if encoder.model_id_ != text_id:
        return f"the item vectors come from {encoder.model_id_!r}, not the text embedder {text_id!r}"
    return None


def identification_unavailable(model: Any) -> str | None:
    """Why titles cannot be placed among a fitted model's item vectors (None when they can)."""
    if getattr(model, "embeddings_", None) is None:
        return "the item vectors are not available"
    return title_space_reason(model.dataset_, model.encoder_)


def title_quality(model: Any, level: int, embed: Any, skip_reason: str | None) -> dict[str, Any]:
    """``title_identification`` (share of titles nearest their own centroid, NaN with
    ``title_identification_skipped`` saying why), ``duplicate_titles`` and ``generic_titles``."""
    h = model.hierarchy_
    lvl = h.level(level)
    titles = [lb.title for lb in lvl.labels]
    parents = h.level(level + 1).parent if level < h.depth else None
    out: dict[str, Any] = {
        "duplicate_titles": count_duplicates(titles),
        "generic_titles": int(generic_mask(titles, parents).sum()),
    }
    if skip_reason is not None:
        out["title_identification"] = float("nan")
        out["title_identification_skipped"] = skip_reason
        return out
    X = np.asarray(model.embeddings_, dtype=np.float32)
    centroids = group_means(X, h.item_labels(level), lvl.k)
    margins = identification_margins(embed(titles), centroids)
    out["title_identification"] = float(np.mean(margins > 0)) if len(margins) else float("nan")
    return out
