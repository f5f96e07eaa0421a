"""Coarse levels: k-means in the UMAP space (default) against the opt-in alternatives at level 3, on every set
with truth there: Ward of the nodes' level-0 means (``coarse="ward"``) and spectral grouping by UMAP graph
connectivity (``coarse="connectivity"``), ``pipeline/coarse.py``. Each mode is a whole fit.

Cases: HWU64 [256, 64, 18] (scenarios at level 3; intents at level 2, the same in every mode), digits
[60, 25, 10], Banking77 test [300, 150, 77], HWU64 [256, 128, 64] (intents), Fashion-MNIST test images
[100, 30, 10] as EfficientNet-Lite0 vectors and as pixels; from the cached vectors (``benchmarks/vectors.py``).

    flock /tmp/heavy.lock .venv/bin/python benchmarks/bench_coarse.py --seeds 3
    .venv/bin/python benchmarks/bench_coarse.py --cases digits --modes connectivity --name coarse_digits
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, write  # noqa: E402
from vectors import load_set  # noqa: E402

os.environ.setdefault("HERCULES_LAYOUT", "pca")  # the map is not what is measured here
CASES = {
    "hwu64_scenarios": ("hwu64", [256, 64, 18], {"intent": 2, "scenario": 3}),
    "digits": ("digits", [60, 25, 10], {"digit": 3}),
    "banking77_test": ("banking77_test", [300, 150, 77], {"intent": 3}),
    "hwu64_intents": ("hwu64", [256, 128, 64], {"intent": 3}),
    "fmnist_effnet": ("fmnist_effnet", [100, 30, 10], {"class": 3}),
    "fmnist_pixels": ("fmnist_pixels", [100, 30, 10], {"class": 3}),
}
MODES = {
    "space": "k-means in the UMAP space (default)",
    "connectivity": "UMAP graph connectivity, spectral",
    "ward": "Ward of level-0 means",
    "auto": "the higher UMAP-graph modularity of space / connectivity, from level 2 (default)",
    "auto:2": "the same from level 2",
    "auto:3": "the same from level 3 (the default before issue 15)",
    "graph": "auto from level 2, Hartigan-polished k-means candidates judged by modularity",
}


def run_case(case: str, mode: str, seeds: int) -> list[dict]:
    from hercules import Hercules

    name, levels, scored = CASES[case]
    X, truths = load_set(name)
    scores: dict[str, list] = {col: [] for col in scored}
    times = []
    for seed in range(seeds):
        t0 = time.perf_counter()
        m = Hercules(levels, random_state=seed, progress=False, space="auto", coarse=mode).fit(embeddings=X)
        times.append(time.perf_counter() - t0)
        for col, t in scored.items():
            lab = m.hierarchy_.item_labels(t)
            scores[col].append((adjusted_rand_score(truths[col], lab), normalized_mutual_info_score(truths[col], lab)))
    rows = []
    for col, sc in scores.items():
        a = np.array(sc)
        rows.append(
            {
                "case": case,
                "set": name,
                "levels": levels,
                "truth": col,
                "level": scored[col],
                "mode": mode,
                "ari": a[:, 0].tolist(),
                "nmi": a[:, 1].tolist(),
                "seconds": float(np.mean(times)),
            }  # fmt: skip
        )
    return rows


def markdown(rows: list[dict]) -> str:
    out = "| set | levels | truth (level) | coarse levels by | ARI | NMI | s / fit |\n|---|---|---|---|---|---|---|\n"
    for r in rows:
        a, n = np.array(r["ari"]), np.array(r["nmi"])
        out += (
            f"| {r['set']} | {r['levels']} | {r['truth']} (L{r['level']}) | {MODES[r['mode']]} | {a.mean():.3f} ± {a.std():.3f} "
            f"| {n.mean():.3f} ± {n.std():.3f} | {r['seconds']:.1f} |\n"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--modes", default="space,connectivity")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--name", default="coarse_level3")
    a = ap.parse_args()
    rows = []
    for case in a.cases.split(","):
        for mode in a.modes.split(","):
            rows += run_case(case, mode, a.seeds)
            print(markdown(rows[-len(CASES[case][2]) :]).splitlines()[-1], flush=True)
    write(a.name, {"machine": machine(), "seeds": a.seeds, "rows": rows}, markdown(rows))


if __name__ == "__main__":
    main()
