"""Shared helpers: machine report, peak memory, synthetic clustered vectors, result writing."""

from __future__ import annotations

import json
import os
import platform
import resource
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).parent / "out"


def machine() -> dict:
    from threadpoolctl import threadpool_info

    blas = [{k: p.get(k) for k in ("internal_api", "version", "num_threads", "architecture")} for p in threadpool_info()]
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas,
        "load_avg": os.getloadavg(),
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sgemm_gflops(repeats: int = 10) -> float:
    rng = np.random.default_rng(0)
    A = rng.normal(size=(8192, 384)).astype(np.float32)
    B = rng.normal(size=(384, 1000)).astype(np.float32)
    A @ B
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        A @ B
        best = min(best, time.perf_counter() - t)
    return 2 * 8192 * 384 * 1000 / best / 1e9


def clustered_vectors(n: int, d: int = 384, n_centers: int = 2000, seed: int = 0) -> np.ndarray:
    """Gaussian blobs (noise as large as the centres), L2-normalised float32, built in chunks."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_centers, d)).astype(np.float32)
    X = np.empty((n, d), dtype=np.float32)
    for s in range(0, n, 100_000):
        m = min(100_000, n - s)
        chunk = centers[rng.integers(0, n_centers, m)] + rng.normal(size=(m, d)).astype(np.float32)
        X[s : s + m] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return X


def write(name: str, payload: dict, table: str) -> None:
    OUT.mkdir(exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(payload, indent=1, default=str))
    (OUT / f"{name}.md").write_text(table)
    print(table)
