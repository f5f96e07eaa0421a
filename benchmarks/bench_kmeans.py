"""k-means throughput: GFLOP/s of the Lloyd iterations against this machine's float32 matmul peak.

Counts the assignment GEMM only (2*N*k*d FLOP per iteration), as the research notes do.
Compares with sklearn's KMeans (Lloyd, same init, same iterations).

    .venv/bin/python benchmarks/bench_kmeans.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import clustered_vectors, machine, sgemm_gflops, write  # noqa: E402


def main() -> None:
    from sklearn.cluster import KMeans

    from hercules.clustering.kmeans import lloyd

    rows = []
    peak = sgemm_gflops()
    for n, k, iters in [(100_000, 100, 10), (100_000, 1000, 10), (256_000, 1000, 5)]:
        X = clustered_vectors(n)
        d = X.shape[1]
        init = X[np.random.default_rng(0).choice(n, k, replace=False)].copy()
        w = np.ones(n)
        ours = []
        for _ in range(3):
            t = time.perf_counter()
            lloyd(X, w, init.copy(), max_iter=iters, tol=-1.0)
            ours.append(time.perf_counter() - t)
        t_ours = float(np.median(ours))
        t = time.perf_counter()
        KMeans(k, init=init, n_init=1, max_iter=iters, tol=0, algorithm="lloyd").fit(X)
        t_sk = time.perf_counter() - t
        flop = 2 * n * k * d * iters
        rows.append(
            {
                "n": n,
                "k": k,
                "d": d,
                "iters": iters,
                "ours_s": t_ours,
                "ours_gflops": flop / t_ours / 1e9,
                "sklearn_s": t_sk,
                "sklearn_gflops": flop / t_sk / 1e9,
            }
        )
        print(rows[-1], flush=True)
    peak_after = sgemm_gflops()
    table = f"sgemm peak (8192x384 @ 384x1000, float32): {peak:.0f} GFLOP/s before, {peak_after:.0f} after\n\n"
    table += "| N | k | d | iters | hercules s | hercules GFLOP/s | % of peak | sklearn s | sklearn GFLOP/s |\n|---|---|---|---|---|---|---|---|---|\n"
    for r in rows:
        table += (
            f"| {r['n']:,} | {r['k']} | {r['d']} | {r['iters']} | {r['ours_s']:.2f} | {r['ours_gflops']:.0f} | "
            f"{100 * r['ours_gflops'] / max(peak, peak_after):.0f}% | {r['sklearn_s']:.2f} | {r['sklearn_gflops']:.0f} |\n"
        )
    write("kmeans_throughput", {"machine": machine(), "sgemm_peak": [peak, peak_after], "rows": rows}, table)


if __name__ == "__main__":
    main()
