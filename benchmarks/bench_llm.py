"""LLM labelling throughput on this machine: in-process llama.cpp vs its C++ server with N slots.

The in-process binding decodes one sequence at a time; ``llama-server`` (``--llm local-server``,
built by ``scripts/build_llama_server.sh``) decodes all its slots together. For each backend this
labels the same level-1 clusters of Banking77 with the response cache off and reports wall time,
tokens, tokens/s, seconds per cluster and the titles' identification score, then re-runs the last
configuration twice with the cache on to measure the hit rate.

    .venv/bin/python benchmarks/bench_llm.py --model qwen1.5b --k 24 --slots 1,2,4
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, write  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="qwen1.5b")
    ap.add_argument("--slots", default="1,2,4", help="server slot counts to try (0 = the in-process backend)")
    ap.add_argument("--in-process", action="store_true", help="also run the in-process backend")
    ap.add_argument("--k", type=int, default=24, help="level-1 clusters to label")
    ap.add_argument("--batch-size", type=int, default=1, help="clusters per prompt")
    ap.add_argument("--no-verify", action="store_true")
    ap.add_argument("--schema", default="on,off", help="JSON-schema (grammar) constrained decoding: on, off, or both")
    ap.add_argument("--tag", default="")
    a = ap.parse_args()

    from hercules import Hercules
    from hercules.llm import LLMOptions, ResponseCache
    from hercules.llm.local import LlamaCppProvider
    from hercules.llm.local_server import LocalServerProvider

    df = pd.read_csv(Path(__file__).parent.parent / "examples/data/banking77_test.csv")
    schemas = [x == "on" for x in a.schema.split(",") if x]

    def opts(schema: bool) -> LLMOptions:
        return LLMOptions(max_tokens=400, timeout=1800, json_schema=schema)

    def run(name: str, llm, conc: int, cache) -> dict:
        llm_options = {"cache": cache, "concurrency": conc, "batch_size": a.batch_size, "verify": not a.no_verify}
        m = Hercules([a.k], embedder="minilm", progress=False, llm=llm, llm_options=llm_options).fit(df[["text"]])
        wall = m.timings_["label"]  # labelling alone (the embeddings come from the cache after the first run)
        st = m.llm_stats_[0]
        ev = m.evaluate(level=1)
        row = {
            "backend": name,
            "wall_s": round(wall, 1),
            "s_per_cluster": round(wall / a.k, 2),
            **{k: st[k] for k in ("calls", "cache_hits", "prompt_tokens", "completion_tokens", "failed_clusters")},
            "tokens_per_s": round((st["prompt_tokens"] + st["completion_tokens"]) / wall, 1),
            "completion_tokens_per_s": round(st["completion_tokens"] / wall, 2),
            "identification": ev.get("title_identification"),
            "titles": [c.title for c in m.clusters(1)][:6],
        }
        print(row, flush=True)
        return row

    rows = []
    for schema in schemas:
        tag = f", schema {'on' if schema else 'off'}"
        if a.in_process:
            rows.append(run("in-process" + tag, LlamaCppProvider(a.model, options=opts(schema)), 1, False))
        for slots in [int(s) for s in a.slots.split(",") if s]:
            llm = LocalServerProvider(a.model, parallel=slots, options=opts(schema))
            try:
                rows.append(run(f"server, {slots} slots{tag}", llm, slots, False))
                if slots == int(a.slots.split(",")[-1]) and schema == schemas[-1]:
                    with tempfile.TemporaryDirectory() as td:
                        cache = ResponseCache(Path(td) / "c.sqlite")
                        first, second = run("cache 1st", llm, slots, cache), run("cache 2nd", llm, slots, cache)
            finally:
                llm.stop()
    hit = second["cache_hits"] / max(second["cache_hits"] + second["calls"], 1)
    table = (
        f"{a.model}, {a.k} Banking77 level-1 clusters, {a.batch_size} per prompt, verify {'off' if a.no_verify else 'on'}, "
        "2 threads, cache off; schema: JSON-schema (grammar) constrained decoding\n\n| backend | wall s | s/cluster | calls | prompt tok | completion tok | tok/s | "
        "completion tok/s | failed clusters | identification |\n|---|---|---|---|---|---|---|---|---|---|\n"
    )
    for r in rows:
        table += (
            f"| {r['backend']} | {r['wall_s']} | {r['s_per_cluster']} | {r['calls']} | {r['prompt_tokens']:,} | "
            f"{r['completion_tokens']:,} | {r['tokens_per_s']} | {r['completion_tokens_per_s']} | {r['failed_clusters']} | {r['identification']} |\n"
        )
    table += f"\nRe-run with the cache: {hit:.0%} hits, {second['calls']} calls ({second['wall_s']} s vs {first['wall_s']} s).\n"
    write(
        f"llm_{a.model}" + (f"_{a.tag}" if a.tag else ""),
        {"machine": machine(), "args": vars(a), "rows": rows, "cache_hit_rate": hit},
        table,
    )


if __name__ == "__main__":
    main()
