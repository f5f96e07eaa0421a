"""The paper's Table 1 on real data: LSA/embeddings x k-means/agglomerative vs hercules (direct, description).

Every method clusters into k = number of classes; hercules is scored at its level with that k
(levels [4k, k, k/5], as the paper's [100, 20, 5] for 20 classes). Same embedder for all
embedding methods; embedding time is reported once, not per method. Mean and std over seeds.

    .venv/bin/python benchmarks/bench_table1.py --data examples/data/banking77_test.csv --label-column category
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, write  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="examples/data/banking77_test.csv")
    ap.add_argument("--text-column", default="text")
    ap.add_argument("--label-column", default="category")
    ap.add_argument("--embedder", default="minilm")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--name", default=None)
    a = ap.parse_args()

    from sklearn.cluster import AgglomerativeClustering, KMeans
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    from hercules import Hercules
    from hercules.embeddings import EmbeddingCache, get_embedder
    from hercules.evaluation import external_metrics

    df = pd.read_csv(a.data)
    texts, y = df[a.text_column].astype(str).tolist(), df[a.label_column].to_numpy()
    k = len(np.unique(y))
    t = time.perf_counter()
    emb = get_embedder(a.embedder, cache=EmbeddingCache(), progress=False)
    E = emb.embed(texts)
    embed_s = time.perf_counter() - t
    levels = [min(4 * k, len(texts) // 4), k, max(2, k // 5)]

    def lsa(seed):
        X = TfidfVectorizer(stop_words="english", sublinear_tf=True, min_df=2).fit_transform(texts)
        return normalize(TruncatedSVD(100, random_state=seed).fit_transform(X))

    methods = {
        "LSA + k-means": lambda s: KMeans(k, random_state=s).fit_predict(lsa(s)),
        "LSA + agglomerative (ward)": lambda s: AgglomerativeClustering(k).fit_predict(lsa(s)),
        f"{emb.model_id} + k-means (sklearn)": lambda s: KMeans(k, random_state=s).fit_predict(E),
        f"{emb.model_id} + agglomerative (ward)": lambda s: AgglomerativeClustering(k).fit_predict(E),
        f"hercules direct {levels}, level 2": lambda s: (
            Hercules(levels, progress=False, random_state=s).fit(df, embeddings=E).hierarchy_.item_labels(2)
        ),
        "hercules direct, unweighted (paper), level 2": lambda s: (
            Hercules(levels, weighted=False, progress=False, random_state=s).fit(df, embeddings=E).hierarchy_.item_labels(2)
        ),
        f"hercules description {levels}, level 2": lambda s: (
            Hercules(
                levels, representation="description", embedder=emb, text_column=a.text_column, progress=False, random_state=s
            )
            .fit(df)
            .hierarchy_.item_labels(2)
        ),
    }
    rows = []
    for name, fn in methods.items():
        scores, times = [], []
        for s in range(a.seeds):
            t = time.perf_counter()
            pred = fn(s)
            times.append(time.perf_counter() - t)
            scores.append(external_metrics(y, pred))
        agg = {
            m: (float(np.mean([sc[m] for sc in scores])), float(np.std([sc[m] for sc in scores])))
            for m in ("ari", "nmi", "accuracy")
        }
        rows.append(
            {
                "method": name,
                **{f"{m}_mean": v[0] for m, v in agg.items()},
                **{f"{m}_std": v[1] for m, v in agg.items()},
                "time_s": float(np.median(times)),
            }
        )
        print(rows[-1], flush=True)
    table = (
        f"{Path(a.data).name}: {len(texts):,} items, {k} classes, embedder {emb.model_id} "
        f"(embedding {embed_s:.1f} s, cached runs ~0), {a.seeds} seeds\n\n"
        "| method | ARI | NMI | accuracy | time s (median) |\n|---|---|---|---|---|\n"
    )
    for r in rows:
        table += (
            f"| {r['method']} | {r['ari_mean']:.3f} ± {r['ari_std']:.3f} | {r['nmi_mean']:.3f} ± {r['nmi_std']:.3f} | "
            f"{r['accuracy_mean']:.3f} ± {r['accuracy_std']:.3f} | {r['time_s']:.2f} |\n"
        )
    write(
        a.name or f"table1_{Path(a.data).stem}", {"machine": machine(), "levels": levels, "embed_s": embed_s, "rows": rows}, table
    )


if __name__ == "__main__":
    main()
