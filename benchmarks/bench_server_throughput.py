"""How fast the local llama-server labels clusters on this machine, against its number of slots
(issue 11: "measure tokens/s against the number of parallel sequences"). Each run sends the same
``--prompts`` first-pass prompts (one Banking77 intent each, shown as the labeler shows a cluster:
5 items, 3 candidate titles, the JSON schema; no keyword, neighbour or anchor lines) all at once to a fresh server with ``--slots`` slots,
temperature 0, no response cache; then one long prompt with a 1-token answer gives the prompt-read
rate. The floor it prints (seconds per cluster at the best slot count) bounds any labelling run on
this machine from below: a real run also checks, re-asks and repairs.

    flock /tmp/heavy.lock .venv/bin/python benchmarks/bench_server_throughput.py --model qwen0.5b
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from bench_titles import DATA  # noqa: E402
from common import machine, write  # noqa: E402


def prompts(n: int) -> list[tuple[list[dict[str, str]], dict, list[str]]]:
    """``n`` one-cluster prompts built the labeler's way from ``n`` Banking77 intents."""
    from hercules.data.dataset import prepare
    from hercules.labeling.base import LevelContext
    from hercules.labeling.llm.prompt import cluster_messages, label_schema

    path, label_col, _ = DATA["banking77"]
    df = pd.read_csv(path)
    intents = sorted(df[label_col].unique())[:: max(1, len(df[label_col].unique()) // n)][:n]
    ds = prepare(df[["text"]].head(1), modality="text", text_column="text")
    ctx = LevelContext(1, ds, np.zeros(1, np.int64), 1, None, None)
    out = []
    for j, intent in enumerate(intents):
        items = df.loc[df[label_col] == intent, "text"].head(5)
        block = "\n".join(
            [f"### Cluster L1-{j}", f"Size: {int((df[label_col] == intent).sum())} items", "Items closest to the centre:"]
            + [f'- "{t}"' for t in items]
        )
        ids = [f"L1-{j}"]
        out.append((cluster_messages(ctx, ids, [block], n_titles=3), label_schema(ids, 3), ids))
    return out


async def _run_all(llm, batch) -> tuple[float, int, int]:
    from hercules.labeling.llm.prompt import answer_tokens

    t0 = time.perf_counter()
    got = await asyncio.gather(*(llm.acomplete(m, schema=s, max_tokens=answer_tokens(1, 3)) for m, s, _ in batch))
    return time.perf_counter() - t0, sum(r.prompt_tokens or 0 for r in got), sum(r.completion_tokens or 0 for r in got)


async def _measure(llm, batch) -> tuple[float, int, int, float]:
    """(wall, prompt tokens, completion tokens) of the batch after a warm-up, and the prompt-read rate; one
    event loop for all of it (the HTTP client is bound to its loop)."""
    try:
        await _run_all(llm, batch[:1])  # warm-up: model paged in, instruction prefix cached
        wall, ptok, ctok = await _run_all(llm, batch)
        long = batch[0][0][:-1] + [{"role": "user", "content": batch[0][0][-1]["content"] * 4}]
        t0 = time.perf_counter()
        r = await llm.acomplete(long, max_tokens=1)
        return wall, ptok, ctok, (r.prompt_tokens or 0) / (time.perf_counter() - t0)
    finally:
        await llm.aclose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="qwen0.5b")
    ap.add_argument("--slots", default="1,2,4,8")
    ap.add_argument("--prompts", type=int, default=16)
    a = ap.parse_args()
    from hercules.llm.base import LLMOptions
    from hercules.llm.local_server import LocalServerProvider

    batch = prompts(a.prompts)
    rows = []
    for slots in [int(s) for s in a.slots.split(",")]:
        llm = LocalServerProvider(a.model, parallel=slots, options=LLMOptions(temperature=0.0, timeout=600))
        try:
            llm.start()
            wall, ptok, ctok, read = asyncio.run(_measure(llm, batch))
        finally:
            llm.stop()
        rows.append(
            {
                "slots": slots,
                "wall_s": round(wall, 1),
                "s_per_cluster": round(wall / len(batch), 2),
                "completion_tokens": ctok,
                "prompt_tokens": ptok,
                "completion_tok_s": round(ctok / wall, 1),
                "prompt_read_tok_s": round(read, 1),
            }
        )
        print(rows[-1], flush=True)
    best = min(rows, key=lambda r: r["s_per_cluster"])
    md = (
        f"# llama-server throughput, {a.model}, {a.prompts} one-cluster prompts (3 candidates, JSON schema)\n\n"
        "| slots | wall | s per cluster | completion tokens | completion tok/s (all slots) | prompt read tok/s |\n"
        "|---|---|---|---|---|---|\n"
        + "".join(
            f"| {r['slots']} | {r['wall_s']} s | {r['s_per_cluster']} | {r['completion_tokens']} | "
            f"{r['completion_tok_s']} | {r['prompt_read_tok_s']} |\n"
            for r in rows
        )
        + f"\nFloor at {best['slots']} slots: {best['s_per_cluster']} s per cluster, so 387 clusters (Banking77 "
        f"[300, 77, 10]) take at least {387 * best['s_per_cluster']:.0f} s of first-pass titling alone.\n"
    )
    write(f"server_throughput_{a.model}", {"args": vars(a), "rows": rows, "machine": machine()}, md)


if __name__ == "__main__":
    main()
