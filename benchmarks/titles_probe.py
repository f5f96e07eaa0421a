"""First-pass title variants on a subset of one level (issue 11): which prompt makes the model's OWN titles
pick out their cluster? One clustering (``Hercules([k])``, MiniLM, random_state 0), one llama-server kept up
across variants, every third cluster titled (the rest keep keyword titles and are not scored); no duplicate
re-asks, no repairs. Identification is against all ``k`` centroids.

    flock /tmp/heavy.lock .venv/bin/python benchmarks/titles_probe.py --data banking77 --k 100 \
        --llm local-server:qwen0.5b@4 --variants base,anchor,cand3
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from bench_titles import DATA  # noqa: E402
from common import write  # noqa: E402

HEADING = "\n- A title is a short noun phrase naming the topic, like a heading: never a question, a sentence or a copied item."
#: variant name -> LLM labeler options for the first pass
VARIANTS = {
    "base": {"anchor": False},
    "anchor": {"anchor": True},
    "cand3": {"anchor": False, "candidates": 3},
    "anchor_cand3": {"anchor": True, "candidates": 3},
    "anchor_s3": {"anchor": True, "samples": 3},
    "anchor_cand3_s3": {"anchor": True, "candidates": 3, "samples": 3},
    "anchor_cand3_d15": {"anchor": True, "candidates": 3, "description_words": 15},
    # "_rule": one more line in the first-pass instructions (patched in for the variant only)
    "anchor_cand3_heading": {"anchor": True, "candidates": 3, "_rule": HEADING},
    "anchor_cand3_heading_d15": {"anchor": True, "candidates": 3, "description_words": 15, "_rule": HEADING},
    "anchor_cand3_s3_d15": {"anchor": True, "candidates": 3, "samples": 3, "description_words": 15},
    # the worked example in the instructions (hercules.labeling.llm.examples); every other variant runs without it
    "anchor_cand3_ex": {"anchor": True, "candidates": 3, "examples": True},
    "anchor_cand2_ex": {"anchor": True, "candidates": 2, "examples": True},
    "cand3_ex": {"anchor": False, "candidates": 3, "examples": True},
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", choices=sorted(DATA), default="banking77")
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--every", type=int, default=3, help="title every n-th cluster")
    ap.add_argument("--llm", default="local-server:qwen0.5b@4")
    ap.add_argument("--variants", default="base,anchor")
    ap.add_argument("--tag", default="")
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from hercules import Hercules
    from hercules.evaluation.metrics import title_alignment
    from hercules.labeling.llm import LLMLabeler, prompt
    from hercules.labeling.llm.quality import count_duplicates, identification_margins, normalise_title
    from hercules.labeling.llm.verify import title_shaped
    from hercules.llm.registry import get_llm
    from hercules.pipeline.builder import level_context

    path, label_col, _ = DATA[a.data]
    df = pd.read_csv(path)
    m = Hercules([a.k], embedder="minilm", random_state=0, progress=False).fit(df[["text"]])
    emb = m.encoder_.text_embedder()
    X = np.asarray(m.embeddings_, dtype=np.float32)
    labels1 = m.hierarchy_.item_labels(1)
    ctx = level_context(1, m.dataset_, X, labels1, None, None, np.zeros(0), None, lambda t, d: np.asarray(emb.embed(t)))
    subset = set(range(0, ctx.n_clusters, a.every))
    ys = df[label_col].astype(str).to_numpy()
    majority = pd.DataFrame({"y": ys, "c": labels1}).groupby("c")["y"].agg(lambda s: s.value_counts().index[0])
    names = sorted(set(ys))
    nv = np.asarray(emb.embed([n.replace("_", " ") for n in names]))
    S = sorted(subset)

    members = LLMLabeler(get_llm("fake")).plan(ctx).members

    def score(titles: list[str]) -> dict[str, float]:
        tv = np.asarray(emb.embed(titles))
        ident = identification_margins(tv, ctx.centroids)[S] > 0
        maj = [majority[j].replace("_", " ") for j in S]
        return {
            "identification": round(float(ident.mean()), 3),
            "title_alignment": round(title_alignment(tv[S], maj, [n.replace("_", " ") for n in names], nv), 3),
            "duplicates": count_duplicates([titles[j] for j in S]),
            "copies": sum(normalise_title(titles[j]) in members[j] or not title_shaped(titles[j]) for j in S),
        }

    llm = get_llm(a.llm)
    original_plan = LLMLabeler.plan

    def plan(self, c, fallback=None):  # only the subset is asked
        p = original_plan(self, c, fallback)
        p.batches = [[j for j in b if j in subset] for b in p.batches]
        p.batches = [b for b in p.batches if b]
        return p

    LLMLabeler.plan = plan  # type: ignore[method-assign]
    rows = []
    kw = LLMLabeler(llm)._keyword_labels(ctx)
    rows.append({"variant": "keywords", **score([lb.title for lb in kw])})
    print(json.dumps(rows[-1]), flush=True)
    for name in a.variants.split(","):
        opts = {
            "batch_size": 1,
            "verify": False,
            "disambiguate": False,
            "cache": False,
            "progress": False,
            "timeout": 300,
            "examples": False,
        }
        variant = dict(VARIANTS[name])
        rule = variant.pop("_rule", "")
        base_instructions = prompt.INSTRUCTIONS
        prompt.INSTRUCTIONS = base_instructions.replace("{anchor}", rule + "{anchor}")
        lab = LLMLabeler(llm, {**opts, **variant})
        t0 = time.perf_counter()
        out = lab.label_level(ctx)
        wall = time.perf_counter() - t0
        prompt.INSTRUCTIONS = base_instructions
        st = out.stats or {}
        titles = [lb.title for lb in out.labels]
        row = {
            "variant": name,
            **score(titles),
            "llm_titles": int(sum(out.labels[j].source.startswith("llm") for j in S)),
            "wall_s": round(wall, 1),
            "s_per_cluster": round(wall / len(S), 2),
            "prompt_tokens": st.get("prompt_tokens"),
            "completion_tokens": st.get("completion_tokens"),
            "examples": [titles[j] for j in S[:8]],
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    llm.close() if hasattr(llm, "close") else None
    md = f"# First-pass title variants, {a.data} level 1 of {a.k}, every {a.every} clusters ({len(S)}), {a.llm}\n\n"
    md += "| variant | identification | title_alignment | duplicates | copies | s/cluster | prompt tok | completion tok |\n|---|---|---|---|---|---|---|---|\n"
    for r in rows:
        md += (
            f"| {r['variant']} | {r['identification']:.3f} | {r['title_alignment']:.3f} | {r['duplicates']} | {r['copies']} | "
            f"{r.get('s_per_cluster', '-')} | {r.get('prompt_tokens', '-')} | {r.get('completion_tokens', '-')} |\n"
        )
    write(
        f"titles_probe_{a.data}_{a.k}_{a.llm.replace(':', '-')}" + (f"_{a.tag}" if a.tag else ""),
        {"args": vars(a), "rows": rows},
        md,
    )


if __name__ == "__main__":
    main()
