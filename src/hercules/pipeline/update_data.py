"""Item bookkeeping for :mod:`hercules.pipeline.update`: ids that never collide, datasets joined
(old rows first, untouched) or cut down to the items of a few clusters, and the labeler's view of
only the clusters that need new titles."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from hercules.data.dataset import Dataset, InputError
from hercules.data.lazy import LazyTexts, frame_of
from hercules.hierarchy.tree import ClusterLabel
from hercules.labeling.base import Labeler, LevelContext, LevelLabels
from hercules.labeling.keywords import KeywordLabeler

#: Metadata column that keeps the ids new items were given when they had to be renumbered.
GIVEN_ID = "given_id"


def _is_int(ids: np.ndarray) -> bool:
    return pd.api.types.infer_dtype(ids, skipna=False) == "integer"


def merge_ids(old: np.ndarray, new: np.ndarray, tag: str) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    """(new items' ids, the ids they were given if those had to go, a note saying what was done).

    Integer ids stay integers (an id column of one type survives a save): colliding or non-integer
    new ids are renumbered after the largest old id, and the given ids are kept. String ids that
    collide get the prefix ``tag`` (e.g. ``"u1-"``), repeated until none collides.
    """
    if _is_int(old):
        start = int(np.max(old.astype(np.int64))) + 1 if len(old) else 0
        if _is_int(new) and not np.isin(new.astype(np.int64), old.astype(np.int64)).any():
            return new, None, None
        why = "collide with existing ids" if _is_int(new) else "are not integers like the existing ids"
        renumbered = np.arange(start, start + len(new), dtype=np.int64).astype(object)
        note = f"new item ids {why}: renumbered {len(new):,} new items {start}..{start + len(new) - 1} (given ids kept in '{GIVEN_ID}')"
        return renumbered, new, note
    out = pd.Index(new.astype(str))
    taken = pd.Index(old.astype(str))
    clash = out.isin(taken)
    n_clash, prefix = int(clash.sum()), tag
    while clash.any():
        out = out.where(~clash, prefix + out)
        clash = out.isin(taken)
        prefix = tag + prefix
    note = f"{n_clash:,} new item id(s) collided with existing ids and were prefixed with '{tag}'" if n_clash else None
    return out.to_numpy(dtype=object), None, note


def _frame(meta: pd.DataFrame | None, n: int) -> pd.DataFrame:
    return frame_of(meta).reset_index(drop=True) if meta is not None else pd.DataFrame(index=pd.RangeIndex(n))


def concat_datasets(old: Dataset, new: Dataset, ids: np.ndarray, given: np.ndarray | None) -> Dataset:
    """Old items then new items, one dataset; metadata columns are the union (missing values empty)."""
    if new.modality != old.modality:
        raise InputError(f"the result holds {old.modality} items; the new items are {new.modality}")
    if old.modality == "numeric":
        assert old.variables is not None and new.variables is not None
        if [v.name for v in new.variables] != [v.name for v in old.variables]:
            raise InputError(
                f"the new items have variables {[v.name for v in new.variables]}; the result has {[v.name for v in old.variables]}"
            )
    meta_new = _frame(new.metadata, len(new))
    if given is not None:
        meta_new[GIVEN_ID] = given
    metadata = None
    if old.metadata is not None or meta_new.shape[1]:
        metadata = pd.concat([_frame(old.metadata, len(old)), meta_new], ignore_index=True)
    descriptions = None
    if old.descriptions is not None or new.descriptions is not None:
        descriptions = (old.descriptions or [""] * len(old)) + (new.descriptions or [""] * len(new))
    return Dataset(
        modality=old.modality,
        ids=np.concatenate([old.ids, ids]),
        texts=None if old.texts is None else [*old.texts, *(new.texts or [])],
        numeric=None if old.numeric is None else np.vstack([old.numeric, new.numeric]),
        variables=old.variables,
        image_paths=None if old.image_paths is None else old.image_paths + (new.image_paths or []),
        metadata=metadata,
        descriptions=descriptions,
        notes=list(old.notes) + [n for n in new.notes if n not in old.notes],
    )


def take_dataset(ds: Dataset, rows: np.ndarray) -> Dataset:
    """The items at ``rows`` as a dataset of their own (for a labeler that sees only some clusters)."""

    def pick(values: list[str] | None) -> list[str] | None:
        if isinstance(values, LazyTexts):  # texts held elsewhere (Ray): fetched by row
            return values.take(rows)
        return None if values is None else np.asarray(values, dtype=object)[rows].tolist()

    return Dataset(
        modality=ds.modality,
        ids=ds.ids[rows],
        texts=pick(ds.texts),
        numeric=None if ds.numeric is None else ds.numeric[rows],
        variables=ds.variables,
        image_paths=pick(ds.image_paths),
        metadata=None if ds.metadata is None else ds.metadata.iloc[rows].reset_index(drop=True),
        descriptions=pick(ds.descriptions),
        notes=ds.notes,
    )


def sub_context(ctx: LevelContext, which: np.ndarray) -> LevelContext:
    """The level as a labeler would see it if only the clusters ``which`` existed (renumbered 0..m-1)."""
    local = np.full(ctx.n_clusters, -1, dtype=np.int64)
    local[which] = np.arange(len(which))
    rows = np.flatnonzero(local[ctx.item_labels] >= 0)
    return LevelContext(
        level=ctx.level,
        dataset=take_dataset(ctx.dataset, rows),
        item_labels=local[ctx.item_labels[rows]].astype(np.int32),
        n_clusters=len(which),
        item_vectors=None if ctx.item_vectors is None else np.asarray(ctx.item_vectors[rows], dtype=np.float32),
        centroids=None if ctx.centroids is None else ctx.centroids[which],
        child_labels=ctx.child_labels,
        child_parent=None if ctx.child_parent is None else local[ctx.child_parent],
        topic_seed=ctx.topic_seed,
    )


def relabel(labeler: Labeler, ctx: LevelContext, which: np.ndarray, labels: list[ClusterLabel]) -> tuple[list[ClusterLabel], Any]:
    """``labels`` with new ones for the clusters ``which`` only, and the labeler's stats.

    Keyword labels are cheap and contrastive (c-TF-IDF against every other cluster), so they are
    computed for the whole level and only ``which`` are taken. Any other labeler (an LLM) sees a
    level holding only ``which``: nothing is asked about the clusters that keep their titles.
    """
    if not len(which):
        return list(labels), None
    full = isinstance(labeler, KeywordLabeler)
    out = labeler.label_level(ctx if full else sub_context(ctx, which))
    got = out.labels if isinstance(out, LevelLabels) else list(out)
    stats = out.stats if isinstance(out, LevelLabels) else None
    expected = ctx.n_clusters if full else len(which)
    if len(got) != expected:
        raise RuntimeError(f"{type(labeler).__name__} returned {len(got)} labels for {expected} clusters")
    merged = list(labels)
    for pos, j in enumerate(which.tolist()):
        merged[j] = got[j] if full else got[pos]
    return merged, stats
