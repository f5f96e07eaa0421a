"""Speed and file size against pyhercules 1.1.1 on the same items, embeddings and LLM stand-in.

Both tools get the same precomputed item embeddings; pyhercules gets a free fake
LLM (valid JSON for every id, instant) and a hashing fallback for the extra texts
it embeds (L0 snippets, cluster descriptions). hercules labels with its own
c-TF-IDF keyword labeler, so its side does more real work, not less.

    bash benchmarks/setup_pyhercules.sh            # venv with pyhercules 1.1.1 from PyPI
    .venv/bin/python benchmarks/bench_pyhercules.py --sizes 2000,4000,8000,16000
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

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from common import machine, write  # noqa: E402

PH_PYTHON = HERE / ".venv-pyhercules" / "bin" / "python"

PH_RUNNER = r"""
import hashlib, json, re, sys, time, os
import numpy as np
from pyhercules import Hercules
texts = json.load(open(sys.argv[1])); E = np.load(sys.argv[2]); levels = json.loads(sys.argv[3]); out = sys.argv[4]
lookup = {t: E[i] for i, t in enumerate(texts)}
d = E.shape[1]
def embed(batch):
    rows = []
    for t in batch:
        v = lookup.get(t)
        if v is None:
            v = np.zeros(d, dtype=np.float32)
            for w in str(t).lower().split():
                v[int(hashlib.md5(w.encode()).hexdigest(), 16) % d] += 1.0
            v /= max(np.linalg.norm(v), 1e-6)
        rows.append(v)
    return np.asarray(rows, dtype=np.float32)
ID = re.compile(r"(?:Cluster|Data Item) ID: ([^\s(]+) \(")
def llm(prompt):
    return json.dumps({i: {"title": f"Cluster {i}", "description": f"Items of cluster {i}."} for i in ID.findall(prompt)})
h = Hercules(level_cluster_counts=levels, text_embedding_client=embed, llm_client=llm, representation_mode="direct",
             random_state=42, save_run_details=False, verbose=0)
t = time.perf_counter(); top = h.cluster(texts); fit = time.perf_counter() - t
t = time.perf_counter(); h.save_model(out, top); save = time.perf_counter() - t
path = out if out.endswith(".json") else out + ".json"
print(json.dumps({"fit_s": fit, "save_s": save, "total_s": fit + save, "size_mb": os.path.getsize(path) / 2**20,
                  "levels": [len(h.get_level_assignments(l)[1]) for l in range(1, h.max_level + 1)]}))
"""


def corpus(n: int) -> tuple[list[str], np.ndarray]:
    """Banking77 train+test texts and their embeddings, extended with suffixed copies (+noise) to n."""
    import pandas as pd

    from hercules.embeddings import EmbeddingCache, get_embedder

    texts = pd.concat([pd.read_csv(f"../shared/data/banking77/{s}.csv") for s in ("train", "test")]).text.tolist()
    if not Path("../shared/data/banking77/train.csv").exists():
        texts = pd.read_csv(HERE.parent / "examples/data/banking77_test.csv").text.tolist()
    E = get_embedder("wordllama", cache=EmbeddingCache(), progress=False).embed(texts)
    rng = np.random.default_rng(0)
    base_t, base_e = texts, E
    while len(texts) < n:
        extra = min(n - len(texts), len(base_t))
        texts = texts + [f"{t} (#{len(texts) + i})" for i, t in enumerate(base_t[:extra])]
        noisy = base_e[:extra] + 0.02 * rng.normal(size=(extra, E.shape[1])).astype(np.float32)
        E = np.vstack([E, noisy / np.linalg.norm(noisy, axis=1, keepdims=True)])
    return texts[:n], E[:n].astype(np.float32)


def run_ours(texts, E, levels, out) -> dict:
    from hercules import Hercules

    t = time.perf_counter()
    m = Hercules(levels if levels is not None else "auto", progress=False, random_state=42).fit(texts, embeddings=E)
    fit = time.perf_counter() - t
    t = time.perf_counter()
    m.save(out)
    save = time.perf_counter() - t
    size = sum(p.stat().st_size for p in Path(out).iterdir()) / 2**20
    return {"fit_s": fit, "save_s": save, "total_s": fit + save, "size_mb": size, "levels": m.levels_}


def run_theirs(texts, E, levels, tmp: Path) -> dict:
    (tmp / "texts.json").write_text(json.dumps(texts))
    np.save(tmp / "E.npy", E)
    (tmp / "runner.py").write_text(PH_RUNNER)
    res = subprocess.run(
        [
            str(PH_PYTHON),
            str(tmp / "runner.py"),
            str(tmp / "texts.json"),
            str(tmp / "E.npy"),
            json.dumps(levels),
            str(tmp / "ph_model.json"),
        ],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-2000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def _median(results) -> dict:
    results = list(results)
    out = dict(results[0])
    for key in ("fit_s", "save_s", "total_s"):
        out[key] = float(np.median([r[key] for r in results]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="2000,4000,8000,16000")
    ap.add_argument("--modes", default="fixed,auto")
    ap.add_argument("--repeats", type=int, default=1, help="runs per cell; medians are reported (the VM is noisy)")
    a = ap.parse_args()
    if not PH_PYTHON.exists():
        sys.exit(f"missing {PH_PYTHON}: run bash benchmarks/setup_pyhercules.sh first")
    rows = []
    for n in [int(s) for s in a.sizes.split(",")]:
        texts, E = corpus(n)
        for mode in a.modes.split(","):
            levels = [50, 10, 3] if mode == "fixed" else None
            runs = []
            for _ in range(a.repeats):  # both tools in the same round, so ratios share the machine's state
                with tempfile.TemporaryDirectory() as td:
                    tmp = Path(td)
                    runs.append((run_ours(texts, E, levels, tmp / "ours"), run_theirs(texts, E, levels, tmp)))
            ours = min(runs, key=lambda r: r[0]["total_s"])[0] if a.repeats == 1 else _median(r[0] for r in runs)
            theirs = runs[0][1] if a.repeats == 1 else _median(r[1] for r in runs)
            row = {
                "n": n,
                "mode": mode,
                "ours": ours,
                "pyhercules": theirs,
                "speedup": theirs["total_s"] / ours["total_s"],
                "size_ratio": theirs["size_mb"] / ours["size_mb"],
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    table = (
        "| N | k | hercules s | pyhercules s | speed-up | hercules MB | pyhercules MB | size ratio | levels (ours / theirs) |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
    )
    for r in rows:
        table += (
            f"| {r['n']:,} | {r['mode']} | {r['ours']['total_s']:.2f} | {r['pyhercules']['total_s']:.1f} | "
            f"{r['speedup']:.0f}x | {r['ours']['size_mb']:.2f} | {r['pyhercules']['size_mb']:.1f} | "
            f"{r['size_ratio']:.0f}x | {r['ours']['levels']} / {r['pyhercules']['levels']} |\n"
        )
    write("vs_pyhercules", {"machine": machine(), "rows": rows}, table)


if __name__ == "__main__":
    main()
