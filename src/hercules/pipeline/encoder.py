"""The L0 encoder: items -> level-0 vectors, the same way at fit and at predict time.

It owns what turns an item into a vector (text embedder, image embedder, image captioner,
numeric scaler) and the representation mode, so ``predict``, ``project`` and ``evaluate``
never reach into the estimator. Its fitted state (model id, spec, scaler) is saved with the
result as plain values and arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from hercules.clustering.kmeans import all_finite
from hercules.data.dataset import Dataset, InputError
from hercules.embeddings import Embedder, EmbeddingCache, get_embedder
from hercules.labeling import level0_labels

PRECOMPUTED = "precomputed"


def check_embeddings(E: Any, n: int) -> np.ndarray:
    """(n, d) finite float32 vectors, or an :class:`InputError` that says what is wrong."""
    try:
        E = np.asarray(E, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise InputError(f"embeddings must be a numeric (n, d) array, one row per item: {e}") from None
    if E.ndim != 2 or E.shape[0] != n or E.shape[1] == 0:
        raise InputError(f"embeddings must have shape ({n}, d), one row per item; got {E.shape}")
    if not all_finite(E):
        bad = np.flatnonzero(~np.isfinite(E).all(axis=1))[:10].tolist()
        raise InputError(f"embeddings contain NaN or infinite values (rows {bad})")
    return E


def check_matrix(X: Any) -> Any:
    """Array-like numeric input gets numpy's checks here (sparse, complex, object, empty);
    tables, texts and paths go to :func:`hercules.data.prepare` untouched."""
    import scipy.sparse as sp

    if sp.issparse(X):
        raise InputError("sparse input is not supported; pass a dense array (e.g. X.toarray()) or precomputed embeddings=")
    if not isinstance(X, np.ndarray):
        return X
    if np.iscomplexobj(X):
        raise InputError("Complex data not supported; pass real numbers")
    if X.ndim == 1 and X.dtype.kind in "biuf":
        raise InputError("expected a 2-D array of numbers, got 1-D. Reshape your data: X.reshape(-1, 1) for one variable")
    if X.ndim == 2 and X.shape[1] == 0:
        raise InputError(f"0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
    if X.dtype == object and X.ndim == 2:
        try:
            return X.astype(np.float64)
        except ValueError:  # strings: a table of texts, for prepare() to read
            return X
        except TypeError as e:
            raise TypeError(f"a 2-D object array must hold numbers or texts: {e}") from None
    return X


def vectors_dataset(embeddings: Any) -> Dataset:
    """Items given only as vectors: a dataset of row numbers (ids 0..n-1), after a shape check."""
    if embeddings is None:
        raise InputError("nothing to cluster: pass items, embeddings=, or both")
    shape = np.shape(embeddings)
    if len(shape) != 2 or shape[0] == 0:
        raise InputError(f"embeddings must be a non-empty 2-D array, got shape {shape}")
    return Dataset("vectors", np.arange(shape[0], dtype=np.int64).astype(object))


@dataclass
class EncoderConfig:
    """The estimator parameters the encoder needs (copied, never the estimator itself)."""

    representation: str = "direct"
    embedder: Any = "auto"
    image_embedder: Any = "auto"
    image_captioner: Any = None
    cache: bool | str = True
    progress: bool = True
    topic_seed: str | None = None

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> EncoderConfig:
        """The encoder's share of an estimator's ``get_params()``."""
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in params.items() if k in names})


class L0Encoder:
    """``fit_transform(dataset)`` at fit time, ``transform(dataset)`` for new items.

    Fitted state: ``model_id_`` (what made the vectors: an embedder id, ``"standardized"`` or
    ``"precomputed"``), ``spec_`` (the text embedder spec to rebuild it after a load) and
    ``scaler_`` (mean/scale of numeric columns); ``llm_stats_`` accounts for LLM item descriptions.
    """

    def __init__(self, config: EncoderConfig, describer: Any = None) -> None:
        self.config = config
        self.describer = describer  # an LLM labeler whose describe_items() writes L0 descriptions
        self.model_id_: str | None = None
        self.spec_: str | None = None
        self.scaler_: dict[str, np.ndarray] | None = None
        self.adapter_: np.ndarray | None = None  # (d, d) linear map learned from a judge (guidance), applied last
        self.guidance_: dict[str, Any] | None = None  # what the judge was asked and what was decided
        self.tuned_: dict[str, str] | None = None  # {"path", "model_id"}: the text embedder fine-tuned by a judge
        self.llm_stats_: list[dict[str, Any]] = []  # accounting of LLM item descriptions (level 0)
        self._text: Embedder | None = None
        self._image: Embedder | None = None
        self.wrap_text: Callable[[Embedder], Embedder] | None = None  # an engine's: the same model, run on its workers

    # ------------------------------------------------------------------ embedders
    def _cache(self) -> EmbeddingCache | None:
        cache = self.config.cache
        return None if cache is False else EmbeddingCache(None if cache is True else cache)

    def text_embedder(self) -> Embedder:
        """The text embedder (built on first use; after a load, from the saved spec)."""
        if self._text is None:
            spec = self.spec_ if (self.spec_ and self.config.embedder == "auto") else self.config.embedder
            if self.tuned_ is not None:  # fine-tuned by a judge (guidance): its own folder and id
                from hercules.embeddings.providers import SentenceTransformerEmbedder

                kw = {"model_id": self.tuned_["model_id"], "cache": self._cache(), "progress": self.config.progress}
                spec = SentenceTransformerEmbedder(self.tuned_["path"], **kw)
            self._text = get_embedder(spec, cache=self._cache(), progress=self.config.progress)
            if self.wrap_text is not None:
                self._text = self.wrap_text(self._text)
            self.spec_ = getattr(self._text, "spec", None) or self.spec_
        return self._text

    def image_embedder(self) -> Embedder:
        if self._image is None:
            from hercules.embeddings.registry import auto_image_embedder

            spec = auto_image_embedder() if self.config.image_embedder == "auto" else self.config.image_embedder
            self._image = get_embedder(spec, cache=self._cache(), progress=self.config.progress)
        return self._image

    def embed_texts(self, texts: list[str], desc: str = "embedding") -> np.ndarray:
        """Texts into the level-0 space (the guidance adapter included)."""
        return self.adapt(self._embed_raw(texts, desc))

    def _embed_raw(self, texts: list[str], desc: str) -> np.ndarray:
        return self.text_embedder().embed(texts, desc=desc)

    def adapt(self, vectors: np.ndarray) -> np.ndarray:
        """Vectors through the fitted guidance adapter (unchanged without one)."""
        if self.adapter_ is None:
            return vectors
        return np.ascontiguousarray(vectors @ self.adapter_.T, dtype=np.float32)

    def title_embedder(self) -> Callable[[list[str], str], np.ndarray] | None:
        """``embed_texts`` when texts land in the same space as the level-0 vectors (text items or
        description mode), else None (images, numbers, precomputed vectors): titles can then be
        checked against centroids."""
        if self._text is None or self.model_id_ != self._text.model_id:
            return None
        return self.embed_texts

    # ------------------------------------------------------------------ fit / transform
    def fit_transform(self, ds: Dataset, embeddings: Any = None) -> np.ndarray:
        """Level-0 vectors of the fitted items; ``embeddings`` replaces the embedder (direct mode)."""
        if embeddings is not None:
            if self.config.representation == "description":
                raise InputError("embeddings= gives direct-mode vectors; description mode embeds descriptions itself")
            self.model_id_ = PRECOMPUTED
            return check_embeddings(embeddings, len(ds))
        vectors, self.model_id_ = self._encode(ds, fitting=True)
        return vectors

    def transform(self, ds: Dataset | None, embeddings: Any = None, n_features: int | None = None) -> np.ndarray:
        """Level-0 vectors of new items, checked against what the model was fitted with."""
        if embeddings is not None:
            vectors = check_embeddings(embeddings, len(embeddings) if ds is None else len(ds))
        elif ds is None:
            raise InputError("pass new items, embeddings=, or both")
        elif self.model_id_ == PRECOMPUTED:
            raise InputError("this model was fitted on precomputed embeddings: pass embeddings= for new items")
        else:
            vectors, model_id = self._encode(ds, fitting=False)
            if model_id != self.model_id_:
                raise InputError(f"the model was fitted with embedder {self.model_id_!r} but {model_id!r} is in use")
        if n_features is not None and vectors.shape[1] != n_features:
            raise InputError(f"new vectors have {vectors.shape[1]} dimensions; the model was fitted on {n_features}")
        return self.adapt(vectors)

    def _encode(self, ds: Dataset, fitting: bool) -> tuple[np.ndarray, str]:
        rep = self.config.representation
        if ds.modality == "image" and ds.descriptions is None and (fitting or rep == "description"):
            if rep == "direct":  # embed first: the classifier tags come from the same pass
                vectors = self.image_embedder().embed(ds.image_paths or [], desc="embedding images")
                self._describe_images(ds)
                return vectors, self.image_embedder().model_id
            self._describe_images(ds)
        if rep == "description":
            return self._encode_descriptions(ds, fitting)
        if ds.modality == "text":
            return self._embed_raw(ds.texts or [], desc="embedding texts"), self.text_embedder().model_id
        if ds.modality == "image":
            return self.image_embedder().embed(ds.image_paths or [], desc="embedding images"), self.image_embedder().model_id
        if ds.modality == "numeric":
            return self._standardize(ds, fitting), "standardized"
        raise InputError("items given only as vectors: pass them as embeddings=")

    def _encode_descriptions(self, ds: Dataset, fitting: bool) -> tuple[np.ndarray, str]:
        """Description mode: embed each item's description (keyword, image or LLM-written)."""
        if ds.modality == "vectors":
            raise InputError("description mode needs items (texts, images or numbers), not only vectors")
        texts = [lab.description or lab.title for lab in level0_labels(ds)]
        if fitting and self.describer is not None:
            described = self.describer.describe_items(ds, topic_seed=self.config.topic_seed)
            if described.stats is not None:
                self.llm_stats_.append(dict(described.stats))
            texts = [f"{lab.title}. {lab.description}" if lab is not None else t for lab, t in zip(described.labels, texts)]
        return self._embed_raw(texts, desc="embedding L0 descriptions"), self.text_embedder().model_id

    def _standardize(self, ds: Dataset, fitting: bool) -> np.ndarray:
        assert ds.numeric is not None
        if fitting:
            scale = ds.numeric.std(axis=0)
            self.scaler_ = {"mean": ds.numeric.mean(axis=0), "scale": np.where(scale > 0, scale, 1.0)}
        assert self.scaler_ is not None
        return ((ds.numeric - self.scaler_["mean"]) / self.scaler_["scale"]).astype(np.float32)

    def _describe_images(self, ds: Dataset) -> None:
        """What each image shows (captions, or classifier tags), plus size and colours."""
        from hercules.embeddings.images import image_facts

        paths = ds.image_paths or []
        cap = self.config.image_captioner
        if cap is None:
            ds.set_descriptions(self.image_embedder().describe(paths))
            return
        from hercules.llm import get_llm
        from hercules.llm.captioning import VisionCaptioner

        captioner = cap if isinstance(cap, VisionCaptioner) else VisionCaptioner(get_llm(cap))
        captions = captioner.caption(paths, topic_seed=self.config.topic_seed)
        facts = [image_facts(p) for p in paths]
        ds.set_descriptions([f"{c}; {f}" if c else f for c, f in zip(captions, facts)])

    # ------------------------------------------------------------------ persistence
    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(JSON-able values, arrays) to save with a result."""
        arrays = {} if self.scaler_ is None else {"scaler_mean": self.scaler_["mean"], "scaler_scale": self.scaler_["scale"]}
        if self.adapter_ is not None:
            arrays["guidance_adapter"] = self.adapter_
        values = {"embedder": self.model_id_, "embedder_spec": self.spec_, "guidance": self.guidance_}
        return values | {"tuned_embedder": None if self.tuned_ is None else self.tuned_["model_id"]}, arrays

    def use_tuned(self, path: str, model_id: str) -> None:
        """From now on, texts are embedded by the fine-tuned model in ``path`` (guidance)."""
        self.tuned_ = {"path": str(path), "model_id": model_id}
        self._text = None

    @classmethod
    def from_state(
        cls, config: EncoderConfig, values: dict[str, Any], arrays: dict[str, np.ndarray], tuned_dir: str | None = None
    ) -> L0Encoder:
        """``tuned_dir``: where the result folder keeps the fine-tuned embedder, if it has one."""
        enc = cls(config)
        if values.get("tuned_embedder") and tuned_dir is not None:
            enc.tuned_ = {"path": str(tuned_dir), "model_id": values["tuned_embedder"]}
        enc.model_id_ = values.get("embedder")
        enc.spec_ = values.get("embedder_spec")
        if "scaler_mean" in arrays:
            enc.scaler_ = {"mean": arrays["scaler_mean"], "scale": arrays["scaler_scale"]}
        enc.adapter_ = arrays.get("guidance_adapter")
        enc.guidance_ = values.get("guidance")
        return enc
