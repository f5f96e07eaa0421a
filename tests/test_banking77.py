"""Real data: Banking77 (3,080 customer queries, 77 intents) with real offline embedders."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from hercules import Hercules
from hercules.clustering import kmeans
from tests.conftest import BANKING77


@pytest.fixture(scope="module")
def banking():
    return pd.read_csv(BANKING77)


@pytest.mark.slow
def test_hierarchy_matches_flat_kmeans_at_77(banking):
    m = Hercules([300, 77, 10], embedder="wordllama", progress=False).fit(banking)
    y = banking.category
    E = m.embeddings_

    def level2_ari(**kw):
        return np.mean(
            [
                adjusted_rand_score(
                    y,
                    Hercules([300, 77], progress=False, random_state=s, **kw)
                    .fit(banking, embeddings=E)
                    .hierarchy_.item_labels(2),
                )
                for s in (0, 1)
            ]
        )

    weighted, unweighted = level2_ari(), level2_ari(weighted=False)
    flat = np.mean([adjusted_rand_score(y, kmeans(E, 77, random_state=s).labels) for s in (0, 1)])
    assert weighted > 0.33
    assert weighted > flat - 0.04  # the size-weighted hierarchy loses (almost) nothing against flat k-means
    assert weighted > unweighted + 0.02  # and beats the paper's unweighted centroid-of-centroids
    assert normalized_mutual_info_score(y, m.hierarchy_.item_labels(2)) > 0.6
    # titles name what the members are about
    card = m.predict(pd.DataFrame({"text": ["my card has not arrived yet"]}), level=2)[0]
    members = y[m.hierarchy_.item_labels(2) == card]
    assert members.mode()[0] in {"card_arrival", "card_delivery_estimate"}
    title = m.clusters(2)[card].title.lower()
    assert "card" in title or "arriv" in title or "deliver" in title


@pytest.mark.slow
def test_default_embedder_minilm_on_a_sample(banking):
    sample = banking.groupby("category").head(6).reset_index(drop=True)  # 462 texts, 77 classes
    m = Hercules([77, 10], progress=False).fit(
        sample,
    )
    assert m.embedder_id_ == "st:all-MiniLM-L6-v2"
    assert adjusted_rand_score(sample.category, m.labels_) > 0.35
    assert np.all(m.hierarchy_.level(2).sizes > 0)
