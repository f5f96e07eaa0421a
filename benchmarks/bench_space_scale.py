"""Cost of the clustering space at scale: synthetic manifold data (labelled), 10k-1M items, d=384, 2 cores.

Each class is a noisy arc (a curve, not a blob) in 384 dimensions, rows L2-normalised like text embeddings.
Hercules [1000, 100, 10] end to end from vectors (the default map included, no LLM), with space='umap' and
space='none'; fit seconds, peak RSS against the matrix, and ARI of level 2 against the 100 arcs. One process
per run, so peak memory is per run.

    flock /tmp/heavy.lock .venv/bin/python benchmarks/bench_space_scale.py            # the curve
    .venv/bin/python benchmarks/bench_space_scale.py --n 100000 --space umap --json  # one run
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, peak_rss_mb, write  # noqa: E402


def manifold_vectors(n: int, d: int = 384, n_classes: int = 100, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(rows, class): class c is an arc of radius 1.5 around a random centre (|centre| ~ 3), noise ~1 in norm."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, d)).astype(np.float32) * (3 / np.sqrt(d))
    basis = np.linalg.qr(rng.normal(size=(d, 2 * n_classes)))[0].T.astype(np.float32)  # 2 directions per class
    y = rng.integers(0, n_classes, n)
    X = np.empty((n, d), dtype=np.float32)
    for s in range(0, n, 100_000):
        yc = y[s : s + 100_000]
        t = rng.uniform(0, 1.5 * np.pi, len(yc)).astype(np.float32)
        arc = 1.5 * (np.cos(t)[:, None] * basis[2 * yc] + np.sin(t)[:, None] * basis[2 * yc + 1])
        chunk = centres[yc] + arc + rng.normal(scale=0.05, size=(len(yc), d)).astype(np.float32)
        X[s : s + len(yc)] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return X, y


def one(n: int, space: str, levels: list[int]) -> dict:
    from sklearn.metrics import adjusted_rand_score

    from hercules import Hercules

    X, y = manifold_vectors(n)
    base = peak_rss_mb()
    t = time.perf_counter()
    m = Hercules(levels, space=space, progress=False).fit(embeddings=X)
    wall = time.perf_counter() - t
    return {
        "n": n,
        "space": m.space_.method,
        "levels": m.levels_,
        "fit_s": round(wall, 2),
        "timings": {k: round(v, 2) for k, v in m.timings_.items()},
        "ari_level2": round(float(adjusted_rand_score(y, m.hierarchy_.item_labels(2))), 4),
        "matrix_mb": round(X.nbytes / 2**20, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_before_fit_mb": round(base, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int)
    ap.add_argument("--space", default="umap")
    ap.add_argument("--levels", default="1000,100,10")
    ap.add_argument("--sizes", default="10000,30000,100000,300000,1000000")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    levels = [int(x) for x in a.levels.split(",")]
    if a.n:
        print(json.dumps(one(a.n, a.space, [min(levels[0], a.n // 10), *levels[1:]])))
        return
    rows = []
    for n in (int(x) for x in a.sizes.split(",")):
        for space in ("none", "umap"):
            cmd = [sys.executable, __file__, "--n", str(n), "--space", space, "--levels", a.levels]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            rows.append(json.loads(out))
            print(rows[-1], flush=True)
    table = (
        "| N | space | fit s | space s | cluster s | map s | ARI level 2 (100 arcs) | peak RSS MB | matrix MB | peak / matrix |\n"
    )
    table += "|---|---|---|---|---|---|---|---|---|---|\n"
    for r in rows:
        tm = r["timings"]
        table += (
            f"| {r['n']:,} | {r['space']} | {r['fit_s']} | {tm.get('space', 0)} | {tm['cluster']} | {tm.get('project', '')} "
            f"| {r['ari_level2']:.3f} | {r['peak_rss_mb']} | {r['matrix_mb']} | {r['peak_rss_mb'] / r['matrix_mb']:.2f} |\n"
        )
    write("space_scale", {"machine": machine(), "rows": rows}, table)


if __name__ == "__main__":
    main()
