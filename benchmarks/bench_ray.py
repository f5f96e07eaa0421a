"""In-process vs the Ray engine on a local Ray, on this machine: wall time, overhead ratio, driver peak memory.

Two workloads, each engine in its own process (so peak RSS is per run):
* vectors: N synthetic clustered vectors (d=384) to a [1000, 100, 10] hierarchy, no embedding, no LLM
  (the workload of bench_scale.py); the Ray run does the level-1 assignment and sums as Ray tasks;
* texts: M synthetic texts in a Parquet file, read (``fit(path)``: ``ray.data.read_parquet`` on the
  cluster), embedded by the hashing embedder (no cache) to [100, 10]; the Ray run embeds them on a
  Ray Data actor pool and places them in the clustering space block by block.
The Ray runs start a local Ray first (its start-up is timed apart) with 2 CPUs and a 3 GB object store.
``--space``: the clustering space of both runs (default "auto": UMAP when umap-learn is installed).

    .venv/bin/python benchmarks/bench_ray.py                 # 1M vectors, 200k texts
    .venv/bin/python benchmarks/bench_ray.py --n 100000 --texts 20000 --space none
    # the two runs apart (e.g. in two lock holds), then the report:
    .venv/bin/python benchmarks/bench_ray.py --one texts ray 1000000 DIR/ray.npy auto > DIR/ray.json
    .venv/bin/python benchmarks/bench_ray.py --one texts local 1000000 DIR/local.npy auto > DIR/local.json
    .venv/bin/python benchmarks/bench_ray.py --pair-from DIR

Each run then saves its result (without embeddings.npy), timed: with Ray, level 1 over blocks, the membership is
Parquet parts written by Ray tasks during the fit (its seconds: "membership parts s", inside fit s) and copied by
the save (schema 2); in-process, the labels go into arrays.npz (schema 1). Texts embedded on the cluster are not
gathered on the driver: Ray tasks write them into a file the driver maps read-only ("vectors on driver": memory map).
The texts file is written by another process, so its list never counts in a run's driver peak.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from common import clustered_vectors, machine, peak_rss_mb, write  # noqa: E402


def _texts(m: int) -> list[str]:
    rng = np.random.default_rng(0)
    vocab = np.array([f"w{i}" for i in range(5000)])
    topics = rng.integers(0, 5000, size=(200, 40))
    pick = rng.integers(0, 200, m)
    return [" ".join(vocab[topics[t][rng.integers(0, 40, 10)]]) for t in pick]


def one(workload: str, engine: str, n: int, labels_out: str, space: str) -> dict:
    from hercules import Hercules

    ray_start = 0.0
    if engine == "ray":
        import ray

        t = time.perf_counter()
        from hercules.engines.ray_engine import worker_env

        ray.init(num_cpus=2, object_store_memory=3_000_000_000, include_dashboard=False, runtime_env=worker_env())
        ray_start = time.perf_counter() - t
    if workload == "vectors":
        data, kw, levels = None, {"embeddings": clustered_vectors(n)}, [1000, 100, 10]
        extra = {}
    else:
        data, kw, levels = Path(labels_out).with_suffix(".parquet"), {}, [100, 10]
        if not data.exists():  # written by another process: the texts list never counts in this driver's peak
            subprocess.run([sys.executable, __file__, "--write-texts", str(n), str(data)], check=True)
        extra = {"embedder": "hashing:384", "cache": False}
    base = peak_rss_mb()
    t = time.perf_counter()
    m = Hercules(levels, engine=engine, layout="pca", space=space, progress=False, **extra).fit(data, **kw)
    wall = time.perf_counter() - t
    np.save(labels_out, m.hierarchy_.item_labels(1))
    level1, placed, members = {}, {}, {}
    if engine == "ray":
        from hercules.engines import ray_kmeans, ray_membership, ray_space

        level1 = {k: round(v, 2) for k, v in ray_kmeans.last_timings.items()}
        placed = {k: round(v, 2) for k, v in ray_space.last_timings.items()}
        members = {k: round(v, 2) for k, v in ray_membership.last_timings.items()} if m.membership_parts_ else {}
    peak_fit = peak_rss_mb()
    status = Path("/proc/self/status").read_text().splitlines() if Path("/proc/self/status").exists() else []
    rss_now = {
        ln.split(":")[0]: round(int(ln.split()[1]) / 1024, 1)
        for ln in status
        if ln.startswith(("RssAnon", "RssFile", "RssShmem"))
    }
    with tempfile.TemporaryDirectory() as res:  # the saved result, without embeddings.npy
        t = time.perf_counter()
        m.save(Path(res) / "r", embeddings=None)
        save_s = time.perf_counter() - t
        saved = json.loads((Path(res) / "r" / "hercules.json").read_text())["schema_version"]
    return {
        "workload": workload,
        "engine": engine,
        "n": n,
        "space": m.space_.method,
        "levels": m.levels_,
        "fit_s": round(wall, 2),
        "ray_start_s": round(ray_start, 2),
        "timings": {k: round(v, 2) for k, v in m.timings_.items()},
        "driver_peak_rss_mb": round(peak_fit, 1),
        "vectors_on_driver": "memory map" if isinstance(m._state().embeddings, np.memmap) else "in memory",
        "rss_before_fit_mb": round(base, 1),
        "rss_after_fit_mb": rss_now,  # anonymous / file-backed (the mapped vectors) / shared (Ray's object store) pages
        "ray_level1_s": level1,
        "ray_space_s": placed,
        "ray_membership_s": members,
        "save_s": round(save_s, 2),
        "saved_schema": saved,
        "driver_peak_rss_after_save_mb": round(peak_rss_mb(), 1),
    }


def run_pair(workload: str, n: int, space: str) -> list[dict]:
    rows, labels = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for engine in ("local", "ray"):
            out = f"{tmp}/{engine}.npy"
            cmd = [sys.executable, __file__, "--one", workload, engine, str(n), out, space]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                raise RuntimeError(res.stderr[-3000:])
            rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
            labels.append(np.load(out))
            print(rows[-1], flush=True)
    return _compare(rows, labels)


def _compare(rows: list[dict], labels: list[np.ndarray]) -> list[dict]:
    """ARI and equal labels against the in-process run (rows: local, ray), and the overhead ratio."""
    from sklearn.metrics import adjusted_rand_score

    ari = adjusted_rand_score(labels[0], labels[1])
    for r in rows:
        r["level1_ari_vs_local"] = round(float(ari), 5)
        r["level1_equal_fraction"] = round(float((labels[0] == labels[1]).mean()), 5)
    rows[1]["overhead_ratio"] = round(rows[1]["fit_s"] / rows[0]["fit_s"], 2)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000, help="vectors (0: skip)")
    ap.add_argument("--texts", type=int, default=200_000, help="texts to embed (0: skip)")
    ap.add_argument("--space", default="auto", choices=["auto", "umap", "none"], help="clustering space of both runs")
    ap.add_argument("--one", nargs=5, metavar=("WORKLOAD", "ENGINE", "N", "LABELS_OUT", "SPACE"), help=argparse.SUPPRESS)
    ap.add_argument("--write-texts", nargs=2, metavar=("N", "PATH"), help=argparse.SUPPRESS)
    ap.add_argument("--pair-from", metavar="DIR", help="report two --one runs (DIR/local.json, DIR/ray.json, their .npy)")
    a = ap.parse_args()
    if a.write_texts:
        pd.DataFrame({"text": _texts(int(a.write_texts[0]))}).to_parquet(a.write_texts[1])
        return
    if a.one:
        w, e, n, out, space = a.one
        print(json.dumps(one(w, e, int(n), out, space)))
        return
    if a.pair_from:  # the two --one runs made apart (local.json/.npy, ray.json/.npy in one folder)
        d = Path(a.pair_from)
        rows = [json.loads((d / f"{e}.json").read_text().strip().splitlines()[-1]) for e in ("local", "ray")]
        rows = _compare(rows, [np.load(d / f"{e}.npy") for e in ("local", "ray")])
        a.n, a.texts = (rows[0]["n"], 0) if rows[0]["workload"] == "vectors" else (0, rows[0]["n"])
    else:
        rows = (run_pair("vectors", a.n, a.space) if a.n else []) + (run_pair("texts", a.texts, a.space) if a.texts else [])
    table = (
        "| workload | N | space | engine | fit s | read s | embed s | space s | cluster s | label s | Ray start s | overhead "
        "| driver peak RSS MB | vectors on driver | L1 ARI vs local | membership parts s | save s (schema) |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    for r in rows:
        table += (
            f"| {r['workload']} | {r['n']:,} | {r['space']} | {r['engine']} | {r['fit_s']} | {r['timings'].get('read', '')} | "
            f"{r['timings']['embed']} | "
            f"{r['timings'].get('space', '')} | "
            f"{r['timings']['cluster']} | {r['timings'].get('label', '')} | {r['ray_start_s'] or ''} | {r.get('overhead_ratio', '')} | "
            f"{r['driver_peak_rss_mb']} | {r['vectors_on_driver']} | {r['level1_ari_vs_local']} | {r['ray_membership_s'].get('write', '')} | "
            f"{r['save_s']} ({r['saved_schema']}) |\n"
        )
    write(f"ray_{a.n}_{a.texts}_{a.space}", {"machine": machine(), "rows": rows}, table)


if __name__ == "__main__":
    main()
