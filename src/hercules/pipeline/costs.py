"""What LLM labelling of a fitted hierarchy would cost (``--dry-run``): calls and tokens per level."""

from __future__ import annotations

from typing import Any

import numpy as np

from hercules.pipeline.builder import level_context
from hercules.pipeline.state import FittedState


def estimate_llm_cost(state: FittedState, labeler: Any, representation: str, topic_seed: str | None) -> list[dict[str, int]]:
    """One row per level from ``labeler.estimate``; no call is made."""
    if state.embeddings is None:
        raise RuntimeError("the cost estimate needs the item vectors: save results with embeddings")
    vectors = np.asarray(state.embeddings, dtype=np.float32)
    h, rows, below = state.hierarchy, [], None
    for lvl in h.levels:
        shown = lvl.centroids if representation == "direct" else None
        ctx = level_context(lvl.level, state.dataset, vectors, h.item_labels(lvl.level), shown, below, lvl.parent, topic_seed)
        rows.append(labeler.estimate(ctx))
        below = lvl
    return rows
