"""The public :class:`Hercules` estimator: a thin sklearn facade over the pipeline.

``fit`` reads the data (:mod:`hercules.data`), encodes items into level-0 vectors
(:class:`~hercules.pipeline.encoder.L0Encoder`), builds the labelled hierarchy
(:class:`~hercules.pipeline.builder.LevelBuilder`) and fits the 2-D layout (:mod:`hercules.layout`); everything it
learns is one :class:`~hercules.pipeline.state.FittedState`, set by :meth:`Hercules._set_fitted`
both here and when a result is loaded.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin

from hercules.clustering.auto_k import AutoKConfig
from hercules.common.progress import ProgressCallback
from hercules.data.dataset import Dataset, InputError, prepare
from hercules.data.readers import read_path
from hercules.embeddings import Embedder
from hercules.hierarchy.views import HierarchyViews, membership_frame
from hercules.labeling import KeywordLabeler, Labeler
from hercules.pipeline.coarse import parse_coarse
from hercules.pipeline.encoder import EncoderConfig, L0Encoder, check_matrix, vectors_dataset
from hercules.pipeline.fit import fit_state
from hercules.pipeline.guided import check_guide
from hercules.pipeline.policy import LevelPolicy
from hercules.pipeline.state import FittedState
from hercules.space import SPACES

log = logging.getLogger(__name__)

# Fitted attribute <- FittedState field: the one list that fit and load both go through.
_FITTED = {
    "hierarchy_": "hierarchy",
    "dataset_": "dataset",
    "encoder_": "encoder",
    "layout_": "projection",
    "coords_": "coords",
    "embeddings_": "embeddings",
    "n_features_in_": "n_features",
    "timings_": "timings",
    "llm_stats_": "llm_stats",
    "changes_": "changes",
    "space_": "space",
    "membership_parts_": "membership",
}


class Hercules(HierarchyViews, ClusterMixin, BaseEstimator):
    """Hierarchical k-means with a human-readable title and description for every cluster.

    Parameters
    ----------
    levels : list of int, "auto" or "guided"
        Clusters per level, **bottom-up** as in the paper: ``[100, 20, 5]`` gives
        100 clusters at level 1 and 5 at the top. ``"auto"`` chooses k per level
        (sampled silhouette; see :mod:`hercules.clustering.auto_k`); ``"guided"`` lets the
        ``guide`` judge choose level 1's k from pair questions, the rest as ``"auto"``.
    guide, guide_triplets, guide_pairs, guide_tune, guide_links : str or None, int, int, bool, bool
        A judge that shapes the clustering (ClusterLLM, :mod:`hercules.guidance`): ``"llm"`` (the
        ``llm``) or ``"labels:COLUMN[:NOISE]"`` (a label column, a fraction NOISE of answers flipped);
        the triplet questions that reshape the vectors (a linear adapter; texts embedded by a
        sentence-transformers model such as MiniLM: with ``guide_tune``, first a copy of the model
        fine-tuned on the answers, saved with the result; with ``guide_links``, each answer also
        joins its anchor to the closer item in the UMAP space's neighbour graph) and the pair
        questions of ``levels="guided"``.
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
        sample_strategy, retries, timeout, max_wait, cache, log_path, ...), checked when the
        model is created: a misspelt option is an error at once, not deep inside ``fit``.
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
    space : "auto", "umap", "umap-cosine" or "none"
        Where every level is clustered and new items are routed (:mod:`hercules.space`): a 5-d UMAP of the
        level-0 vectors (fitted on at most 20,000 items, the rest placed by nearest neighbours) or the level-0
        vectors themselves. Titles, evidence and shown centroids always use the level-0 vectors. ``"auto"``:
        ``$HERCULES_SPACE`` if set, else UMAP when installed and there are at least 100 items. UMAP's neighbours
        are by angle for unit-length rows (text embeddings) and euclidean otherwise; ``"umap-cosine"`` uses angles
        for any rows (better on Fashion-MNIST pixels, worse on sklearn's digits: see docs/BENCHMARKS.md).
    coarse : "auto", "space", "ward", "connectivity" or "graph", optionally ":N"
        How levels >= 3 (>= N; "auto", "graph": >= 2) are grouped in a UMAP space: k-means, Ward, UMAP's graph, the higher modularity
        of k-means / graph ("auto"), or that with Hartigan-polished k-means candidates judged too ("graph"; pipeline.coarse).
    n_components : int
        Dimensions of the map coordinates (``coords_``; 2 for plots, 1-3 allowed).
    layout : "auto", "umap" or "pca"
        How items are laid out on the map: UMAP (``hercules-cluster[layout]``; fitted on a
        sample above 20,000 items, the rest placed by nearest neighbours) or PCA. ``"auto"``:
        ``$HERCULES_LAYOUT`` if set, else UMAP when installed, else PCA.
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
    engine, ray_address : "local" or "ray", str or None
        Where text embedding and the level-1 pass run: this process, or a Ray cluster
        (``hercules-cluster[ray]``; ``ray_address`` default ``$RAY_ADDRESS``, else a local Ray). See docs/SCALING.md.
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
        space: Literal["auto", "umap", "umap-cosine", "none"] = "auto",
        coarse: str = "auto",
        n_components: int = 2,
        layout: Literal["auto", "umap", "pca"] = "auto",
        topic_seed: str | None = None,
        guide: str | None = None,
        guide_triplets: int = 1024,
        guide_pairs: int = 1024,
        guide_tune: bool = True,
        guide_links: bool = True,
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
        engine: Literal["local", "ray"] = "local",
        ray_address: str | None = None,
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
        self.resampling, self.resampling_iterations = resampling, resampling_iterations
        self.resampling_points_per_cluster = resampling_points_per_cluster
        self.auto_k_max = auto_k_max
        self.auto_k_top = auto_k_top
        self.auto_k_min_branching = auto_k_min_branching
        self.max_iter, self.max_points_per_centroid = max_iter, max_points_per_centroid
        self.space, self.coarse = space, coarse
        self.n_components, self.layout = n_components, layout
        self.topic_seed = topic_seed
        self.guide, self.guide_triplets, self.guide_pairs = guide, guide_triplets, guide_pairs
        self.guide_tune, self.guide_links = guide_tune, guide_links
        self.modality = modality
        self.text_column, self.id_column = text_column, id_column
        self.numeric_columns, self.numeric_metadata = numeric_columns, numeric_metadata
        self.missing = missing
        self.cache = cache
        self.random_state, self.n_threads, self.progress = random_state, n_threads, progress
        self.engine, self.ray_address = engine, ray_address

    # ------------------------------------------------------------------ parameters
    def _check_params(self) -> LevelPolicy:
        if self.representation not in ("direct", "description"):
            raise ValueError(f"representation must be 'direct' or 'description', got {self.representation!r}")
        if self.space not in SPACES:
            raise ValueError(f"space must be one of {', '.join(map(repr, SPACES))}, got {self.space!r}")
        parse_coarse(self.coarse)
        if self.layout not in ("auto", "umap", "pca"):
            raise ValueError(f"layout must be 'auto', 'umap' or 'pca', got {self.layout!r}")
        if self.n_components not in (1, 2, 3):
            raise ValueError(f"n_components (plot dimensions) must be 1, 2 or 3, got {self.n_components!r}")
        if self.missing not in ("raise", "drop"):
            raise ValueError(f"missing must be 'raise' or 'drop', got {self.missing!r}")
        self._llm_options()
        check_guide(self.guide, self.guide_triplets, self.guide_pairs, self.levels)
        auto = AutoKConfig(max_k=self.auto_k_max, top_max=self.auto_k_top, min_branching=self.auto_k_min_branching)
        return LevelPolicy.from_levels(self.levels, auto)

    def _llm_options(self) -> dict[str, Any]:
        """``llm_options`` validated against the LLM labeler's options model."""
        if not self.llm_options:
            return {}
        from hercules.labeling.llm import LLMLabelerOptions

        return LLMLabelerOptions.parse(self.llm_options).model_dump(exclude_unset=True)

    def _labeler(self) -> Labeler:
        if self.labeler is not None:
            return self.labeler
        if self.llm is not None and self.llm != "none":
            from hercules.labeling.llm import LLMLabeler
            from hercules.llm import get_llm

            return LLMLabeler(get_llm(self.llm), **{"progress": self.progress, **self._llm_options()})
        return KeywordLabeler()

    def _encoder(self, labeler: Labeler) -> L0Encoder:
        describer = None
        if self.llm_l0_descriptions:
            if not hasattr(labeler, "describe_items"):
                raise ValueError("llm_l0_descriptions=True needs an LLM (llm=...)")
            describer = labeler
        return L0Encoder(EncoderConfig.from_params(self.get_params()), describer)

    def _prepare(self, X: Any, modality: str | None = None) -> Dataset:
        X = check_matrix(X)
        return prepare(
            X,
            modality=modality or self.modality,
            text_column=self.text_column,
            id_column=self.id_column,
            numeric_columns=self.numeric_columns,
            numeric_metadata=self.numeric_metadata,
            missing=self.missing,
        )

    def _fit_dataset(self, X: Any, embeddings: Any, read: Callable[..., pd.DataFrame] = read_path) -> Dataset:
        X = read(X) if isinstance(X, (str, os.PathLike)) else X  # a file or folder: the engine's reader
        ds = self._prepare(X) if X is not None else vectors_dataset(embeddings)
        for note in ds.notes:
            log.warning(note)
        return ds

    # ------------------------------------------------------------------ fit
    def fit(
        self, X: Any = None, y: Any = None, *, embeddings: Any = None, on_progress: ProgressCallback | None = None
    ) -> Hercules:
        """Build the hierarchy over ``X`` (texts, table, numbers, image paths, or a file/folder path as ``read_path`` reads).

        ``embeddings``: precomputed (n, d) L0 vectors used instead of the embedder (``X`` may
        then be None). ``on_progress``: called with a :class:`~hercules.common.progress.ProgressEvent`
        at each stage and level. ``y`` is ignored (sklearn convention).
        """
        policy = self._check_params()
        labeler = self._labeler()
        read = partial(self._fit_dataset, X, embeddings)  # in the fit: the Ray engine reads paths on the cluster
        state = fit_state(self.get_params(), policy, read, embeddings, labeler, self._encoder(labeler), on_progress)
        return self._set_fitted(state)

    def _set_fitted(self, state: FittedState) -> Hercules:
        for attr, name in _FITTED.items():
            setattr(self, attr, getattr(state, name))
        self.levels_ = [lvl.k for lvl in state.hierarchy.levels]
        self.labels_ = state.hierarchy.item_labels(1)
        return self

    def _state(self) -> FittedState:
        self._check_fitted()
        return FittedState(**{name: getattr(self, attr) for attr, name in _FITTED.items()})

    @property
    def embedder_id_(self) -> str | None:
        """What made the level-0 vectors: an embedder id, ``"standardized"`` or ``"precomputed"``."""
        self._check_fitted()
        return self.encoder_.model_id_

    def llm_cost_estimate(self, llm: Any = None, **llm_options: Any) -> pd.DataFrame:
        """Calls and tokens an LLM labelling of this fitted hierarchy would cost, per level (no calls made)."""
        from hercules.labeling.llm import LLMLabeler
        from hercules.llm import get_llm
        from hercules.pipeline.costs import estimate_llm_cost

        opts = {**(llm_options or self._llm_options()), "cache": False, "log_path": None}
        labeler = LLMLabeler(get_llm(llm or self.llm or "fake"), **opts)
        rows = estimate_llm_cost(self._state(), labeler, self.representation, self.topic_seed)
        return pd.DataFrame(rows).set_index("level")

    # ------------------------------------------------------------------ predict
    def _new_vectors(self, X: Any, embeddings: Any) -> tuple[np.ndarray, np.ndarray]:
        """Level-0 vectors of new items and their ids."""
        self._check_fitted()
        modality = None if self.dataset_.modality == "vectors" else self.dataset_.modality
        ds = self._prepare(X, modality) if X is not None else None
        if ds is not None and ds.numeric is not None and ds.numeric.shape[1] != len(self.encoder_.scaler_["mean"]):
            n_in, n_fit = ds.numeric.shape[1], len(self.encoder_.scaler_["mean"])
            raise InputError(f"X has {n_in} features, but Hercules is expecting {n_fit} features as input")
        vectors = self.encoder_.transform(ds, embeddings, n_features=self.n_features_in_)
        return vectors, (ds.ids if ds is not None else np.arange(len(vectors)))

    def _route(self, X: Any, embeddings: Any) -> tuple[np.ndarray, np.ndarray]:
        """Level-1 cluster of new items (nearest level-1 centroid in the clustering space) and their ids."""
        vectors, ids = self._new_vectors(X, embeddings)
        return self._state().route(vectors), ids

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
        return membership_frame(self.hierarchy_, lab1, index=pd.Index(ids, name="id"))

    def project(self, X: Any = None, *, embeddings: Any = None) -> np.ndarray:
        """2-D/3-D coordinates of new items, in the same plot space as ``coords_``."""
        if X is None and embeddings is None:
            raise InputError("pass new items or embeddings=")
        return self.layout_.transform(self._new_vectors(X, embeddings)[0])

    def evaluate(self, level: int | None = None, labels: Any = None, **kw: Any) -> Any:
        """Quality metrics for ``level`` (dict) or all levels (DataFrame); see :func:`hercules.evaluation.evaluate`.

        ``labels``: ground truth (array, Series/dict by item id, or a metadata column name).
        """
        from hercules.evaluation import evaluate

        self._check_fitted()
        return evaluate(self, level, labels, **kw)

    def update(self, X: Any = None, *, embeddings: Any = None, **options: Any) -> Hercules:
        """Grow the hierarchy with new items, in place, every cluster id kept (:func:`hercules.pipeline.update.update_model`)."""
        from hercules.pipeline.update import update_model

        return update_model(self, X, embeddings, **options)

    # ------------------------------------------------------------------ persistence
    def save(
        self, path: str | os.PathLike, embeddings: Literal["float16", "float32", None] = "float16", *, overwrite: bool = False
    ) -> None:
        """Write the fitted model to the folder ``path`` (see :mod:`hercules.persistence`).

        An existing result is replaced only with ``overwrite=True``; other files are never deleted.
        """
        from hercules.persistence import save

        save(self._state(), self.get_params(), path, embeddings=embeddings, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Hercules:
        """A fitted model from a result folder written by :meth:`save`."""
        from hercules.persistence import load_state

        state, saved = load_state(path)
        names = cls().get_params()
        params = {k: v for k, v in saved.items() if k in names and k not in ("labeler", "image_captioner", "llm")}
        return cls(**params)._set_fitted(state)


def load(path: str | os.PathLike) -> Hercules:
    """A fitted :class:`Hercules` from a result folder (``hercules.load("results/banking")``)."""
    return Hercules.load(path)
