"""The embedder interface: batching, de-duplication, progress and an on-disk cache.

A provider implements only :meth:`Embedder._embed_batch`. :meth:`Embedder.embed`
adds what every provider needs: identical inputs are embedded once, cached
vectors (keyed by model id + content hash) are never recomputed, and a failed
or malformed batch raises :class:`EmbeddingError` (never random vectors).
"""

from __future__ import annotations

import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
from tqdm.auto import tqdm

from hercules.embeddings.cache import EmbeddingCache

log = logging.getLogger(__name__)


class EmbeddingError(RuntimeError):
    """An embedder failed or returned unusable vectors."""


class EmbedderSpecError(EmbeddingError, ValueError):
    """An embedder spec names no known embedder or carries a bad argument (a user error, so also a ValueError)."""


def content_key(model_id: str, item: str) -> str:
    """Cache key of one input: sha256 over the model id and the content."""
    return hashlib.sha256(f"{model_id}\x00{item}".encode("utf-8", errors="surrogatepass")).hexdigest()


class Embedder(ABC):
    """Maps a list of strings (texts, or image paths for image embedders) to float32 vectors."""

    #: Stable identifier of the model and its settings; part of every cache key.
    model_id: str = "embedder"
    #: Inputs per call to :meth:`_embed_batch`.
    batch_size: int = 64

    def __init__(self, cache: EmbeddingCache | None = None, progress: bool = True) -> None:
        self.cache = cache
        self.progress = progress

    def identity(self, item: str) -> str:
        """What the cache key hashes: the input itself (image embedders use the file's bytes)."""
        return item

    @abstractmethod
    def _embed_batch(self, items: list[str]) -> np.ndarray:
        """Embed one batch; return an (len(items), dim) array."""

    def embed(self, items: Sequence[str], desc: str = "embedding") -> np.ndarray:
        """Embed ``items``; duplicates and cached items cost nothing."""
        items = list(items)
        if not items:
            raise EmbeddingError("nothing to embed")
        uniq, inverse = np.unique(np.asarray(items, dtype=object), return_inverse=True)
        uniq_list = [str(u) for u in uniq]
        keys = [content_key(self.model_id, self.identity(u)) for u in uniq_list]
        found = self.cache.get_many(keys) if self.cache is not None else {}
        todo = [i for i, k in enumerate(keys) if k not in found]
        vectors: np.ndarray | None = None
        dim = next(iter(found.values())).shape[0] if found else None
        if todo:
            log.info("%s: %d new of %d unique inputs (%d cached)", self.model_id, len(todo), len(uniq_list), len(found))
            new_vecs = []
            bar = tqdm(total=len(todo), desc=desc, unit="item", disable=not self.progress or len(todo) < 2 * self.batch_size)
            try:
                for start in range(0, len(todo), self.batch_size):
                    batch = [uniq_list[i] for i in todo[start : start + self.batch_size]]
                    try:
                        out = self._embed_batch(batch)
                    except EmbeddingError:
                        raise
                    except Exception as e:  # provider errors get a clear, uniform type
                        raise EmbeddingError(f"{self.model_id} failed on a batch of {len(batch)}: {e}") from e
                    out = self._validate(out, len(batch), dim)
                    dim = out.shape[1]
                    new_vecs.append(out)
                    if self.cache is not None:
                        self.cache.put_many(self.model_id, [keys[i] for i in todo[start : start + self.batch_size]], out)
                    bar.update(len(batch))
            finally:
                bar.close()
            computed = np.concatenate(new_vecs)
        assert dim is not None
        vectors = np.empty((len(uniq_list), dim), dtype=np.float32)
        for i, k in enumerate(keys):
            if k in found:
                vectors[i] = found[k]
        if todo:
            vectors[np.asarray(todo)] = computed
        return vectors[inverse.ravel()]

    def _validate(self, out: np.ndarray, n: int, dim: int | None) -> np.ndarray:
        out = np.asarray(out, dtype=np.float32)
        if out.ndim != 2 or out.shape[0] != n:
            raise EmbeddingError(f"{self.model_id} returned shape {out.shape} for {n} inputs")
        if dim is not None and out.shape[1] != dim:
            raise EmbeddingError(f"{self.model_id} changed dimension from {dim} to {out.shape[1]}")
        if not np.isfinite(out).all():
            raise EmbeddingError(f"{self.model_id} returned NaN or infinite values")
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model_id!r})"
