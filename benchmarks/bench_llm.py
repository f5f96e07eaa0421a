"""LLM labelling throughput against a real llama.cpp server: concurrency 1 vs N slots, and the cache.

Starts llama.cpp's C++ server (``--server-bin path/to/llama-server``, built from llama.cpp with
``-DLLAMA_BUILD_SERVER=ON``; it serves ``--slots`` requests at once with continuous batching) with
a packaged model, labels the level-1 clusters of Banking77 at each concurrency with the cache
off, then once more with the cache on twice to measure the hit rate.

    .venv/bin/python benchmarks/bench_llm.py --server-bin /path/llama-server --model qwen0.5b --k 24
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, write  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--server-bin", required=True)
    ap.add_argument("--model", default="qwen1.5b")
    ap.add_argument("--slots", type=int, default=4)
    ap.add_argument("--k", type=int, default=24, help="level-1 clusters to label")
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()

    from hercules import Hercules
    from hercules.embeddings import EmbeddingCache, get_embedder
    from hercules.llm import LLMOptions, OpenAICompatibleProvider, ResponseCache
    from hercules.llm.local import resolve_model

    df = pd.read_csv(Path(__file__).parent.parent / "examples/data/banking77_test.csv")
    E = get_embedder("minilm", cache=EmbeddingCache(), progress=False).embed(df.text.tolist())
    port = free_port()
    ctx = 4096 * a.slots
    proc = subprocess.Popen(
        [
            a.server_bin,
            "-m",
            str(resolve_model(a.model)),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "-c",
            str(ctx),
            "-np",
            str(a.slots),
            "-t",
            str(a.threads),
            "--log-disable",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    rows = []
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url + "/models", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        llm = OpenAICompatibleProvider(
            a.model, preset="llamacpp-server", base_url=url, options=LLMOptions(max_tokens=400, timeout=600), context_window=4096
        )

        def run(conc: int, cache) -> dict:
            t = time.perf_counter()
            m = Hercules(
                [a.k], progress=False, llm=llm, llm_options={"cache": cache, "concurrency": conc, "batch_size": a.batch_size}
            ).fit(df, embeddings=E)
            st = m.llm_stats_[0]
            return {
                "concurrency": conc,
                "wall_s": time.perf_counter() - t,
                **{k: st[k] for k in ("calls", "cache_hits", "prompt_tokens", "completion_tokens", "failed_clusters")},
                "titles": [c.title for c in m.clusters(1)][:6],
            }

        for conc in (1, a.slots):
            rows.append(run(conc, False))
            print(rows[-1], flush=True)
        with tempfile.TemporaryDirectory() as td:
            cache = ResponseCache(Path(td) / "c.sqlite")
            first, second = run(a.slots, cache), run(a.slots, cache)
        hit = second["cache_hits"] / max(second["cache_hits"] + second["calls"], 1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    speedup = rows[0]["wall_s"] / rows[1]["wall_s"]
    table = (
        f"llama.cpp server, {a.model}, {a.slots} slots, {a.threads} threads; {a.k} Banking77 clusters, "
        f"{a.batch_size} per prompt\n\n| concurrency | wall s | calls | prompt tokens | completion tokens |\n|---|---|---|---|---|\n"
    )
    for r in rows:
        table += (
            f"| {r['concurrency']} | {r['wall_s']:.1f} | {r['calls']} | {r['prompt_tokens']:,} | {r['completion_tokens']:,} |\n"
        )
    table += (
        f"\nSpeed-up from concurrency: {speedup:.2f}x. Second run with the cache: {hit:.0%} hits, {second['calls']} calls "
        f"({second['wall_s']:.1f} s vs {first['wall_s']:.1f} s).\n"
    )
    write(
        f"llm_{a.model}",
        {"machine": machine(), "rows": rows, "speedup": speedup, "cache_hit_rate": hit, "first": first, "second": second},
        table,
    )


if __name__ == "__main__":
    main()
