import numpy as np
import pytest

from hercules.embeddings import (
    Embedder,
    EmbeddingCache,
    EmbeddingError,
    HashingEmbedder,
    get_embedder,
    register_embedder,
)
from tests.conftest import CountingEmbedder


def test_duplicates_are_embedded_once_and_order_is_kept(counting_embedder):
    X = counting_embedder.embed(["b", "a", "b", "c", "a"])
    assert sorted(counting_embedder.seen) == ["a", "b", "c"]
    np.testing.assert_array_equal(X[0], X[2])
    np.testing.assert_array_equal(X[1], X[4])


def test_cache_means_a_rerun_embeds_nothing(tmp_path):
    cache = EmbeddingCache(tmp_path / "c.sqlite")
    first = CountingEmbedder(cache=cache, progress=False)
    a = first.embed([f"text {i}" for i in range(100)])
    second = CountingEmbedder(cache=EmbeddingCache(tmp_path / "c.sqlite"), progress=False)
    b = second.embed([f"text {i}" for i in range(100)] + ["new one"])
    assert second.seen == ["new one"]
    np.testing.assert_array_equal(a, b[:100])
    assert len(cache) == 101


def test_cache_key_includes_model_id(tmp_path):
    cache = EmbeddingCache(tmp_path / "c.sqlite")
    HashingEmbedder(64, cache=cache, progress=False).embed(["x"])
    other = CountingEmbedder(cache=cache, progress=False)
    other.embed(["x"])
    assert other.seen == ["x"]


class Broken(Embedder):
    model_id = "broken"

    def __init__(self, mode, **kw):
        super().__init__(**kw)
        self.mode = mode

    def _embed_batch(self, items):
        if self.mode == "raise":
            raise TimeoutError("server timed out")
        if self.mode == "nan":
            return np.full((len(items), 3), np.nan)
        return np.zeros((len(items) + 1, 3))


@pytest.mark.parametrize("mode,msg", [("raise", "timed out"), ("nan", "NaN"), ("shape", "shape")])
def test_failures_raise_never_random_vectors(mode, msg):
    with pytest.raises(EmbeddingError, match=msg):
        Broken(mode, progress=False).embed(["a", "b"])


def test_registry_and_third_party_registration():
    assert get_embedder("hashing:32").model_id == "hashing:32"
    register_embedder("counting", lambda arg, **kw: CountingEmbedder(**kw))
    assert isinstance(get_embedder("counting"), CountingEmbedder)
    with pytest.raises(ValueError, match="unknown embedder"):
        get_embedder("nope")


@pytest.mark.parametrize(
    "spec,message",
    [
        ("nope", "unknown embedder 'nope'"),
        ("hashing:abc", "needs a whole number"),
        ("hashing:0", "between 2 and"),
        ("hashing:100000000", "between 2 and"),
        ("pixels:-1", "between 2 and"),
        ("minilm:large", "takes no argument"),
        ("st:", "needs folder"),
        ("", "non-empty string"),
    ],
)
def test_bad_specs_are_clear_errors(spec, message):
    from hercules.embeddings import EmbedderSpecError

    with pytest.raises(EmbedderSpecError, match=message) as info:
        get_embedder(spec)
    assert isinstance(info.value, ValueError) and isinstance(info.value, EmbeddingError)


def test_embedders_have_no_unused_kind_attribute():
    assert not hasattr(HashingEmbedder(8, progress=False), "kind")


def test_wordllama_real_model_loads_offline():
    emb = get_embedder("wordllama", progress=False)
    X = emb.embed(["my card was declined", "card payment refused", "what is the weather on mars"])
    assert X.shape == (3, 256)
    sims = X @ X.T
    assert sims[0, 1] > sims[0, 2]


@pytest.mark.slow
def test_minilm_real_model_loads_offline(monkeypatch):
    import os

    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    emb = get_embedder("minilm", progress=False)
    X = emb.embed(["my card was declined", "card payment refused", "what is the weather on mars"])
    assert "HF_HUB_OFFLINE" not in os.environ and "TRANSFORMERS_OFFLINE" not in os.environ  # the user's environment is theirs
    assert X.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-4)
    sims = X @ X.T
    assert sims[0, 1] > sims[0, 2] + 0.2
