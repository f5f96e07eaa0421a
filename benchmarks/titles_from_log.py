"""Title quality recomputed from a prompt log (``bench_titles.py --log-path``), on the same level-1
clustering (``Hercules([k])``, MiniLM, random_state 0): what a run that was stopped, or whose
first pass is wanted apart from its repairs, measured (issue 11).

    first-pass DATA K LOG...   level-1 identification / title_alignment / duplicates / generic of
                               each log's first-pass titles, and after its duplicate groups were asked again
    repair-curve DATA K LOG    level-1 identification against the number of repairs asked (worst margin
                               first, mildest first), the others keeping the better of LLM and keyword title

    flock /tmp/heavy.lock .venv/bin/python benchmarks/titles_from_log.py repair-curve banking77 300 prompts.jsonl
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from bench_titles import DATA  # noqa: E402


def fit(data: str, k: int):
    from hercules import Hercules

    path, label_col, _ = DATA[data]
    df = pd.read_csv(path)
    m = Hercules([k], embedder="minilm", random_state=0, progress=False).fit(df[["text"]])
    return m, df[label_col].to_numpy()


def read_log(path: str, k: int, sizes: np.ndarray, keywords: list[str]):
    """(first-pass titles, titles after duplicate re-asks, repair candidates by cluster) at level 1."""
    from hercules.labeling.llm.prompt import parse_candidates

    first, final, repairs = list(keywords), list(keywords), {}
    with open(path, encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    for r in records:
        if r["response"] is None or not r["ids"] or not r["ids"][0].startswith("L1-"):
            continue
        prompt = r["prompt"][-1]["content"]
        got = parse_candidates(r["response"], r["ids"])
        if "Contrast cluster" in prompt:
            repairs.update({int(c.split("-")[1]): ts for c, (ts, _) in got.items()})
            continue
        for cid in r["ids"]:
            size = re.search(rf"### Cluster {cid}\nSize: (\d+) items", prompt)
            if size and int(size.group(1)) != sizes[int(cid.split("-")[1])]:
                raise SystemExit(f"{path}: cluster {cid} has another size here: not the same clustering")
        again = "were all titled" in prompt
        for cid, (ts, _) in got.items():
            j = int(cid.split("-")[1])
            if not again:
                first[j] = ts[0]
            final[j] = ts[0]
    return first, final, repairs


def main() -> None:
    mode, data, k, logs = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
    from hercules.common.groups import group_means
    from hercules.labeling.llm.quality import identification_margins

    m, y = fit(data, k)
    lvl = m.hierarchy_.level(1)
    keywords = [lb.title for lb in lvl.labels]
    sizes = np.bincount(m.hierarchy_.item_labels(1), minlength=lvl.k)
    emb = m.encoder_.text_embedder()
    C = group_means(np.asarray(m.embeddings_, dtype=np.float32), m.hierarchy_.item_labels(1), lvl.k)

    def margins(titles, owners=None):
        return identification_margins(np.asarray(emb.embed(titles)), C, None if owners is None else np.asarray(owners))

    def evaluate(titles):
        for lb, t in zip(lvl.labels, titles):
            lb.title = t
        r = m.evaluate(1, labels=y, class_names=True)
        return {
            c: round(float(r[c]), 3) for c in ("title_identification", "title_alignment", "duplicate_titles", "generic_titles")
        }

    print("keywords", evaluate(keywords))
    for path in logs:
        first, final, repairs = read_log(path, lvl.k, sizes, keywords)
        if mode == "first-pass":
            print(path, "first pass", evaluate(first), "| duplicates asked again", evaluate(final))
            continue
        before, kw = margins(final), margins(keywords)
        failing = np.flatnonzero(before <= 0)
        passed = {j: bool(margins(ts, [j] * len(ts)).max() > 0) for j, ts in repairs.items()}
        asked = [int(j) for j in failing if j in repairs]
        print(
            f"LLM titles {np.mean(before > 0):.3f}, failing {len(failing)}, keywords {np.mean(kw > 0):.3f}; "
            f"repairs answered {len(asked)}, passing {sum(passed[j] for j in asked)}"
        )

        def ident(repaired: set[int], before=before, failing=failing, passed=passed, kw=kw) -> float:
            """Level-1 identification when ``repaired`` were asked again, the rest keeping the better title."""
            ok = before > 0
            for j in failing:
                ok[j] = (j in repaired and passed.get(j, False)) or bool(kw[j] > 0)
            return float(ok.mean())

        for name, order in (
            ("worst first", sorted(asked, key=lambda j: before[j])),
            ("mildest first", sorted(asked, key=lambda j: -before[j])),
            ("keyword title fails too, first", sorted(asked, key=lambda j: (kw[j] > 0, before[j]))),
        ):
            print(name, " ".join(f"{n}:{ident(set(order[:n])):.3f}" for n in (0, 15, 30, 45, 60, 90, len(order))))
        for i, part in enumerate(np.array_split(sorted(asked, key=lambda j: before[j]), 4)):
            print(
                f"margin quartile {i} ({before[part[0]]:.3f}..{before[part[-1]]:.3f}): repair passes "
                f"{np.mean([passed[j] for j in part]):.2f}, keyword title passes {np.mean(kw[part] > 0):.2f}, "
                f"either {np.mean([passed[j] or kw[j] > 0 for j in part]):.2f}"
            )


if __name__ == "__main__":
    main()
