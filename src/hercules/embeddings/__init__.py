"""Embedding stage: turn texts or images into vectors, with a content-hash cache."""

from hercules.common.paths import default_cache_dir
from hercules.embeddings.base import Embedder, EmbedderSpecError, EmbeddingError, content_key
from hercules.embeddings.cache import EmbeddingCache
from hercules.embeddings.images import EfficientNetImageEmbedder, ImageEmbedder, PixelImageEmbedder
from hercules.embeddings.providers import HashingEmbedder, SentenceTransformerEmbedder, WordLlamaEmbedder
from hercules.embeddings.registry import get_embedder, register_embedder

__all__ = [
    "EfficientNetImageEmbedder",
    "EmbedderSpecError",
    "Embedder",
    "EmbeddingCache",
    "EmbeddingError",
    "HashingEmbedder",
    "ImageEmbedder",
    "PixelImageEmbedder",
    "SentenceTransformerEmbedder",
    "WordLlamaEmbedder",
    "content_key",
    "default_cache_dir",
    "get_embedder",
    "register_embedder",
]
