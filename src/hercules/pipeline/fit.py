"""One fit, start to finish: dataset -> level-0 vectors -> labelled hierarchy -> map, as a :class:`FittedState`.

The estimator only checks parameters and picks the labeler and encoder; the order of the stages,
their timings and progress events live here, so new stages (a clustering space, guidance by a
judge, another execution engine) are wired in one place.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hercules.common.groups import group_means
from hercules.common.progress import ProgressCallback, ProgressEvent, emit
from hercules.data.dataset import Dataset
from hercules.engines import Engine, LocalEngine, get_engine
from hercules.hierarchy.tree import Hierarchy
from hercules.labeling.base import Labeler
from hercules.layout import Layout, Place, fit_layout
from hercules.pipeline.builder import BuildConfig, LevelBuilder
from hercules.pipeline.coarse import reads_graph
from hercules.pipeline.encoder import L0Encoder
from hercules.pipeline.guided import apply_guidance, guided_k, make_guide
from hercules.pipeline.policy import LevelPolicy
from hercules.pipeline.state import FittedState
from hercules.space import ClusteringSpace, make_space


@dataclass(frozen=True)
class MapConfig:
    """How the 2-D/3-D map is drawn (the estimator's ``layout`` and ``n_components``)."""

    layout: str = "auto"
    n_components: int = 2

    @property
    def method(self) -> str:
        """``"auto"`` defers to ``$HERCULES_LAYOUT``, then to UMAP when installed."""
        return os.environ.get("HERCULES_LAYOUT", "auto") if self.layout == "auto" else self.layout


def fit_projection(
    vectors: np.ndarray, hierarchy: Hierarchy, config: MapConfig, random_state: int | None, placer: Place | None = None
) -> tuple[Layout, np.ndarray]:
    """The map of the items; each cluster sits at the mean of its members' coordinates. ``placer``: an engine's
    placement of every item (:meth:`hercules.engines.Engine.placer`)."""
    layout = fit_layout(vectors, method=config.method, n_components=config.n_components, random_state=random_state, placer=placer)
    coords = layout.coords_
    for level in hierarchy.levels:
        level.coords = group_means(coords, hierarchy.item_labels(level.level), level.k)
    return layout, coords


def fit_space(
    vectors: np.ndarray,
    method: str,
    random_state: int | None,
    on_progress: ProgressCallback | None = None,
    engine: Engine | None = None,
    links: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[ClusteringSpace, np.ndarray | None, float]:
    """(fitted clustering space, the items in it or None for the identity, seconds); ``engine``: where the items
    are placed in the space (:meth:`hercules.engines.Engine.fit_space`); ``links``: item pairs (join, cut) for a
    space built on a neighbour graph (:meth:`hercules.guidance.Guide.links`)."""
    t0 = time.perf_counter()
    space = make_space(method, len(vectors))
    if links is not None:
        space.set_links(*links)
    if space.is_identity:
        return space, None, 0.0
    emit(on_progress, ProgressEvent("space", message=f"clustering space ({space.method}) of {len(vectors):,} items"))
    space_vectors = (engine or LocalEngine()).fit_space(space, vectors, random_state)
    return space, space_vectors, time.perf_counter() - t0


def fit_state(
    params: dict[str, Any],
    policy: LevelPolicy,
    ds: Dataset | Callable[[Callable[..., pd.DataFrame]], Dataset],
    embeddings: Any,
    labeler: Labeler,
    encoder: L0Encoder,
    on_progress: ProgressCallback | None = None,
) -> FittedState:
    """Everything ``Hercules.fit`` learns; ``params`` is the estimator's ``get_params()``. ``ds``: the dataset,
    or a function that builds it given the engine's reader of paths (a Ray Data pipeline with the Ray engine)."""
    t_start = time.perf_counter()
    random_state = params.get("random_state")
    engine = get_engine(params.get("engine", "local"), params.get("ray_address"), progress=params.get("progress", True))
    try:
        ds = ds(engine.read) if callable(ds) else ds  # reading and validating: before the first stage
        t_read = time.perf_counter() - t_start
        policy.check_items(len(ds))
        emit(on_progress, ProgressEvent("embed", message=f"encoding {len(ds):,} items"))
        t0 = time.perf_counter()
        encoder.wrap_text = engine.wrap_embedder
        vectors = encoder.fit_transform(ds, embeddings)
        t_embed = time.perf_counter() - t0
        guide, unguided = make_guide(params, ds, labeler), vectors
        if guide is not None:
            emit(on_progress, ProgressEvent("guide", message=f"asking the judge {guide.judge.name}"))
            t0 = time.perf_counter()
            vectors = apply_guidance(guide, encoder, vectors, policy, ds, embeddings)
            t_guide = time.perf_counter() - t0
        links = None if guide is None else guide.links()
        space, space_vectors, t_space = fit_space(vectors, params.get("space", "none"), random_state, on_progress, engine, links)
        if links is not None:
            guide.report["triplets"]["links"] = 0 if space.links_ is None else len(space.links_[0])
        builder = LevelBuilder(
            BuildConfig.from_params(params, policy),
            labeler,
            encoder.embed_texts,
            on_progress,
            encoder.title_embedder(),
            guide_k=None if guide is None else guided_k(guide, policy, vectors),
            level1_kmeans=engine.kmeans,
            closest=engine.representatives,
            item_means=engine.item_means,
            term_counts=engine.term_counts,
        )
        if getattr(space, "graph_", None) is not None:  # UMAP's neighbour graph: only coarse="connectivity"/"auto" read it
            if reads_graph(params.get("coarse", "auto")):
                builder.item_graph = (space.fit_idx_, space.graph_)
            else:
                space.graph_ = None  # free it now (~6 MB at the 20,000-item fit sample)
        if links is not None or vectors is not unguided:  # the judge shaped level 1; levels >= 2 group as before it
            builder.prior_items = unguided
        built = builder.build(vectors, ds, random_state, space_vectors)
        membership = engine.membership(built.hierarchy, ds)  # Ray: Parquet parts from the label blocks
        engine.release(ds)  # Ray: texts kept on the cluster -> Parquet parts on the driver's disk
        emit(on_progress, ProgressEvent("layout", message="2-D layout"))
        t0 = time.perf_counter()
        map_config = MapConfig(params.get("layout", "auto"), params.get("n_components", 2))
        projection, coords = fit_projection(vectors, built.hierarchy, map_config, random_state, engine.placer(vectors))
    finally:
        engine.close()
    timings = {"read": t_read, "embed": t_embed, "space": t_space, **built.timings, "project": time.perf_counter() - t0}
    if guide is not None:
        timings["guide"] = t_guide
        encoder.guidance_ = guide.finish()
    timings["total"] = time.perf_counter() - t_start
    llm_stats = encoder.llm_stats_ + built.llm_stats
    state = FittedState(built.hierarchy, ds, encoder, projection, coords, vectors, vectors.shape[1], timings, llm_stats)
    state.space, state.membership = space, membership
    emit(on_progress, ProgressEvent("done", done=built.hierarchy.depth, total=built.hierarchy.depth))
    return state
