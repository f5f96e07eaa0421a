"""The :class:`Hercules` estimator: data -> L0 vectors -> recursive k-means -> labels.

It only orchestrates the stages (``data``, ``embeddings``, ``clustering``,
``labeling``, ``hierarchy``); each stage lives in its own package.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from hercules.clustering.auto_k import AutoKConfig, choose_k, should_stop
from hercules.clustering.kmeans import TooFewDistinctPointsError, all_finite, assign, kmeans, resample_refine
from hercules.data.dataset import Dataset, InputError, prepare
from hercules.embeddings import Embedder, EmbeddingCache, get_embedder
from hercules.hierarchy.tree import Cluster, Hierarchy, Level, cluster_id, parse_cluster_id
from hercules.labeling import KeywordLabeler, Labeler, LevelContext, level0_labels
from hercules.reduction import PCAProjection

log = logging.getLogger(__name__)


def _item_means(vectors: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    import scipy.sparse as sp

    onehot = sp.csr_matrix((np.ones(len(labels), dtype=np.float32), (labels, np.arange(len(labels)))), shape=(k, len(labels)))
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    return (np.asarray(onehot @ vectors, dtype=np.float64) / np.maximum(counts, 1)[:, None]).astype(np.float32)


class Hercules(ClusterMixin, BaseEstimator):
    """Hierarchical k-means with a human-readable title and description for every cluster.

    Parameters
    ----------
    levels : list of int or "auto"
        Clusters per level, **bottom-up** as in the paper: ``[100, 20, 5]`` gives
        100 clusters at level 1 and 5 at the top. ``"auto"`` chooses k per level
        (sampled silhouette; see :mod:`hercules.clustering.auto_k`).
    representation : "direct" or "description"
        What is clustered above level 0: the cluster vectors (direct) or the
        embeddings of the clusters' descriptions (description).
    embedder : str or Embedder
        Text embedder spec (``"auto"``: MiniLM if installed, else wordllama) or instance.
    image_embedder : str or Embedder
        Image embedder spec (``"auto"``: EfficientNet-Lite0 if installed, else downscaled pixels).
    image_captioner : str, LLMProvider, VisionCaptioner or None
        A vision LLM on an OpenAI-compatible API (e.g. ``"openai:gpt-4o-mini"``) that captions
        every image; without one, images are described by their top ImageNet classes and facts.
    labeler : Labeler or None
        Names the clusters; ``None`` uses ``llm`` if given, else keyword labels
        (c-TF-IDF / distinctive variables).
    llm : str, LLMProvider or None
        Writes titles and descriptions: ``"local"`` (embedded Qwen2.5 1.5B via llama.cpp),
        ``"openai:gpt-4o-mini"``, ``"ollama:llama3.2"``, ... (see :mod:`hercules.llm.registry`).
    llm_options : dict or None
        Options of :class:`hercules.labeling.llm.LLMLabeler` (batch_size, concurrency, samples,
        sample_strategy, retries, cache, log_path, ...).
    llm_l0_descriptions : bool
        Description mode: have the LLM describe every item, and embed those descriptions
        (the paper's ``use_llm_for_l0_descriptions``; N/16 calls). Items whose call fails keep
        their text snippet.
    weighted : bool
        Cluster child clusters weighted by their item counts, so the parent vector
        is the mean of all its items (default; better ARI on Banking77). ``False``
        reproduces the paper's unweighted centroid-of-centroids.
    resampling, resampling_iterations, resampling_points_per_cluster
        Vo et al.'s refinement (points per cluster default: half the mean size).
    auto_k_max, auto_k_top, auto_k_min_branching
        Auto-k bounds: largest k, the size at which a level is a fine top level,
        and the minimum mean number of children per parent.
    n_components : int
        PCA dimensions kept for plots (2 or 3).
    topic_seed : str or None
        A theme the labeler should orient its titles towards.
    modality, text_column, id_column, numeric_columns, numeric_metadata, missing
        How input is read; see :func:`hercules.data.prepare`.
    cache : bool or str
        Embedding cache: True (default location), False, or a path.
    random_state : int
        Seed for every random choice; global RNGs are never touched.
    n_threads : int or None
        BLAS threads during clustering (None: leave as is).
    progress : bool
        Show progress bars.
    """

    def __init__(
        self,
        levels: Sequence[int] | Literal["auto"] = "auto",
        *,
        representation: Literal["direct", "description"] = "direct",
        embedder: str | Embedder = "auto",
        image_embedder: str | Embedder = "auto",
        image_captioner: Any = None,
        labeler: Labeler | None = None,
        llm: str | Any | None = None,
        llm_options: dict | None = None,
        llm_l0_descriptions: bool = False,
        weighted: bool = True,
        resampling: bool = False,
        resampling_iterations: int = 10,
        resampling_points_per_cluster: int | None = None,
        auto_k_max: int = 1000,
        auto_k_top: int = 8,
        auto_k_min_branching: int = 3,
        max_iter: int = 25,
        max_points_per_centroid: int | None = 256,
        n_components: int = 2,
        topic_seed: str | None = None,
        modality: str = "auto",
        text_column: str | None = None,
        id_column: str | None = None,
        numeric_columns: Sequence[str] | None = None,
        numeric_metadata: dict | None = None,
        missing: Literal["raise", "drop"] = "raise",
        cache: bool | str = True,
        random_state: int | None = 0,
        n_threads: int | None = None,
        progress: bool = True,
    ) -> None:
        self.levels = levels
        self.representation = representation
        self.embedder = embedder
        self.image_embedder = image_embedder
        self.image_captioner = image_captioner
        self.labeler = labeler
        self.llm = llm
        self.llm_options = llm_options
        self.llm_l0_descriptions = llm_l0_descriptions
        self.weighted = weighted
        self.resampling = resampling
        self.resampling_iterations = resampling_iterations
        self.resampling_points_per_cluster = resampling_points_per_cluster
        self.auto_k_max = auto_k_max
        self.auto_k_top = auto_k_top
        self.auto_k_min_branching = auto_k_min_branching
        self.max_iter = max_iter
        self.max_points_per_centroid = max_points_per_centroid
        self.n_components = n_components
        self.topic_seed = topic_seed
        self.modality = modality
        self.text_column = text_column
        self.id_column = id_column
        self.numeric_columns = numeric_columns
        self.numeric_metadata = numeric_metadata
        self.missing = missing
        self.cache = cache
        self.random_state = random_state
        self.n_threads = n_threads
        self.progress = progress

    # ------------------------------------------------------------------ setup
    def _check_params(self) -> list[int] | None:
        if self.representation not in ("direct", "description"):
            raise ValueError(f"representation must be 'direct' or 'description', got {self.representation!r}")
        if self.n_components not in (2, 3):
            raise ValueError("n_components must be 2 or 3")
        if isinstance(self.levels, str):
            if self.levels != "auto":
                raise ValueError(f"levels must be a list of ints or 'auto', got {self.levels!r}")
            return None
        levels = [int(k) for k in self.levels]
        if not levels:
            raise ValueError("levels must not be empty (use 'auto' to choose k automatically)")
        if any(k < 1 for k in levels):
            raise ValueError(f"every level needs at least 1 cluster, got {levels}")
        if any(b >= a for a, b in zip(levels, levels[1:])):
            raise ValueError(f"levels are bottom-up and must strictly decrease, e.g. [100, 20, 5]; got {levels}")
        return levels

    def _cache(self) -> EmbeddingCache | None:
        if self.cache is False:
            return None
        return EmbeddingCache(None if self.cache is True else self.cache)

    def _text_embedder(self) -> Embedder:
        if getattr(self, "embedder_", None) is None:
            self.embedder_ = get_embedder(self.embedder, cache=self._cache(), progress=self.progress)
            self.embedder_spec_ = getattr(self.embedder_, "spec", None)
        return self.embedder_

    def _image_embedder(self) -> Embedder:
        if getattr(self, "image_embedder_", None) is None:
            from hercules.embeddings.registry import auto_image_embedder

            spec = auto_image_embedder() if self.image_embedder == "auto" else self.image_embedder
            self.image_embedder_ = get_embedder(spec, cache=self._cache(), progress=self.progress)
        return self.image_embedder_

    def _prepare(self, X: Any, modality: str | None = None) -> Dataset:
        return prepare(
            X,
            modality=modality or self.modality,
            text_column=self.text_column,
            id_column=self.id_column,
            numeric_columns=self.numeric_columns,
            numeric_metadata=self.numeric_metadata,
            missing=self.missing,
        )

    def _l0_vectors(self, ds: Dataset, fitting: bool) -> np.ndarray:
        """Level-0 representation of every item (direct or description mode)."""
        if not fitting and self.embedder_id_ == "precomputed":
            raise InputError("this model was fitted on precomputed embeddings: pass embeddings= for new items")
        vectors, model_id = self._embed_l0(ds, fitting)
        if fitting:
            self.embedder_id_ = model_id
        elif model_id != self.embedder_id_:
            raise InputError(f"the model was fitted with embedder {self.embedder_id_!r} but {model_id!r} is in use")
        return vectors

    def _describe_images(self, ds: Dataset) -> None:
        """What each image shows (captions, or classifier tags), plus size and colours."""
        from hercules.embeddings.images import image_facts

        paths = ds.image_paths or []
        if self.image_captioner is not None:
            from hercules.llm import get_llm
            from hercules.llm.captioning import VisionCaptioner

            cap = self.image_captioner
            captioner = cap if isinstance(cap, VisionCaptioner) else VisionCaptioner(get_llm(cap))
            captions = captioner.caption(paths, topic_seed=self.topic_seed)
            facts = [image_facts(p) for p in paths]
            ds.set_descriptions([f"{c}; {f}" if c else f for c, f in zip(captions, facts)])
        else:
            ds.set_descriptions(self._image_embedder().describe(paths))

    def _embed_l0(self, ds: Dataset, fitting: bool) -> tuple[np.ndarray, str]:
        if ds.modality == "image" and ds.descriptions is None and (fitting or self.representation == "description"):
            if self.representation == "direct":  # embed first: the classifier tags come from the same pass
                vectors = self._image_embedder().embed(ds.image_paths or [], desc="embedding images")
                self._describe_images(ds)
                return vectors, self._image_embedder().model_id
            self._describe_images(ds)
        if self.representation == "description":
            if ds.modality == "vectors":
                raise InputError("description mode needs items (texts, images or numbers), not only vectors")
            texts = [lab.description or lab.title for lab in level0_labels(ds)]
            if fitting and self.llm_l0_descriptions:
                texts = self._llm_l0_texts(ds, texts)
            emb = self._text_embedder()
            return emb.embed(texts, desc="embedding L0 descriptions"), emb.model_id
        if ds.modality == "text":
            emb = self._text_embedder()
            return emb.embed(ds.texts or [], desc="embedding texts"), emb.model_id
        if ds.modality == "image":
            emb = self._image_embedder()
            return emb.embed(ds.image_paths or [], desc="embedding images"), emb.model_id
        if ds.modality == "numeric":
            assert ds.numeric is not None
            if fitting:
                mean = ds.numeric.mean(axis=0)
                scale = ds.numeric.std(axis=0)
                self.scaler_ = {"mean": mean, "scale": np.where(scale > 0, scale, 1.0)}
            return ((ds.numeric - self.scaler_["mean"]) / self.scaler_["scale"]).astype(np.float32), "standardized"
        raise InputError("items given only as vectors: pass them as embeddings=")

    @staticmethod
    def _check_embeddings(E: Any, n: int) -> np.ndarray:
        E = np.asarray(E, dtype=np.float32)
        if E.ndim != 2 or E.shape[0] != n:
            raise InputError(f"embeddings must have shape ({n}, d), one row per item; got {E.shape}")
        if not all_finite(E):
            bad = np.flatnonzero(~np.isfinite(E).all(axis=1))[:10].tolist()
            raise InputError(f"embeddings contain NaN or infinite values (rows {bad})")
        return E

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any = None, y: Any = None, *, embeddings: Any = None) -> Hercules:
        """Build the hierarchy over ``X`` (texts, table, numbers, image paths).

        ``embeddings``: precomputed (n, d) L0 vectors used instead of the embedder
        (``X`` may then be None). ``y`` is ignored (sklearn convention).
        """
        fixed = self._check_params()
        t_start = time.perf_counter()
        self.timings_: dict[str, float] = {}
        self.embedder_ = None
        self.image_embedder_ = None
        self.scaler_ = None
        self._l0_labeler = None
        if X is None:
            if embeddings is None:
                raise InputError("nothing to cluster: pass items, embeddings=, or both")
            E = np.asarray(embeddings)
            if E.ndim != 2 or len(E) == 0:
                raise InputError(f"embeddings must be a non-empty 2-D array, got shape {E.shape}")
            ds = Dataset("vectors", np.arange(len(E), dtype=np.int64).astype(object))
        else:
            ds = self._prepare(X)
        if ds.notes:
            for note in ds.notes:
                log.warning(note)
        n = len(ds)
        if n < 3:
            raise InputError(f"need at least 3 items to build a hierarchy, got {n}")
        if fixed is not None and fixed[0] >= n:
            raise InputError(
                f"level 1 asks for {fixed[0]} clusters but there are only {n} items; "
                f"use fewer clusters (at most {n - 1}) or levels='auto'"
            )
        self.dataset_ = ds

        t0 = time.perf_counter()
        if embeddings is not None:
            if self.representation == "description":
                raise InputError("embeddings= gives direct-mode vectors; description mode embeds descriptions itself")
            vectors = self._check_embeddings(embeddings, n)
            self.embedder_id_ = "precomputed"
        else:
            vectors = self._l0_vectors(ds, fitting=True)
        self.timings_["embed"] = time.perf_counter() - t0
        self.embeddings_ = vectors
        self.n_features_in_ = vectors.shape[1]

        rng = np.random.default_rng(self.random_state)
        labeler = getattr(self, "_l0_labeler", None) or self._labeler()
        self._l0_labeler = None
        cfg = AutoKConfig(max_k=self.auto_k_max, top_max=self.auto_k_top, min_branching=self.auto_k_min_branching)
        hierarchy = Hierarchy(n_items=n)
        nodes = vectors  # what is clustered at the next level
        node_sizes = np.ones(n, dtype=np.int64)
        item_labels = None
        t_cluster = t_label = 0.0
        n_planned = len(fixed) if fixed is not None else None
        bar = tqdm(total=n_planned, desc="levels", unit="level", disable=not self.progress)
        with threadpool_limits(limits=self.n_threads, user_api="blas") if self.n_threads else nullcontext():
            t = 0
            while True:
                t += 1
                n_nodes = nodes.shape[0]
                auto_info = None
                t0 = time.perf_counter()
                if fixed is not None:
                    if t > len(fixed):
                        break
                    k = fixed[t - 1]
                    if k >= n_nodes:
                        raise InputError(f"level {t} asks for {k} clusters but level {t - 1} has only {n_nodes} nodes")
                else:
                    if t > 1 and should_stop(n_nodes, cfg):
                        break
                    choice = choose_k(
                        nodes, cfg, sample_weight=node_sizes.astype(np.float64) if self.weighted else None, random_state=rng
                    )
                    if choice.k < 2:
                        break
                    k = choice.k
                    auto_info = {"candidates": choice.candidates, "scores": [round(s, 5) for s in choice.scores]}
                weights = node_sizes.astype(np.float64) if (self.weighted and t > 1) else None
                try:
                    km = kmeans(
                        nodes,
                        k,
                        sample_weight=weights,
                        random_state=rng,
                        max_iter=self.max_iter,
                        max_points_per_centroid=self.max_points_per_centroid,
                    )
                    if self.resampling:
                        km = resample_refine(
                            nodes,
                            km,
                            iterations=self.resampling_iterations,
                            points_per_cluster=self.resampling_points_per_cluster,
                            sample_weight=weights,
                            random_state=rng,
                        )
                except TooFewDistinctPointsError as e:
                    raise InputError(f"level {t}: {e}") from None
                # Order clusters by item count (0 = largest); ties keep k-means order.
                sizes = np.bincount(km.labels, weights=node_sizes, minlength=k).astype(np.int64)
                order = np.argsort(-sizes, kind="stable")
                rank = np.empty(k, dtype=np.int32)
                rank[order] = np.arange(k, dtype=np.int32)
                parent = rank[km.labels]
                centroids = km.centroids[order]
                item_labels = parent if item_labels is None else parent[item_labels]
                if self.representation == "description" or not self.weighted:
                    centroids = _item_means(vectors, item_labels, k) if self.representation == "direct" else centroids
                level = Level(
                    level=t,
                    parent=parent,
                    centroids=centroids,
                    sizes=sizes[order],
                    labels=[],
                    requested_k=None if fixed is None else k,
                    auto_k=auto_info,
                )
                t_cluster += time.perf_counter() - t0

                t0 = time.perf_counter()
                prev = hierarchy.levels[-1] if hierarchy.levels else None
                ctx = self._context(t, ds, vectors, item_labels, centroids, prev, parent)
                level.labels = labeler.label_level(ctx)
                if len(level.labels) != k:
                    raise RuntimeError(f"labeler returned {len(level.labels)} labels for {k} clusters")
                t_label += time.perf_counter() - t0
                hierarchy.levels.append(level)
                log.info("level %d: %d clusters%s", t, k, " (auto)" if auto_info else "")
                bar.update(1)

                if self.representation == "description":
                    texts = [f"{lab.title}. {lab.description}" for lab in level.labels]
                    level.description_embeddings = self._text_embedder().embed(texts, desc=f"embedding L{t} descriptions")
                    nodes = level.description_embeddings
                else:
                    nodes = centroids
                node_sizes = level.sizes
                if fixed is None and nodes.shape[0] < 2 * cfg.min_branching:
                    break
        bar.close()
        self.timings_["cluster"] = t_cluster
        self.timings_["label"] = t_label
        self.llm_stats_ = [vars(st) for st in getattr(labeler, "stats_", [])]

        t0 = time.perf_counter()
        self.projection_ = PCAProjection(self.n_components).fit(vectors, random_state=self.random_state)
        self.coords_ = self.projection_.transform(vectors)
        for level in hierarchy.levels:
            level.coords = self.projection_.transform(
                level.centroids
                if level.centroids.shape[1] == vectors.shape[1]
                else _item_means(vectors, hierarchy.item_labels(level.level), level.k)
            )
        self.timings_["project"] = time.perf_counter() - t0
        self.hierarchy_ = hierarchy
        self.levels_ = [lvl.k for lvl in hierarchy.levels]
        self.labels_ = hierarchy.item_labels(1)
        self.timings_["total"] = time.perf_counter() - t_start
        return self

    def _llm_l0_texts(self, ds: Dataset, snippets: list[str]) -> list[str]:
        from hercules.labeling.llm import LLMLabeler

        labeler = self._labeler()
        if not isinstance(labeler, LLMLabeler):
            raise ValueError("llm_l0_descriptions=True needs an LLM (llm=...)")
        self._l0_labeler = labeler
        described = labeler.describe_items(ds, topic_seed=self.topic_seed)
        return [f"{lab.title}. {lab.description}" if lab is not None else snip for lab, snip in zip(described, snippets)]

    def _labeler(self) -> Labeler:
        if self.labeler is not None:
            return self.labeler
        if self.llm is not None and self.llm != "none":
            from hercules.labeling.llm import LLMLabeler
            from hercules.llm import get_llm

            return LLMLabeler(get_llm(self.llm), **{"progress": self.progress, **(self.llm_options or {})})
        return KeywordLabeler()

    def _context(self, t, ds, vectors, item_labels, centroids, prev, parent) -> LevelContext:
        k = int(item_labels.max()) + 1 if centroids is None else centroids.shape[0]
        return LevelContext(
            level=t,
            dataset=ds,
            item_labels=item_labels,
            n_clusters=k,
            item_vectors=vectors,
            centroids=centroids
            if self.representation == "direct" and centroids is not None
            else _item_means(vectors, item_labels, k),
            child_labels=prev.labels if prev is not None else None,
            child_parent=parent if prev is not None else None,
            topic_seed=self.topic_seed,
        )

    def llm_cost_estimate(self, llm: Any = None, **llm_options: Any) -> pd.DataFrame:
        """Calls and tokens an LLM labelling of this fitted hierarchy would cost, per level (no calls made)."""
        from hercules.labeling.llm import LLMLabeler
        from hercules.llm import get_llm

        self._check_fitted()
        if self.embeddings_ is None:
            raise RuntimeError("the cost estimate needs the item vectors: save results with embeddings")
        opts = {**(llm_options or self.llm_options or {}), "cache": False, "log_path": None}
        labeler = LLMLabeler(get_llm(llm or self.llm or "fake"), **opts)
        vectors = np.asarray(self.embeddings_, dtype=np.float32)
        rows, prev = [], None
        for lvl in self.hierarchy_.levels:
            centroids = lvl.centroids if lvl.centroids.shape[1] == vectors.shape[1] else None
            ctx = self._context(
                lvl.level, self.dataset_, vectors, self.hierarchy_.item_labels(lvl.level), centroids, prev, lvl.parent
            )
            rows.append(labeler.estimate(ctx))
            prev = lvl
        return pd.DataFrame(rows).set_index("level")

    # ------------------------------------------------------------------ predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "hierarchy_"):
            raise RuntimeError("this Hercules model is not fitted yet: call fit() or hercules.load()")

    def _route(self, X: Any, embeddings: Any) -> tuple[np.ndarray, np.ndarray]:
        """Level-1 cluster of new items (nearest level-1 centroid in the L0 space) and their ids."""
        self._check_fitted()
        modality = None if self.dataset_.modality == "vectors" else self.dataset_.modality
        ds = self._prepare(X, modality) if X is not None else None
        if embeddings is not None:
            n = len(embeddings) if ds is None else len(ds)
            vectors = self._check_embeddings(embeddings, n)
        else:
            if ds is None:
                raise InputError("pass new items, embeddings=, or both")
            vectors = self._l0_vectors(ds, fitting=False)
        ids = ds.ids if ds is not None else np.arange(len(vectors))
        if vectors.shape[1] != self.n_features_in_:
            raise InputError(f"new vectors have {vectors.shape[1]} dimensions; the model was fitted on {self.n_features_in_}")
        # Level-1 centroids are item means in the L0 space in every mode.
        return assign(vectors, self.hierarchy_.level(1).centroids)[0], ids

    def predict(self, X: Any = None, *, embeddings: Any = None, level: int = 1) -> np.ndarray:
        """Cluster index at ``level`` for new items, routed up through every level."""
        self._check_fitted()
        if not 1 <= level <= self.hierarchy_.depth:
            raise ValueError(f"level must be in 1..{self.hierarchy_.depth}")
        lab = self._route(X, embeddings)[0]
        for t in range(2, level + 1):
            lab = self.hierarchy_.level(t).parent[lab]
        return lab

    def predict_membership(self, X: Any = None, *, embeddings: Any = None) -> pd.DataFrame:
        """Like :meth:`membership`, for new items: cluster id and title at every level."""
        lab1, ids = self._route(X, embeddings)
        return self._membership_frame(lab1, index=pd.Index(ids, name="id"))

    # ------------------------------------------------------------------ navigation
    @property
    def n_levels_(self) -> int:
        self._check_fitted()
        return self.hierarchy_.depth

    def clusters(self, level: int | None = None) -> list[Cluster]:
        """Clusters of ``level`` (default: the top level), largest first."""
        self._check_fitted()
        t = self.hierarchy_.depth if level is None else level
        return [Cluster(self, t, j) for j in range(self.hierarchy_.level(t).k)]

    @property
    def top_clusters_(self) -> list[Cluster]:
        return self.clusters()

    def cluster(self, cid: str) -> Cluster:
        """A cluster by id, e.g. ``model.cluster("L2-5")``."""
        self._check_fitted()
        t, j = parse_cluster_id(cid)
        if not 0 <= j < self.hierarchy_.level(t).k:
            raise KeyError(f"no cluster {cid}")
        return Cluster(self, t, j)

    def _membership_frame(self, lab1: np.ndarray, index: Any) -> pd.DataFrame:
        cols: dict[str, Any] = {}
        lab = lab1
        for t in range(1, self.hierarchy_.depth + 1):
            if t > 1:
                lab = self.hierarchy_.level(t).parent[lab]
            level = self.hierarchy_.level(t)
            ids = np.array([cluster_id(t, j) for j in range(level.k)], dtype=object)
            titles = np.array([lb.title for lb in level.labels], dtype=object)
            cols[f"L{t}_cluster_id"] = pd.Categorical.from_codes(lab, categories=ids) if len(set(ids)) == len(ids) else ids[lab]
            cols[f"L{t}_cluster_title"] = titles[lab]
        return pd.DataFrame(cols, index=index)

    def membership(self, include_items: bool = True, include_metadata: bool = True) -> pd.DataFrame:
        """One row per item: the item, then cluster id and title at every level."""
        self._check_fitted()
        ds = self.dataset_
        frame = self._membership_frame(self.labels_, index=pd.Index(ds.ids, name="id"))
        front: dict[str, Any] = {}
        if include_items and ds.modality != "vectors":
            front["item"] = ds.item_texts() if ds.modality != "image" else ds.image_paths
        if front:
            frame = pd.concat([pd.DataFrame(front, index=frame.index), frame], axis=1)
        if include_metadata and ds.metadata is not None:
            meta = ds.metadata.set_index(frame.index)
            frame = pd.concat([frame, meta.add_prefix("meta_") if set(meta.columns) & set(frame.columns) else meta], axis=1)
        return frame

    def tree_text(self, max_depth: int | None = None, max_children: int | None = 12, show_items: int = 0) -> str:
        """The hierarchy as an indented text tree (largest clusters first)."""
        self._check_fitted()
        h = self.hierarchy_
        out = io.StringIO()
        sizes = ", ".join(f"L{lvl.level}: {lvl.k}" for lvl in reversed(h.levels))
        out.write(f"{h.n_items:,} {self.dataset_.modality} items in {h.depth} level(s) ({sizes})\n")
        stop = 1 if max_depth is None else max(1, h.depth - max_depth + 1)

        def walk(c: Cluster, prefix: str, last: bool) -> None:
            out.write(f"{prefix}{'└── ' if last else '├── '}{c.id}  {c.title}  ({c.size:,})\n")
            child_prefix = prefix + ("    " if last else "│   ")
            if c.level > stop:
                kids = c.children
                shown = kids if max_children is None else kids[:max_children]
                for i, kid in enumerate(shown):
                    walk(kid, child_prefix, i == len(shown) - 1 and len(shown) == len(kids))
                if len(shown) < len(kids):
                    out.write(f"{child_prefix}└── … {len(kids) - len(shown)} more\n")
            elif show_items and c.level == 1:
                for text in c.items(show_items):
                    out.write(f"{child_prefix}· {text[:100]}\n")

        tops = self.clusters()
        for i, c in enumerate(tops):
            walk(c, "", i == len(tops) - 1)
        return out.getvalue()

    def print_tree(self, **kw: Any) -> None:
        """Print :meth:`tree_text` (same arguments)."""
        print(self.tree_text(**kw), end="")

    def project(self, X: Any = None, *, embeddings: Any = None) -> np.ndarray:
        """2-D/3-D PCA coordinates of new items, in the same plot space as ``coords_``."""
        self._check_fitted()
        modality = None if self.dataset_.modality == "vectors" else self.dataset_.modality
        if embeddings is not None:
            vectors = self._check_embeddings(embeddings, len(embeddings))
        elif X is not None:
            vectors = self._l0_vectors(self._prepare(X, modality), fitting=False)
        else:
            raise InputError("pass new items or embeddings=")
        return self.projection_.transform(vectors)

    def evaluate(self, level: int | None = None, labels: Any = None, **kw: Any) -> Any:
        """Quality metrics for ``level`` (dict) or all levels (DataFrame); see :func:`hercules.evaluation.evaluate`.

        ``labels``: ground truth (array, Series/dict by item id, or a metadata column name).
        """
        from hercules.evaluation import evaluate

        return evaluate(self, level, labels, **kw)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str, embeddings: Literal["float16", "float32", None] = "float16") -> None:
        """Write the fitted model to the folder ``path`` (see :mod:`hercules.persistence`)."""
        from hercules.persistence import save

        save(self, path, embeddings=embeddings)
