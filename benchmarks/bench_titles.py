"""Title quality per level (issue 11): do titles pick out their own cluster, align with the class
names, avoid duplicates and generic words; and what do they cost (wall time, calls, tokens)?

Banking77 test (3,080 queries, 77 intents) and HWU64 (11,033 utterances, 64 intents in 18
scenarios), MiniLM embeddings, keyword titles (``--llm none``) or an LLM (``--llm local``: the
embedded Qwen2.5-Coder 1.5B). Run heavy settings under ``flock /tmp/heavy.lock`` on a shared box.

    .venv/bin/python benchmarks/bench_titles.py --data banking77 --levels 300,77,10 --llm none
    flock /tmp/heavy.lock .venv/bin/python benchmarks/bench_titles.py --data banking77 --levels 40,8 --llm local
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, write  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("bench_titles")
DATA = {
    "banking77": (ROOT / "examples/data/banking77_test.csv", "category", None),
    "hwu64": (Path("/work/shared/data/hwu64/hwu64.csv"), "intent", "scenario"),
}
STAT_KEYS = (
    "calls",
    "cache_hits",
    "prompt_tokens",
    "completion_tokens",
    "failed_clusters",
    "failed_calls",
    "truncated",
    "retries",
    "prompt_eval_tokens",
    "prompt_eval_s",
    "generation_s",
    "wall_s",
    "identification_before",
    "identification_after",
    "repair_asked",
    "repair_skipped",
    "repair_outcomes",
    "repaired",
    "keyword_fallbacks",
    "qualified",
    "children_sharpened",
    "candidates_chosen",
    "copied_child_titles",
    "copied_member_texts",
    "first_pass_s",
    "disambiguate_s",
    "verify_s",
)


def wire_title_check(checkpoint: Callable[[Any, list[Any], dict[str, Any]], None] | None = None) -> None:
    """Give the labeler the run's text embedder (``LevelContext.embed_texts``) where the builder
    does not yet (a no-op once the pipeline passes it itself); ``checkpoint(ctx, labels, stats)``
    is called as soon as each level is labelled, so a run stopped midway keeps its finished levels."""
    from hercules.pipeline.builder import LevelBuilder

    original = getattr(LevelBuilder._label, "_original", LevelBuilder._label)

    def _label(self: Any, ctx: Any, k: int) -> Any:
        if getattr(ctx, "embed_texts", None) is None and self.embed_texts is not None:
            ctx.embed_texts = self.embed_texts
        labels = original(self, ctx, k)
        if checkpoint is not None:
            mine = self.llm_stats and self.llm_stats[-1].get("level") == ctx.level
            checkpoint(ctx, labels, dict(self.llm_stats[-1]) if mine else {})
        return labels

    _label._original = original  # type: ignore[attr-defined]
    LevelBuilder._label = _label  # type: ignore[method-assign]


def level_checkpoint(path: Path, y: np.ndarray) -> Callable[[Any, list[Any], dict[str, Any]], None]:
    """Writes one JSON line per labelled level to ``path``: identification, title_alignment (majority
    class name), duplicates, generic (whole level as one sibling group: parents are not known yet),
    the labeller's stats and the titles."""
    from hercules.evaluation.metrics import title_alignment
    from hercules.labeling.llm.quality import count_duplicates, generic_mask, identification_margins

    classes = sorted({str(c) for c in y})
    names = [c.replace("_", " ") for c in classes]
    ys = y.astype(str)

    def write_level(ctx: Any, labels: list[Any], stats: dict[str, Any]) -> None:
        titles = [lb.title for lb in labels]
        row: dict[str, Any] = {"level": ctx.level, "k": ctx.n_clusters, "time": time.time()}
        if ctx.embed_texts is not None and ctx.centroids is not None:
            tv = ctx.embed_texts(titles, "checkpoint")
            row["title_identification"] = float(np.mean(identification_margins(tv, ctx.centroids) > 0))
            frame = pd.DataFrame({"y": ys, "c": ctx.item_labels})
            majority = frame.groupby("c")["y"].agg(lambda s: s.value_counts().index[0]).reindex(range(ctx.n_clusters))
            nv = ctx.embed_texts(names, "checkpoint")
            row["title_alignment"] = title_alignment(tv, [m.replace("_", " ") for m in majority], names, nv)
        row["duplicate_titles"] = count_duplicates(titles)
        row["generic_titles_level_wide"] = int(generic_mask(titles).sum())
        row["stats"] = {k: v for k, v in stats.items() if k != "batch_sizes"}
        row["sources"] = pd.Series([lb.source for lb in labels]).value_counts().to_dict()
        row["titles"] = titles
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row, default=float) + "\n")
        log.info("checkpoint: level %d written to %s", ctx.level, path)

    return write_level


def run(a: argparse.Namespace) -> dict[str, Any]:
    from hercules import Hercules

    path, label_col, coarse_col = DATA[a.data]
    df = pd.read_csv(path)
    if a.limit:
        df = df.sample(n=min(a.limit, len(df)), random_state=0).reset_index(drop=True)
    levels = [int(x) for x in a.levels.split(",")]
    opts: dict[str, Any] = {
        "batch_size": a.batch_size,
        "verify": not a.no_verify,
        "timeout": a.timeout,
        "grouping": a.grouping,
        "repair_limit": a.repair_limit,
    }
    if a.candidates is not None:
        opts["candidates"] = a.candidates
    if a.description_words is not None:
        opts["description_words"] = a.description_words
    if a.anchor is not None:
        opts["anchor"] = a.anchor != "off"
        opts["anchor_parents"] = a.anchor == "on"
    if a.examples is not None:
        opts["examples"] = a.examples == "on"
    if not a.cache:
        opts["cache"] = False
    if a.log_path:
        opts["log_path"] = a.log_path
    llm = None if a.llm == "none" else a.llm
    checkpoint = None
    if a.checkpoint:
        checkpoint = level_checkpoint(Path(a.checkpoint), df[label_col].to_numpy())
    wire_title_check(checkpoint)
    t0 = time.perf_counter()
    m = Hercules(levels, embedder="minilm", llm=llm, llm_options=opts if llm else None, random_state=0, progress=False)
    m.fit(df[["text"]])
    fit_s = time.perf_counter() - t0
    ev = m.evaluate(labels=df[label_col].to_numpy(), class_names=True)
    rows = []
    stats = {s["level"]: s for s in m.llm_stats_ if s.get("level", 0) >= 1}
    for t in ev.index:
        row = {"level": int(t), "k": int(ev.loc[t, "n_clusters"])}
        for col in ("title_identification", "title_alignment", "duplicate_titles", "generic_titles", "ari"):
            row[col] = float(ev.loc[t, col])
        if coarse_col is not None:
            coarse = m.evaluate(int(t), labels=df[coarse_col].to_numpy(), class_names=True)
            row[f"title_alignment_{coarse_col}"] = float(coarse["title_alignment"])
        row.update({k: stats.get(int(t), {}).get(k) for k in STAT_KEYS})
        row["sources"] = pd.Series([lb.source for lb in m.hierarchy_.level(int(t)).labels]).value_counts().to_dict()
        row["titles"] = [lb.title for lb in m.hierarchy_.level(int(t)).labels]
        rows.append(row)
    return {"fit_s": fit_s, "timings": m.timings_, "rows": rows}


def table(a: argparse.Namespace, res: dict[str, Any]) -> str:
    head = (
        f"{a.data}, levels [{a.levels}], titles: {a.llm}"
        + (
            f", batch {a.batch_size} ({a.grouping}), candidates {a.candidates or 'default'}, verify {'off' if a.no_verify else 'on'}"
            f", anchor {a.anchor or 'default'}, worked example {a.examples or 'default'}, description words {a.description_words or 'default'}"
            f", repairs at most {a.repair_limit:g} of a level"
            if a.llm != "none"
            else ""
        )
        + f"; fit {res['fit_s']:.0f} s (labelling {res['timings'].get('label', 0):.0f} s)\n\n"
    )
    cols = "| level | k | identification | before repair | title_alignment | duplicates | generic | label s (first pass / re-asks / checks) | calls | prompt tok | completion tok | asked again | repaired | keyword fallbacks | qualified |"
    out = head + cols + "\n" + "|---" * (cols.count("|") - 1) + "|\n"

    def f(v: Any, fmt: str = "{:.3f}") -> str:
        return "-" if v is None else fmt.format(v)

    for r in res["rows"]:
        out += (
            f"| {r['level']} | {r['k']} | {f(r['title_identification'])} | {f(r['identification_before'])} | "
            f"{f(r['title_alignment'])} | {r['duplicate_titles']:.0f} | {r['generic_titles']:.0f} | {f(r['wall_s'], '{:.0f}')} ({f(r.get('first_pass_s'), '{:.0f}')} / {f(r.get('disambiguate_s'), '{:.0f}')} / {f(r.get('verify_s'), '{:.0f}')}) | "
            f"{f(r['calls'], '{:d}')} | {f(r['prompt_tokens'], '{:,}')} | {f(r['completion_tokens'], '{:,}')} | "
            f"{f(r['repair_asked'], '{:d}')} | {f(r['repaired'], '{:d}')} | {f(r['keyword_fallbacks'], '{:d}')} | {f(r.get('qualified'), '{:d}')} |\n"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", choices=sorted(DATA), default="banking77")
    ap.add_argument("--levels", default="40,8")
    ap.add_argument("--llm", default="none", help="none, local, llamacpp:qwen0.5b, ...")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--candidates", type=int, default=None, help="candidate titles per cluster (default: the labeler's)")
    ap.add_argument("--no-verify", action="store_true")
    ap.add_argument(
        "--anchor",
        choices=["on", "leaves", "off"],
        default=None,
        help="anchor terms in the first pass, at every level or level 1 only (default: the labeler's)",
    )
    ap.add_argument(
        "--examples", choices=["on", "off"], default=None, help="the worked example in the prompts (default: the labeler's)"
    )
    ap.add_argument("--description-words", type=int, default=None, help="words per description (default: the labeler's)")
    ap.add_argument("--grouping", choices=["principal", "neighbours"], default="principal")
    ap.add_argument("--repair-limit", type=float, default=0.1, help="share of a level's clusters asked again at most")
    ap.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="seconds per LLM call (answers are capped, so a call that takes longer is stuck)",
    )
    ap.add_argument("--cache", action="store_true", help="use the LLM response cache (default: off, for honest timings)")
    ap.add_argument("--limit", type=int, default=0, help="sample this many items (0: all)")
    ap.add_argument("--log-path", default="", help="JSONL file receiving every prompt and answer")
    ap.add_argument("--tag", default="")
    ap.add_argument("--checkpoint", default="", help="JSONL file receiving each level's metrics as soon as it is labelled")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    res = run(a)
    name = f"titles_{a.data}_{a.levels.replace(',', '-')}_{a.llm.replace(':', '-')}" + (f"_{a.tag}" if a.tag else "")
    write(name, {"machine": machine(), "args": vars(a), **res}, table(a, res))


if __name__ == "__main__":
    main()
