"""Living hierarchies: add new items to a fitted hierarchy without starting over.

``model.update(new_items)`` (and ``hercules update RESULT NEW_DATA``) embeds only the new items,
routes them down every level, gathers the items that fit no existing cluster into new level-1
clusters, attaches those upward (new parents only where no existing one is near enough), and
names only what changed. The model is updated **in place** and returned, like ``partial_fit``.

What stays stable, so reports, dashboards and links keep working:

* every existing cluster keeps its index, hence its id ``L{t}-{j}``; new clusters are appended
  at the end of each level (so "largest first" holds only for the clusters of the original fit);
* old items keep their ids, metadata and cluster at every level (``split=True`` is the one
  exception: the smaller half of a split cluster moves to a new id);
* titles change only for new clusters and clusters whose size changed by more than
  ``relabel_threshold`` (an LLM is asked about those alone).

The change report is ``model.changes_`` (saved in ``hercules.json``; ``hercules show --changes``).
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hercules.clustering.kmeans import assign
from hercules.common.groups import group_sums
from hercules.common.progress import ProgressCallback, ProgressEvent, emit
from hercules.data.dataset import Dataset, InputError
from hercules.hierarchy.tree import Hierarchy
from hercules.labeling.base import Labeler
from hercules.pipeline.encoder import vectors_dataset
from hercules.pipeline.state import FittedState
from hercules.pipeline.update_data import concat_datasets, merge_ids
from hercules.pipeline.update_grow import GroupRule, Thresholds, outlier_groups, split_grown, thresholds
from hercules.pipeline.update_levels import Growth, grow_levels, grow_space_centroids
from hercules.pipeline.update_report import build_report

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpdateOptions:
    """How an update decides (``model.update(X, **options)``; ``hercules update --help``)."""

    outlier_quantile: float = 0.9  # an item is an outlier beyond this quantile of its cluster's member distances
    outlier_scale: float = 1.0  # x the squared-distance threshold (> 1: fewer outliers)
    min_cluster_size: int = 10  # the fewest outliers that make a new cluster
    new_clusters: int | None = None  # k for the outliers (None: bisect until groups look like clusters)
    tightness: float = 1.25  # a new cluster's median spread may be this x the existing clusters'
    separation: float = 0.75  # a new centre is at least this x the median centroid spacing from every old one
    relabel_threshold: float = 0.2  # re-title clusters whose size changed by more than this fraction
    split: bool = False  # split clusters that grew past split_growth x their size
    split_growth: float = 2.0
    max_splits: int = 5
    report_size: int = 10  # rows per list in the change report

    def __post_init__(self) -> None:
        checks = {
            "outlier_quantile": 0 < self.outlier_quantile <= 1,
            "outlier_scale": self.outlier_scale > 0,
            "min_cluster_size": self.min_cluster_size >= 2,
            "new_clusters": self.new_clusters is None or self.new_clusters >= 1,
            "tightness": self.tightness > 0,
            "separation": self.separation >= 0,
            "relabel_threshold": self.relabel_threshold >= 0,
            "split_growth": self.split_growth > 1,
            "max_splits": self.max_splits >= 0,
            "report_size": self.report_size >= 1,
        }
        bad = [f"{k}={getattr(self, k)!r}" for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid update option(s): {', '.join(bad)} (see hercules.pipeline.update.UpdateOptions)")

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> UpdateOptions:
        """Options from keyword arguments; an unknown name is one clear error with the valid ones."""
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = [k for k in options if k not in names]
        if unknown:
            hints = [
                f"{k!r}" + "".join(f" (did you mean {c!r}?)" for c in difflib.get_close_matches(k, names, 1)) for k in unknown
            ]
            raise ValueError(f"unknown update option {', '.join(hints)}; valid options: {', '.join(names)}")
        return cls(**options)


@dataclass
class UpdateConfig:
    """What an update takes from the fitted model's parameters."""

    representation: str = "direct"
    weighted: bool = True
    topic_seed: str | None = None
    random_state: int | None = 0
    embed_texts: Callable[[list[str], str], np.ndarray] | None = None
    on_progress: ProgressCallback | None = None


@dataclass
class LevelOne:
    """Level 1 after the new items are placed: every item's cluster, the clusters' new centroids."""

    labels: np.ndarray  # (n_old + n_new,) level-1 cluster of every item
    centroids: np.ndarray  # (k, d) item means in the L0 space
    outliers: np.ndarray  # (n_new,) bool: beyond the threshold of their nearest original cluster
    limit: Thresholds
    splits: list[tuple[int, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    space_centroids: np.ndarray | None = None  # (k, d'') in the clustering space (None: identity space)

    @property
    def k(self) -> int:
        return len(self.centroids)


def update_model(model: Any, X: Any, embeddings: Any, on_progress: ProgressCallback | None = None, **options: Any) -> Any:
    """Add the items ``X`` (and/or their ``embeddings``) to the fitted ``model`` in place; returns it.

    The model is changed only once everything has succeeded: an error leaves it as it was.
    """
    opts = UpdateOptions.parse(options)
    state = model._state()
    t0 = time.perf_counter()
    new = _new_dataset(model, state, X, embeddings)
    labeler = model._labeler()
    emit(on_progress, ProgressEvent("embed", message=f"encoding {len(new):,} new items"))
    vectors = state.encoder.transform(new, embeddings, n_features=state.n_features)
    if state.dataset.descriptions is not None and new.descriptions is None and new.modality == "image":
        state.encoder._describe_images(new)  # what fit gives every image: tags or captions, for the labels
    t_embed = time.perf_counter() - t0
    cfg = UpdateConfig(
        model.representation, model.weighted, model.topic_seed, model.random_state, state.encoder.embed_texts, on_progress
    )
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=model.n_threads, user_api="blas") if model.n_threads else nullcontext():
        updated = update_state(state, new, vectors, labeler, opts, cfg)
    updated.timings.update(update_embed=t_embed, update_total=time.perf_counter() - t0)
    updated.changes["seconds"] = round(updated.timings["update_total"], 3)  # type: ignore[index]
    model._set_fitted(updated)
    emit(on_progress, ProgressEvent("done", message="update done"))
    return model


def _new_dataset(model: Any, state: FittedState, X: Any, embeddings: Any) -> Dataset:
    """The new items as a dataset of the result's modality, checked like ``predict`` checks them."""
    old = state.dataset
    if old.modality == "vectors":
        if X is not None:
            raise InputError("this result was fitted on bare vectors: pass the new ones as embeddings= (no items)")
        return vectors_dataset(embeddings)
    if X is None:
        raise InputError(f"pass the new {old.modality} items to add (with embeddings= if the result was fitted on them)")
    ds = model._prepare(X, old.modality)
    scaler = state.encoder.scaler_
    if ds.numeric is not None and scaler is not None and ds.numeric.shape[1] != len(scaler["mean"]):
        raise InputError(f"the new items have {ds.numeric.shape[1]} numeric columns; the result has {len(scaler['mean'])}")
    for note in ds.notes:
        log.warning(note)
    return ds


def update_state(
    state: FittedState, new: Dataset, vectors: np.ndarray, labeler: Labeler, opts: UpdateOptions, cfg: UpdateConfig
) -> FittedState:
    """A new :class:`FittedState` holding ``state``'s items and clusters plus the ``new`` items
    (with L0 ``vectors``); ``state`` itself is not modified."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(cfg.random_state)
    number = int((state.changes or {}).get("update", 0)) + 1
    ids, given, id_note = merge_ids(state.dataset.ids, new.ids, f"u{number}-")
    if id_note:
        log.warning(id_note)
    dataset = concat_datasets(state.dataset, new, ids, given)
    E_all = (
        None
        if state.embeddings is None
        else np.concatenate([np.asarray(state.embeddings), vectors.astype(state.embeddings.dtype)])
    )
    t_layout = time.perf_counter()
    coords = np.concatenate([state.coords, state.projection.transform(vectors)]).astype(np.float32)
    t_layout = time.perf_counter() - t_layout
    emit(cfg.on_progress, ProgressEvent("cluster", 1, message=f"placing {len(new):,} new items"))
    first = place_in_space(state, vectors, E_all, opts, rng)
    for note in first.notes:
        log.warning(note)
    t_assign = time.perf_counter() - t0 - t_layout
    growth = Growth(dataset=dataset, vectors=E_all, coords=coords, labeler=labeler, opts=opts, cfg=cfg, rng=rng)
    levels = grow_levels(state.hierarchy, first, growth)
    grow_space_centroids(state.hierarchy, levels, first)
    t_label = time.perf_counter() - t0 - t_assign - t_layout
    hierarchy = Hierarchy(n_items=len(dataset), levels=levels)
    notes = ([id_note] if id_note else []) + first.notes
    changes = build_report(state.hierarchy, hierarchy, dataset, first, growth, notes, number)
    stats = [{**s, "stage": "update", "update": number} for s in growth.stats]
    timings = {**state.timings, "update_layout": t_layout, "update_assign": t_assign, "update_levels": t_label}
    return FittedState(
        hierarchy,
        dataset,
        state.encoder,
        state.projection,
        coords,
        E_all,
        state.n_features,
        timings,
        list(state.llm_stats) + stats,
        changes,
        state.space,
    )


def place_in_space(
    state: FittedState, V: np.ndarray, E_all: np.ndarray | None, opts: UpdateOptions, rng: np.random.Generator
) -> LevelOne:
    """:func:`place_level_one` in the clustering space the levels were fitted in: outliers, new clusters and
    splits are judged there (new items placed through the space's transform); level-1 centroids stay level-0
    item means (old ones move only by their new members, as in the identity space)."""
    L1 = state.hierarchy.level(1)
    if state.space.is_identity or L1.space_centroids is None:
        return place_level_one(state, V, E_all, opts, rng)
    S_old = None if state.embeddings is None else state.space.transform(np.asarray(state.embeddings, dtype=np.float32))
    S_new = state.space.transform(V)
    S_all = None if S_old is None else np.concatenate([S_old, S_new])
    levels = [dataclasses.replace(L1, centroids=L1.space_centroids), *state.hierarchy.levels[1:]]
    view = dataclasses.replace(state, embeddings=S_old, hierarchy=Hierarchy(state.hierarchy.n_items, levels))
    first = place_level_one(view, S_new, S_all, opts, rng)
    n_old = state.hierarchy.n_items
    centroids = _grown_centroids(L1.centroids, L1.sizes, V, first.labels[n_old:], first.k)
    for pair in first.splits:  # split halves (E_all is there when splits are): means of their members
        for j in pair:
            centroids[j] = np.asarray(E_all[first.labels == j], dtype=np.float32).mean(axis=0)  # type: ignore[index]
    return dataclasses.replace(first, centroids=centroids, space_centroids=first.centroids)


def place_level_one(
    state: FittedState, V: np.ndarray, E_all: np.ndarray | None, opts: UpdateOptions, rng: np.random.Generator
) -> LevelOne:
    """Outliers of the original level-1 clusters, new clusters from them, every new item's cluster
    (the nearest centroid, new ones included), centroids as size-weighted means, optional splits."""
    L1 = state.hierarchy.level(1)
    notes: list[str] = []
    limit = thresholds(state.embeddings, L1.parent, L1.centroids, opts.outlier_quantile, opts.outlier_scale)
    if limit.kind == "global":
        notes.append(
            "the result has no saved item vectors: outliers judged by one global threshold from the centroid spacing, "
            "not per cluster (save with embeddings to get per-cluster thresholds)"
        )
    lab, d2 = assign(V, L1.centroids)
    outliers = d2 > limit.sq[lab]
    rows = np.flatnonzero(outliers)
    rule = GroupRule(opts.min_cluster_size, opts.tightness, opts.separation, opts.new_clusters)
    spread = limit.spread if limit.kind == "per-cluster" else float(np.median(d2))  # no member distances: the new items'
    groups = outlier_groups(V[rows], L1.centroids, spread, rule, rng)
    centres = np.stack([V[rows[g]].mean(axis=0) for g in groups]) if groups else np.zeros((0, V.shape[1]), np.float32)
    lab, k = _place(V, L1.centroids, centres, opts.min_cluster_size)
    labels = np.concatenate([L1.parent, lab]).astype(np.int32)
    centroids = _grown_centroids(L1.centroids, L1.sizes, V, lab, k)
    splits: list[tuple[int, int]] = []
    if opts.split and E_all is None:
        notes.append("split=True needs the saved item vectors; no cluster was split")
    elif opts.split and opts.max_splits:
        labels, splits = split_grown(
            E_all,
            labels,
            L1.sizes,
            opts.split_growth,
            opts.max_splits,
            opts.min_cluster_size,
            k,
            rng,  # type: ignore[arg-type]
        )
        centroids = np.vstack([centroids, np.zeros((len(splits), centroids.shape[1]), np.float32)])
        for pair in splits:  # at most max_splits clusters: both halves are means of their members
            for j in pair:
                centroids[j] = np.asarray(E_all[labels == j], dtype=np.float32).mean(axis=0)  # type: ignore[index]
    return LevelOne(labels, centroids, outliers, limit, splits, notes)


def _place(V: np.ndarray, C_old: np.ndarray, centres: np.ndarray, min_size: int) -> tuple[np.ndarray, int]:
    """Nearest centroid of every new item among the old and the new ones; new clusters left with
    fewer than ``min_size`` items are dropped (their items go to the next nearest) until all hold.
    New clusters are numbered after the old ones, largest first. Returns (labels, k)."""
    k_old = len(C_old)
    while True:
        lab = assign(V, np.vstack([C_old, centres]).astype(np.float32))[0]
        sizes = np.bincount(lab, minlength=k_old + len(centres))[k_old:]
        keep = sizes >= min_size
        if keep.all():
            break
        centres = centres[keep]
    rank = np.empty(len(centres), dtype=np.int32)
    rank[np.argsort(-sizes, kind="stable")] = np.arange(len(centres), dtype=np.int32)
    new = lab >= k_old
    lab[new] = k_old + rank[lab[new] - k_old]
    return lab, k_old + len(centres)


def _grown_centroids(C: np.ndarray, sizes: np.ndarray, V: np.ndarray, lab: np.ndarray, k: int) -> np.ndarray:
    """Level-1 centroids with the new items in: size-weighted means of old centroid and new members."""
    counts = np.bincount(lab, minlength=k).astype(np.float64)
    sums = group_sums(V, lab, k).astype(np.float64)
    sums[: len(C)] += C.astype(np.float64) * sizes[:, None]
    counts[: len(C)] += sizes
    return (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)
