"""Issue 11, session 8: what keeping copied items does to level 1 of a bench_titles run, recomputed from its
answers without new calls. Policy A: the run's titles (copies and sentences replaced by an identifying keyword
title or anchor term); B: every cluster whose three candidates were all copies/sentences gets its best-margin
candidate back; C: only where that candidate identifies its cluster (what verify does since).

    python benchmarks/titles_copy_policy.py LEVELS.jsonl PROMPTS.jsonl   # bench_titles --checkpoint / --log-path
"""

import json
import re
import sys

import numpy as np
import pandas as pd

from hercules import Hercules
from hercules.evaluation.metrics import title_alignment
from hercules.labeling.llm.quality import identification_margins, normalise_title
from hercules.labeling.llm.verify import title_shaped

df = pd.read_csv("examples/data/banking77_test.csv")
m = Hercules([300], embedder="minilm", random_state=0, progress=False).fit(df[["text"]])
emb = m.encoder_.text_embedder()
lv = m.hierarchy_.level(1)
y1 = m.hierarchy_.item_labels(1)
X = np.asarray(m.embeddings_, np.float32)
C = np.stack([X[y1 == j].mean(0) for j in range(300)])
kw = [lb.title for lb in lv.labels]
with open(sys.argv[1]) as f:
    ck = json.loads(f.readline())
final = ck["titles"]
with open(sys.argv[2]) as f:
    rows = [json.loads(line) for line in f]
cands, items = {}, {}
for r in rows:
    p = r["prompt"][1]["content"]
    if "Contrast cluster" in p or not r["ids"][0].startswith("L1-") or "were all titled" in p:
        continue
    j = int(r["ids"][0].split("-")[1])
    v = json.loads(r["response"])[r["ids"][0]]
    cands[j] = v.get("titles") or [v["title"]]
    items[j] = {normalise_title(x) for x in re.findall(r'^- "(.*)"$', p, re.M)}
ys = df["category"].astype(str).to_numpy()
maj = pd.DataFrame({"y": ys, "c": y1}).groupby("c")["y"].agg(lambda s: s.value_counts().index[0])
names = sorted(set(ys))
nv = emb.embed([n.replace("_", " ") for n in names])


def score(titles):
    tv = np.asarray(emb.embed(titles))
    return round(float(np.mean(identification_margins(tv, C) > 0)), 3), round(
        title_alignment(tv, [maj[j].replace("_", " ") for j in range(300)], [n.replace("_", " ") for n in names], nv), 3
    )


print("final (A)", score(final), "keywords", score(kw))
# B: where final is a keyword fallback and the best-margin candidate was a copy/sentence, put the copy back
B = list(final)
nB = 0
for j in range(300):
    if final[j] == kw[j] or (j in cands and final[j] not in cands[j]):
        pool = cands.get(j, [])
        if pool and all(normalise_title(t) in items[j] or not title_shaped(t) for t in pool):
            tv = np.asarray(emb.embed(pool))
            mg = identification_margins(tv, C, np.full(len(pool), j))
            B[j] = pool[int(np.argmax(mg))]
            nB += 1
print("B keep copies", nB, score(B))
Cn = list(final)
nC = 0
for j in range(300):
    if B[j] != final[j]:
        tv = np.asarray(emb.embed([B[j]]))
        if identification_margins(tv, C, np.array([j]))[0] > 0:
            Cn[j] = B[j]
            nC += 1
print("C keep identifying copies", nC, score(Cn))
