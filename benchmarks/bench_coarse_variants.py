"""Variants of grouping the coarse levels by neighbour-graph connectivity, one measurement each, against the
default (k-means of the nodes in the UMAP space).

One default fit per set and seed (cached under the temp folder: its UMAP fuzzy graph, fit rows, level labels,
level-1 space centroids, the items in the space); each variant then re-groups levels f..L from the default's
level f-1 nodes (f = 2: from level 2 up; f = 3: level 3 only), so every variant sees the same space and the
same lower levels. Variants:

- ``paga``: PAGA's connectivity (inter-node edges over their expectation given node sizes and edge totals,
  capped at 1; scanpy's v1.2), spectral grouping (normalised Laplacian embedding, size-weighted k-means);
- ``ncut``: the raw summed edge weights, spectral grouping: a relaxed normalised cut keeping nodes whole
  (what ``coarse="connectivity"`` runs);
- ``blend``: 0.5 PAGA + 0.5 a self-tuning Gaussian affinity of the nodes' space centroids, spectral;
- ``paga-avg``: average linkage on 1 - PAGA connectivity;
- ``greedy``: merge the pair with the highest PAGA connectivity, recomputed from the merged edge counts;
- suffix ``/space-knn``: the graph is a 15-NN graph of the items in the 5-d space instead of UMAP's fuzzy graph.

    flock /tmp/heavy.lock .venv/bin/python benchmarks/bench_coarse_variants.py --seeds 3
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, write  # noqa: E402
from vectors import load_set  # noqa: E402

from hercules.clustering.connectivity import node_edges, spectral_groups  # noqa: E402

os.environ.setdefault("HERCULES_LAYOUT", "pca")
CASES = {
    "hwu64_scenarios": ("hwu64", [256, 64, 18], {"intent": 2, "scenario": 3}),
    "digits": ("digits", [60, 25, 10], {"digit": 3}),
    "banking77_test": ("banking77_test", [300, 150, 77], {"intent": 3}),
    "hwu64_intents": ("hwu64", [256, 128, 64], {"intent": 3}),
    "digits_2": ("digits", [40, 10], {"digit": 2}),
    "banking77_test_2": ("banking77_test", [308, 77], {"intent": 2}),
    "fmnist_effnet": ("fmnist_effnet", [100, 30, 10], {"class": 3}),
    "fmnist_pixels": ("fmnist_pixels", [100, 30, 10], {"class": 3}),
}
CACHE = Path(tempfile.gettempdir()) / "hercules_coarse_variants"


def default_fit(case: str, seed: int) -> dict:
    path = CACHE / f"{case}_{seed}.npz"
    if path.exists():
        return dict(np.load(path))
    from hercules import Hercules
    from hercules.space.manifold import ManifoldSpace

    fit_transform = ManifoldSpace.fit_transform

    def keep(self, X, random_state=0):  # the items in the space (for the space-kNN graph) and UMAP's graph (the fit
        self.items_ = fit_transform(self, X, random_state)  # frees graph_ unless coarse="connectivity" reads it)
        self.kept_graph_ = self.graph_
        return self.items_

    name, levels, _ = CASES[case]
    X, _ = load_set(name)
    ManifoldSpace.fit_transform = keep
    try:
        t0 = time.perf_counter()
        m = Hercules(levels, space="auto", progress=False, random_state=seed).fit(embeddings=X)
        secs = time.perf_counter() - t0
    finally:
        ManifoldSpace.fit_transform = fit_transform
    G = m.space_.kept_graph_.tocoo()
    out = {"fit_idx": m.space_.fit_idx_, "gr": G.row, "gc": G.col, "gv": G.data, "Z": m.space_.items_, "secs": secs}
    out["SC1"] = m.hierarchy_.levels[0].space_centroids
    for t in range(1, len(levels) + 1):
        out[f"L{t}"] = m.hierarchy_.item_labels(t)
    CACHE.mkdir(exist_ok=True)
    np.savez(path, **out)
    return out


def item_graph(d: dict, space_knn: bool) -> sp.csr_matrix:
    fit_idx = d["fit_idx"]
    n = len(fit_idx)
    if not space_knn:
        return sp.csr_matrix((d["gv"], (d["gr"], d["gc"])), shape=(n, n))
    from hercules.space.knn import exact_knn

    idx, _ = exact_knn(d["Z"][fit_idx], 16)
    A = sp.csr_matrix((np.ones(n * 15), (np.repeat(np.arange(n), 15), idx[:, 1:].ravel())), shape=(n, n))
    return A.maximum(A.T).tocsr()


def paga(W: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    es = W.sum(axis=1)
    expected = (es[:, None] * sizes[None, :] + es[None, :] * sizes[:, None]) / (sizes.sum() - 1)
    C = np.minimum(np.divide(W, expected, out=np.zeros_like(W), where=expected > 0), 1.0)
    np.fill_diagonal(C, 0.0)
    return C


def centroid_affinity(Zc: np.ndarray, neighbor: int = 7) -> np.ndarray:
    D2 = ((Zc[:, None] - Zc[None]) ** 2).sum(-1)
    s = np.sqrt(np.sort(D2, axis=1)[:, min(neighbor, len(Zc) - 1)])
    return np.exp(-D2 / np.maximum(s[:, None] * s[None, :], 1e-12))


def greedy_paga(W: np.ndarray, sizes: np.ndarray, k: int) -> np.ndarray:
    W, n = W.copy(), sizes.astype(np.float64).copy()
    m, N = len(n), n.sum()
    owner, alive = np.arange(m), np.ones(m, dtype=bool)

    def row(i: int) -> np.ndarray:
        es = W.sum(axis=1)
        expected = (es[i] * n + es * n[i]) / (N - 1)
        c = np.divide(W[i], expected, out=np.zeros(m), where=expected > 0)
        c[~alive] = -1.0
        c[i] = -1.0
        return c

    C = np.stack([row(i) for i in range(m)])
    for _ in range(m - k):
        i, j = sorted(np.unravel_index(np.argmax(C), C.shape))
        W[i] += W[j]
        W[:, i] += W[:, j]
        W[j], W[:, j] = 0.0, 0.0
        n[i], n[j], alive[j] = n[i] + n[j], 0.0, False
        owner[owner == j] = i
        C[j], C[:, j] = -1.0, -1.0
        C[i] = C[:, i] = row(i)
    return np.unique(owner, return_inverse=True)[1]


def group(method: str, W: np.ndarray, sizes: np.ndarray, Zc: np.ndarray, k: int, seed: int) -> np.ndarray:
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    if method == "ncut":
        W = W.copy()
        np.fill_diagonal(W, 0.0)
        return spectral_groups(W, k, sizes, random_state=seed)
    if method == "paga":
        return spectral_groups(paga(W, sizes), k, sizes, random_state=seed)
    if method == "blend":
        return spectral_groups(0.5 * paga(W, sizes) + 0.5 * centroid_affinity(Zc), k, sizes, random_state=seed)
    if method == "paga-avg":
        D = 1.0 - paga(W, sizes)
        np.fill_diagonal(D, 0.0)
        return fcluster(linkage(squareform(D, checks=False), "average"), k, "maxclust") - 1
    if method == "greedy":
        return greedy_paga(W, sizes, k)
    raise KeyError(method)


def regroup(d: dict, levels: list[int], method: str, first: int, space_knn: bool, seed: int) -> dict[int, np.ndarray]:
    """Item labels per level after re-grouping levels ``first``..L by ``method``."""
    labs = {t: d[f"L{t}"] for t in range(1, len(levels) + 1)}
    graph, fit_idx = item_graph(d, space_knn), d["fit_idx"]
    n1 = np.bincount(labs[1]).astype(np.float64)
    for t in range(first, len(levels) + 1):
        below = labs[t - 1]
        m = int(below.max()) + 1
        W = node_edges(graph, below[fit_idx], m)
        sizes = np.bincount(below, minlength=m).astype(np.float64)
        l1_node = np.zeros(len(n1), dtype=np.int64)
        l1_node[labs[1]] = below
        Zc = np.zeros((m, d["SC1"].shape[1]))
        np.add.at(Zc, l1_node, d["SC1"] * n1[:, None])
        Zc /= np.bincount(l1_node, weights=n1, minlength=m)[:, None]
        labs[t] = group(method, W, sizes, Zc, levels[t - 1], seed)[below]
    return labs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--variants", default="paga,ncut,blend,paga-avg,greedy,paga/space-knn,ncut/space-knn,blend/space-knn")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--name", default="coarse_variants")
    a = ap.parse_args()
    rows = []
    table = "| set | levels | truth (level) | method | from level | ARI | NMI | s (re-grouping) |\n|---|---|---|---|---|---|---|---|\n"
    for case in a.cases.split(","):
        name, levels, scored = CASES[case]
        _, truths = load_set(name)
        runs: dict[tuple, list] = {}
        for seed in range(a.seeds):
            d = default_fit(case, seed)
            for col, t in scored.items():
                lab = d[f"L{t}"]
                runs.setdefault((col, "default (k-means in the space)", "-"), []).append(
                    (adjusted_rand_score(truths[col], lab), normalized_mutual_info_score(truths[col], lab), float(d["secs"]))
                )
            for variant in a.variants.split(","):
                method, _, graph = variant.partition("/")
                for first in range(2, len(levels) + 1):
                    t0 = time.perf_counter()
                    labs = regroup(d, levels, method, first, graph == "space-knn", seed)
                    secs = time.perf_counter() - t0
                    for col, t in scored.items():
                        sc = (adjusted_rand_score(truths[col], labs[t]), normalized_mutual_info_score(truths[col], labs[t]), secs)
                        runs.setdefault((col, variant, first), []).append(sc)
        for (col, method, first), sc in runs.items():
            s = np.array(sc)
            rows.append({"case": case, "truth": col, "level": scored[col], "method": method, "from": first, "runs": sc})
            table += (
                f"| {name} | {levels} | {col} (L{scored[col]}) | {method} | {first} | {s[:, 0].mean():.3f} ± {s[:, 0].std():.3f} "
                f"| {s[:, 1].mean():.3f} | {s[:, 2].mean():.2f} |\n"
            )
        print(table, flush=True)
    write(a.name, {"machine": machine(), "seeds": a.seeds, "rows": rows}, table)


if __name__ == "__main__":
    main()
