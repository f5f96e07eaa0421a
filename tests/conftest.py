"""Shared fixtures: a private embedding cache per test session, synthetic corpora, a counting embedder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hercules.embeddings import Embedder

BANKING77 = "examples/data/banking77_test.csv"

TOPICS = {
    "sport": "football match goal team player league score coach stadium season",
    "cooking": "recipe oven flour sugar butter bake dough kitchen taste dinner",
    "space": "rocket orbit planet nasa launch astronaut moon satellite mars telescope",
    "finance": "bank loan interest mortgage credit money account savings rate payment",
    "music": "guitar concert album song band drummer melody singer chorus tour",
    "health": "doctor hospital patient vaccine disease nurse medicine symptom clinic therapy",
}


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("HERCULES_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
    # Maps are PCA in tests unless a test asks for UMAP (layout="umap"): UMAP's import and fit
    # cost seconds per model, and no other test looks at the map.
    monkeypatch.setenv("HERCULES_LAYOUT", "pca")
    # Clustering runs in the level-0 space unless a test asks for a manifold (space="umap"; tests/test_space.py).
    monkeypatch.setenv("HERCULES_SPACE", "none")


def make_corpus(n_per_topic: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for topic, words in TOPICS.items():
        vocab = words.split()
        for _ in range(n_per_topic):
            rows.append({"text": " ".join(rng.choice(vocab, size=8)) + ".", "topic": topic})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)


@pytest.fixture
def corpus() -> pd.DataFrame:
    return make_corpus()


class CountingEmbedder(Embedder):
    """Deterministic fake embedder that records every input it was asked to embed."""

    model_id = "counting:64"
    batch_size = 16

    def __init__(self, **kw):
        super().__init__(**kw)
        self.seen: list[str] = []

    def _embed_batch(self, items):
        self.seen.extend(items)
        out = np.zeros((len(items), 64), dtype=np.float32)
        for i, t in enumerate(items):
            for w in t.lower().split():
                out[i, hash(w.strip(".")) % 64] += 1.0
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-6)
        return out


@pytest.fixture
def counting_embedder():
    return CountingEmbedder(progress=False)
