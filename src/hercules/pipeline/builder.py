"""The level builder: level-0 vectors -> a labelled :class:`Hierarchy`, bottom-up (Algorithm 1).

Per level: choose k (fixed or automatic, :mod:`hercules.pipeline.policy`), cluster the nodes of
the level below (size-weighted by default), order clusters by size, name them, and hand the
next level its nodes (centroids in direct mode, embedded descriptions in description mode).
Progress goes to a callback, so the CLI and the app need not parse logs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from hercules.clustering.auto_k import choose_k
from hercules.clustering.kmeans import KMeansResult, TooFewDistinctPointsError, kmeans, resample_refine
from hercules.common.groups import group_means
from hercules.common.progress import ProgressCallback, ProgressEvent, emit
from hercules.data.dataset import Dataset, InputError
from hercules.hierarchy.tree import ClusterLabel, Hierarchy, Level
from hercules.labeling.base import Labeler, LevelContext, LevelLabels
from hercules.pipeline.coarse import better_grouping, coarse_cluster, coarse_prior, item_level_grouping, judged_by_graph
from hercules.pipeline.policy import LevelPolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildConfig:
    """How each level is clustered (the estimator's parameters, copied)."""

    policy: LevelPolicy
    representation: str = "direct"
    weighted: bool = True
    max_iter: int = 25
    max_points_per_centroid: int | None = 256
    resampling: bool = False
    resampling_iterations: int = 10
    resampling_points_per_cluster: int | None = None
    topic_seed: str | None = None
    n_threads: int | None = None
    progress: bool = True
    coarse: str = "auto"  # how levels >= 2 ("auto"; others >= 3) are grouped in a clustering space (pipeline.coarse)

    @classmethod
    def from_params(cls, params: dict[str, Any], policy: LevelPolicy) -> BuildConfig:
        """The builder's share of an estimator's ``get_params()``."""
        names = set(cls.__dataclass_fields__) - {"policy"}
        return cls(policy=policy, **{k: v for k, v in params.items() if k in names})


@dataclass
class BuildResult:
    hierarchy: Hierarchy
    llm_stats: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class _Nodes:
    """What the next level clusters: node vectors, their item counts, each item's node."""

    vectors: np.ndarray
    sizes: np.ndarray
    item_labels: np.ndarray | None = None


def level_context(
    t: int,
    ds: Dataset,
    vectors: np.ndarray,
    item_labels: np.ndarray,
    centroids: np.ndarray | None,
    below: Level | None,
    parent: np.ndarray,
    topic_seed: str | None,
    embed_titles: Callable[[list[str], str], np.ndarray] | None = None,
) -> LevelContext:
    """What a labeler sees for level ``t``; centroids are in the item space (item means if not)."""
    k = int(item_labels.max()) + 1 if centroids is None else centroids.shape[0]
    if centroids is None or centroids.shape[1] != vectors.shape[1]:
        centroids = group_means(vectors, item_labels, k)
    return LevelContext(
        level=t,
        dataset=ds,
        item_labels=item_labels,
        n_clusters=k,
        item_vectors=vectors,
        centroids=centroids,
        child_labels=below.labels if below is not None else None,
        child_parent=parent if below is not None else None,
        topic_seed=topic_seed,
        embed_texts=embed_titles,
    )


#: Items closest to each centroid an engine computes over its blocks (labelers ask for 2-5, "diverse" for 20x that).
CLOSEST = 128


def _order_by_size(km: KMeansResult, node_sizes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Renumber clusters by item count (0 = largest; ties keep k-means order)."""
    sizes = np.bincount(km.labels, weights=node_sizes, minlength=k).astype(np.int64)
    order = np.argsort(-sizes, kind="stable")
    rank = np.empty(k, dtype=np.int32)
    rank[order] = np.arange(k, dtype=np.int32)
    return rank[km.labels], km.centroids[order], sizes[order]


class LevelBuilder:
    """Builds one hierarchy; ``build`` is the whole loop, the helpers are one step each."""

    def __init__(
        self,
        config: BuildConfig,
        labeler: Labeler,
        embed_texts: Callable[[list[str], str], np.ndarray] | None = None,
        on_progress: ProgressCallback | None = None,
        embed_titles: Callable[[list[str], str], np.ndarray] | None = None,
        guide_k: Callable[[int, np.ndarray, np.ndarray | None, np.ndarray | None], int | None] | None = None,
        level1_kmeans: Callable[..., KMeansResult] = kmeans,
        closest: Callable[[np.ndarray, list[np.ndarray], np.ndarray, int], list[np.ndarray] | None] | None = None,
        item_means: Callable[[np.ndarray, list[np.ndarray], int], np.ndarray | None] | None = None,
        term_counts: Callable[[Dataset, list[np.ndarray], int], tuple | None] | None = None,
    ) -> None:
        self.config = config
        self.guide_k = guide_k  # levels="guided": (t, node vectors, node sizes, item -> node) -> k or None
        self.level1_kmeans = level1_kmeans  # an engine's: level 1 clusters every item
        self.closest = closest  # an engine's: (vectors, parents of levels 1..t, centroids, m) -> closest items or None
        self.item_means = item_means  # an engine's: (vectors, parents of levels 1..t, k) -> (k, d) item means or None
        self.term_counts = term_counts  # an engine's: (dataset, parents of levels 1..t, k) -> keyword term counts or None
        self.labeler = labeler
        self.embed_texts = embed_texts  # description mode: embeds "title. description" of each cluster
        self.embed_titles = embed_titles  # into the item space, so a labeler can check its titles
        self.on_progress = on_progress
        self.timings = {"cluster": 0.0, "label": 0.0}
        self.in_space = False
        self.space_items: np.ndarray | None = None
        self.items0: np.ndarray | None = None  # level-0 vectors, for the coarse levels (pipeline.coarse)
        self.item_graph: tuple[np.ndarray, Any] | None = None  # (rows, graph): the space's neighbour graph, ditto
        self.prior_items: np.ndarray | None = None  # guided fits: level-0 vectors before guidance (levels >= 2 group by them)
        self.llm_stats: list[dict[str, Any]] = []

    def build(
        self, vectors: np.ndarray, ds: Dataset, random_state: int | None, space_vectors: np.ndarray | None = None
    ) -> BuildResult:
        """``space_vectors``: the items in the clustering space (:mod:`hercules.space`), where every level is
        clustered; ``vectors`` (level 0) stay what labels and shown centroids are made of. None: the same."""
        from threadpoolctl import threadpool_limits

        cfg = self.config
        rng = np.random.default_rng(random_state)
        hierarchy = Hierarchy(n_items=len(vectors))
        self.in_space = space_vectors is not None and space_vectors is not vectors
        self.space_items = space_vectors
        self.items0 = vectors
        nodes = _Nodes(vectors if space_vectors is None else space_vectors, np.ones(len(vectors), dtype=np.int64))
        bar = tqdm(total=cfg.policy.planned, desc="levels", unit="level", disable=not cfg.progress)
        limits = threadpool_limits(limits=cfg.n_threads, user_api="blas") if cfg.n_threads else nullcontext()
        with limits, bar:
            t = 1
            while (choice := self._choose_k(t, nodes, rng)) is not None:
                k, auto_info = choice
                level, nodes = self._build_level(t, k, auto_info, nodes, vectors, ds, hierarchy, rng)
                hierarchy.levels.append(level)
                bar.update(1)
                emit(self.on_progress, ProgressEvent("level", t, t, cfg.policy.planned, f"level {t}: {k} clusters"))
                t += 1
        return BuildResult(hierarchy, self.llm_stats, dict(self.timings))

    def _choose_k(self, t: int, nodes: _Nodes, rng: np.random.Generator) -> tuple[int, dict | None] | None:
        """(k, auto-k record) for level ``t``, or None when the hierarchy is complete."""
        policy, n_nodes = self.config.policy, nodes.vectors.shape[0]
        if policy.fixed is not None:
            k = policy.fixed_k(t, n_nodes)
            return None if k is None else (k, None)
        if policy.should_stop(t, n_nodes):
            return None
        t0 = time.perf_counter()
        weights = nodes.sizes.astype(np.float64) if self.config.weighted else None
        try:
            choice = choose_k(nodes.vectors, policy.auto, sample_weight=weights, random_state=rng)
        except TooFewDistinctPointsError as e:
            if t == 1:
                raise InputError(f"level 1: {e}") from None
            return None
        info = {"candidates": choice.candidates, "scores": [round(s, 5) for s in choice.scores]}
        if self.guide_k is not None and (k := self.guide_k(t, nodes.vectors, weights, nodes.item_labels)) is not None:
            info = {**info, "auto": choice.k, "guided": k}
            choice.k = k
        self.timings["cluster"] += time.perf_counter() - t0
        return (choice.k, info) if choice.k >= 2 else None

    def _cluster(self, t: int, k: int, nodes: _Nodes, rng: np.random.Generator) -> KMeansResult:
        cfg = self.config
        weights = nodes.sizes.astype(np.float64) if (cfg.weighted and t > 1) else None
        if self.prior_items is not None and cfg.representation == "direct" and t > 1:
            assert nodes.item_labels is not None
            return coarse_prior(self.prior_items, nodes.item_labels, nodes.vectors, nodes.sizes, k, rng)
        if self.in_space and cfg.representation == "direct" and t > 1:
            assert self.items0 is not None and nodes.item_labels is not None
            coarse = coarse_cluster(
                cfg.coarse, t, k, self.items0, nodes.item_labels, nodes.vectors, nodes.sizes, self.item_graph, rng
            )
            if coarse is not None:
                return coarse
        try:
            km = (self.level1_kmeans if t == 1 else kmeans)(
                nodes.vectors,
                k,
                sample_weight=weights,
                random_state=rng,
                max_iter=cfg.max_iter,
                max_points_per_centroid=cfg.max_points_per_centroid,
            )
            if self.in_space and t > 1 and cfg.representation == "direct":
                km = self._item_start(t, k, nodes, weights, km, rng)
                km = better_grouping(cfg.coarse, t, km, nodes.item_labels, nodes.vectors, nodes.sizes, self.item_graph, rng)
            if cfg.resampling:
                km = resample_refine(
                    nodes.vectors,
                    km,
                    iterations=cfg.resampling_iterations,
                    points_per_cluster=cfg.resampling_points_per_cluster,
                    sample_weight=weights,
                    random_state=rng,
                )
        except TooFewDistinctPointsError as e:
            raise InputError(f"level {t}: {e}") from None
        return km

    def _item_start(
        self, t: int, k: int, nodes: _Nodes, weights: np.ndarray | None, km: KMeansResult, rng: np.random.Generator
    ) -> KMeansResult:
        """The nodes' k-means against a start from the items' k-means (coarse="graph": more, judged by UMAP's graph)."""
        cfg = self.config
        assert self.space_items is not None and nodes.item_labels is not None
        graph = self.item_graph if judged_by_graph(cfg.coarse, t) else None
        nodes_at = (nodes.item_labels, nodes.vectors, weights)
        return item_level_grouping(km, self.space_items, *nodes_at, rng, graph, cfg.max_iter, cfg.max_points_per_centroid)

    def _build_level(
        self,
        t: int,
        k: int,
        auto_info: dict | None,
        nodes: _Nodes,
        vectors: np.ndarray,
        ds: Dataset,
        hierarchy: Hierarchy,
        rng: np.random.Generator,
    ) -> tuple[Level, _Nodes]:
        cfg = self.config
        t0 = time.perf_counter()
        emit(self.on_progress, ProgressEvent("cluster", t, message=f"level {t}: clustering into {k}"))
        parent, centroids, sizes = _order_by_size(self._cluster(t, k, nodes, rng), nodes.sizes, k)
        item_labels = parent if nodes.item_labels is None else parent[nodes.item_labels]
        parents = [lvl.parent for lvl in hierarchy.levels] + [parent]
        space_centroids = None
        if self.in_space and (t == 1 or cfg.representation == "direct"):  # k-means ran in the clustering space:
            # people see level-0 item means
            space_centroids, centroids = centroids, self._means(vectors, parents, item_labels, k)
        elif cfg.representation == "direct" and not cfg.weighted:
            centroids = self._means(vectors, parents, item_labels, k)  # unweighted: show item means, not means of means
        level = Level(t, parent, centroids, sizes, [], requested_k=None if auto_info else k, auto_k=auto_info)
        level.space_centroids = space_centroids
        self.timings["cluster"] += time.perf_counter() - t0

        t0 = time.perf_counter()
        emit(self.on_progress, ProgressEvent("label", t, message=f"level {t}: naming {k} clusters"))
        below = hierarchy.levels[-1] if hierarchy.levels else None
        # description mode: people see item means
        shown = centroids if cfg.representation == "direct" else self._means(vectors, parents, item_labels, k)
        ctx = level_context(t, ds, vectors, item_labels, shown, below, parent, cfg.topic_seed, self.embed_titles)
        if self.closest is not None and ctx.centroids is not None:  # labelling evidence where the vectors are
            found = self.closest(vectors, parents, ctx.centroids, CLOSEST)
            ctx.closest = None if found is None else (CLOSEST, found)
        if self.term_counts is not None:  # keyword counts where the texts are, computed if a labeler asks
            ctx.term_counts = partial(self.term_counts, ds, parents, k)
        level.labels = self._label(ctx, k)
        self.timings["label"] += time.perf_counter() - t0
        log.info("level %d: %d clusters%s", t, k, " (auto)" if auto_info else "")

        if cfg.representation == "description":
            assert self.embed_texts is not None
            texts = [f"{lab.title}. {lab.description}" for lab in level.labels]
            level.description_embeddings = self.embed_texts(texts, f"embedding L{t} descriptions")
            return level, _Nodes(level.description_embeddings, level.sizes, item_labels)
        return level, _Nodes(centroids if space_centroids is None else space_centroids, level.sizes, item_labels)

    def _means(self, vectors: np.ndarray, parents: list[np.ndarray], item_labels: np.ndarray, k: int) -> np.ndarray:
        """(k, d) level-0 item mean per cluster: the engine's (over its blocks) if it has them, else from ``vectors``."""
        got = None if self.item_means is None else self.item_means(vectors, parents, k)
        return group_means(vectors, item_labels, k) if got is None else got

    def _label(self, ctx: LevelContext, k: int) -> list[ClusterLabel]:
        out = self.labeler.label_level(ctx)
        labels = out.labels if isinstance(out, LevelLabels) else list(out)
        if isinstance(out, LevelLabels) and out.stats is not None:
            self.llm_stats.append(dict(out.stats))
        if len(labels) != k:
            raise RuntimeError(f"{type(self.labeler).__name__} returned {len(labels)} labels for {k} clusters")
        return labels
