"""Quality per level against ground truth: hercules (with and without its clustering space) vs flat k-means,
Ward, BERTopic and EVoC, on the same MiniLM vectors (``benchmarks/vectors.py`` computes and caches them).

Every method clusters into k = the number of true classes at each level with truth; hercules is scored at its
level with that k (levels [4k, k] or HWU64's [256, 64, 18]). BERTopic 0.17 with its default UMAP (5-d, 15
neighbours, min_dist 0, cosine) seeded: default (HDBSCAN), the same with outliers reassigned to their nearest
topic by embedding, and UMAP + k-means(k). Mean ± sd over seeds, seconds per fit (from vectors).
Also: the k that ``levels="auto"`` chooses in the clustering space, per level, against the true counts.

    flock /tmp/heavy.lock .venv/bin/python benchmarks/bench_quality.py               # all sets, 5 seeds
    .venv/bin/python benchmarks/bench_quality.py --combine quality_digits,quality_hwu64 --name quality  # one table
    .venv/bin/python benchmarks/bench_quality.py --sets digits --seeds 2             # a quick look
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, write  # noqa: E402
from vectors import load_set  # noqa: E402

os.environ.setdefault("HERCULES_LAYOUT", "pca")  # the map is not what is measured here
warnings.filterwarnings("ignore")

#: Hercules levels per set, and which level is scored against which truth.
LEVELS = {
    "banking77_test": ([308, 77], {"intent": 2}),
    "banking77_train": ([308, 77], {"intent": 2}),
    "hwu64": ([256, 64, 18], {"intent": 2, "scenario": 3}),
    "digits": ([40, 10], {"digit": 2}),
    "fmnist_effnet": ([40, 10], {"class": 2}),
    "fmnist_pixels": ([40, 10], {"class": 2}),
}


def _texts(name: str, n: int) -> list[str]:
    if name == "digits" or name.startswith("fmnist"):
        return [f"item {i}" for i in range(n)]  # BERTopic needs documents; the clustering only sees the vectors
    from vectors import _texts as texts

    return texts(name)[0]


#: The estimator's ``coarse`` for every hercules row (``--coarse``; default the estimator's, "auto").
COARSE = {"value": "auto"}


def hercules_fn(levels, space):
    from hercules import Hercules

    def run(X, docs, seed):
        m = Hercules(levels, space=space, coarse=COARSE["value"], progress=False, random_state=seed).fit(embeddings=X)
        return {t: m.hierarchy_.item_labels(lv) for t, lv in LEVELS_SCORED.items()}

    return run


def bertopic_fn(kind: str, ks: dict[str, int]):
    def run(X, docs, seed):
        from bertopic import BERTopic
        from sklearn.cluster import KMeans
        from umap import UMAP

        if kind == "reduced":  # the default run's model, outliers reassigned (its time: fit + reassignment)
            return {t: _REDUCED[seed] for t in ks}
        out = {}
        targets = ks if kind == "kmeans" else {"all": None}
        for t, k in targets.items():
            umap_model = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed)
            kw = {"hdbscan_model": KMeans(k, random_state=seed, n_init="auto")} if kind == "kmeans" else {}
            model = BERTopic(umap_model=umap_model, calculate_probabilities=False, **kw)
            topics, _ = model.fit_transform(docs, X)
            out[t] = np.asarray(topics)
            if kind == "default":
                t0 = time.perf_counter()
                try:
                    _REDUCED[seed] = np.asarray(model.reduce_outliers(docs, topics, strategy="embeddings", embeddings=X))
                except ValueError:  # "No outliers to reduce."
                    _REDUCED[seed] = np.asarray(topics)
                _REDUCE_S[seed] = time.perf_counter() - t0
        return out if kind == "kmeans" else {t: out["all"] for t in ks}

    return run


def flat_fn(ks: dict[str, int], ward: bool = False):
    def run(X, docs, seed):
        from sklearn.cluster import AgglomerativeClustering, KMeans

        if ward:
            return {t: AgglomerativeClustering(k).fit_predict(X) for t, k in ks.items()}
        return {t: KMeans(k, random_state=seed, n_init="auto").fit_predict(X) for t, k in ks.items()}

    return run


def evoc_fn(ks: dict[str, int]):
    """EVoC 0.3 (Toponymy's clusterer) asked for about k clusters (``approx_n_clusters``); noise (-1) scored as
    one more cluster, as BERTopic's outliers are."""

    def run(X, docs, seed):
        from evoc import EVoC

        return {t: np.asarray(EVoC(approx_n_clusters=k, random_state=seed).fit_predict(X)) for t, k in ks.items()}

    return run


LEVELS_SCORED: dict[str, int] = {}
_REDUCED: dict[int, np.ndarray] = {}
_REDUCE_S: dict[int, float] = {}


def auto_k(X: np.ndarray, seeds: int) -> list[list[int]]:
    from hercules import Hercules

    return [Hercules("auto", space="auto", progress=False, random_state=s).fit(embeddings=X).levels_ for s in range(seeds)]


def bench_set(name: str, seeds: int, methods: list[str]) -> dict:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    X, truths = load_set(name)
    levels, scored = LEVELS[name]
    LEVELS_SCORED.clear()
    LEVELS_SCORED.update(scored)
    ks = {t: len(np.unique(y)) for t, y in truths.items()}
    docs = _texts(name, len(X))
    table = {
        "hercules (space=auto)": hercules_fn(levels, "auto"),
        "hercules (space=umap-cosine)": hercules_fn(levels, "umap-cosine"),
        "hercules (space=none)": hercules_fn(levels, "none"),
        "flat k-means (sklearn)": flat_fn(ks),
        "Ward": flat_fn(ks, ward=True),
        "BERTopic default (UMAP + HDBSCAN)": bertopic_fn("default", ks),
        "BERTopic, outliers reduced": bertopic_fn("reduced", ks),
        "BERTopic UMAP + k-means(k)": bertopic_fn("kmeans", ks),
        "EVoC (approx_n_clusters=k)": evoc_fn(ks),
    }
    rows, default_times = [], []
    for method, fn in table.items():
        if methods and not any(m in method for m in methods):
            continue
        runs = 1 if method == "Ward" else seeds  # deterministic
        scores: dict[str, list] = {t: [] for t in truths}
        times, n_topics = [], {t: [] for t in truths}
        for s in range(runs):
            t0 = time.perf_counter()
            preds = fn(X, docs, s)
            times.append(time.perf_counter() - t0)
            if "reduced" in method:
                times[-1] = default_times[s] + _REDUCE_S[s]
            for t, p in preds.items():
                scores[t].append((adjusted_rand_score(truths[t], p), normalized_mutual_info_score(truths[t], p)))
                n_topics[t].append(len(np.unique(p)))
        if "default" in method:
            default_times = list(times)
        for t, sc in scores.items():
            a = np.array(sc)
            rows.append(
                {
                    "set": name,
                    "truth": f"{t} ({ks[t]})",
                    "method": method,
                    "ari": round(float(a[:, 0].mean()), 4),
                    "ari_sd": round(float(a[:, 0].std()), 4),
                    "nmi": round(float(a[:, 1].mean()), 4),
                    "nmi_sd": round(float(a[:, 1].std()), 4),
                    "seconds": round(float(np.mean(times)), 2),
                    "clusters": int(np.median(n_topics[t])),
                    "runs": runs,
                }
            )
            r = rows[-1]
            print(
                f"{name} {r['truth']} {method}: ARI {r['ari']:.3f}±{r['ari_sd']:.3f} NMI {r['nmi']:.3f} {r['seconds']}s",
                flush=True,
            )
    return {"rows": rows, "n": len(X), "levels": levels, "true_k": ks}


def markdown(results: dict, autok: dict) -> str:
    lines = ["| set | truth (k) | method | ARI | NMI | clusters | s / fit |", "|---|---|---|---|---|---|---|"]
    for res in results.values():
        best = {}
        for r in res["rows"]:
            best[r["truth"]] = max(best.get(r["truth"], 0), r["ari"])
        for r in res["rows"]:
            ari = f"{r['ari']:.3f} ± {r['ari_sd']:.3f}"
            ari = f"**{ari}**" if r["ari"] == best[r["truth"]] else ari
            lines.append(
                f"| {r['set']} ({res['n']:,}) | {r['truth']} | {r['method']} | {ari} | {r['nmi']:.3f} ± {r['nmi_sd']:.3f} "
                f"| {r['clusters']} | {r['seconds']} |"
            )
    if autok:
        lines += ["", "Auto-k (levels='auto', space='auto'), levels bottom-up per seed, against the true counts:", ""]
        lines += [f"- {name} (true: {results[name]['true_k'] if name in results else ''}): {ks}" for name, ks in autok.items()]
    return "\n".join(lines) + "\n"


def combine(name: str, parts: list[str]) -> None:
    """One table from several runs (one lock hold per set), in the order given: a later run's row replaces an earlier
    one of the same set, truth and method (e.g. the hercules rows re-run after a change), new rows are added."""
    import json

    from common import OUT

    results: dict = {}
    autok: dict = {}
    seeds = {}
    for part in parts:
        d = json.loads((OUT / f"{part}.json").read_text())
        seeds[part] = d["seeds"]
        autok.update(d.get("auto_k", {}))
        for set_name, res in d["results"].items():
            if set_name not in results:
                results[set_name] = res
                continue
            rows = results[set_name]["rows"]
            where = {(r["truth"], r["method"]): i for i, r in enumerate(rows)}
            for r in res["rows"]:
                if (r["truth"], r["method"]) in where:
                    rows[where[(r["truth"], r["method"])]] = r
                else:
                    rows.append(r)
    payload = {"machine": machine(), "seeds": seeds, "parts": parts, "results": results, "auto_k": autok}
    write(name, payload, markdown(results, autok))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="banking77_test,hwu64,digits,fmnist_effnet,fmnist_pixels,banking77_train")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--methods", default="", help="comma-separated substrings of method names (default: all)")
    ap.add_argument("--auto-k-seeds", type=int, default=3)
    ap.add_argument("--name", default="quality")
    ap.add_argument("--coarse", default="auto", help="the estimator's coarse: auto, space, ward or connectivity (':N')")
    ap.add_argument("--combine", default="", help="comma-separated run names in out/: write --name from their results")
    a = ap.parse_args()
    if a.combine:
        return combine(a.name, a.combine.split(","))
    COARSE["value"] = a.coarse
    methods = [m for m in a.methods.split(",") if m]
    results, autok = {}, {}
    for name in a.sets.split(","):
        results[name] = bench_set(name, a.seeds, methods)
        if a.auto_k_seeds and name != "banking77_train":
            autok[name] = auto_k(load_set(name)[0], a.auto_k_seeds)
            print(name, "auto-k levels:", autok[name], flush=True)
    write(a.name, {"machine": machine(), "seeds": a.seeds, "results": results, "auto_k": autok}, markdown(results, autok))


if __name__ == "__main__":
    main()
