"""Update vs full refit: a saved 100k-item result grows by 10k items (issue 13).

Synthetic clustered vectors (d=384, L2-normalised, as in bench_scale): the base result holds
100k items from 1,000 themes; the update brings 10k items, 90% from known themes and 10% from
10 themes the base never saw. Compared with refitting all 110k items from scratch:

* wall time, in memory (``model.update`` vs ``Hercules.fit``) and from disk to disk (load +
  update + save, what ``hercules update`` does, vs fit + save);
* how many clusters would need an LLM title (update: new + changed; refit: every cluster);
* whether the unseen themes came out as new clusters (share of their items in new clusters,
  purity of the new clusters, ARI of the unseen themes' items).

    flock /tmp/heavy.lock .venv/bin/python benchmarks/bench_update.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, peak_rss_mb, write  # noqa: E402


def themed_vectors(centres: np.ndarray, themes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One vector per entry of ``themes``: its centre plus noise as large as the centres, normalised."""
    X = centres[themes] + rng.normal(size=(len(themes), centres.shape[1])).astype(np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def data(n: int, n_new: int, d: int, n_themes: int, n_unseen: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(base vectors, new vectors, theme of each new vector; themes >= n_themes are unseen)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_themes + n_unseen, d)).astype(np.float32)
    base = themed_vectors(centres, rng.integers(0, n_themes, n), rng)
    unseen = n_new // 10
    themes = np.concatenate([rng.integers(0, n_themes, n_new - unseen), n_themes + np.arange(unseen) % n_unseen])
    return base, themed_vectors(centres, themes, rng), themes


def run(a: argparse.Namespace) -> dict:
    from sklearn.metrics import adjusted_rand_score

    import hercules
    from hercules import Hercules

    levels = [int(x) for x in a.levels.split(",")]
    base, new, themes = data(a.n, a.new, a.dim, a.themes, a.unseen)
    tmp = Path(tempfile.mkdtemp())
    model = Hercules(levels, progress=False).fit(embeddings=base)
    model.save(tmp / "base")
    k1 = model.levels_[0]

    t = time.perf_counter()
    loaded = hercules.load(tmp / "base")
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    loaded.update(embeddings=new)
    update_s = time.perf_counter() - t
    t = time.perf_counter()
    loaded.save(tmp / "updated")
    save_s = time.perf_counter() - t

    t = time.perf_counter()
    refit = Hercules(levels, progress=False).fit(embeddings=np.vstack([base, new]))
    refit_s = time.perf_counter() - t
    t = time.perf_counter()
    refit.save(tmp / "refit")
    refit_save_s = time.perf_counter() - t

    c = loaded.changes_
    lab = loaded.labels_[a.n :]
    unseen, in_new = themes >= a.themes, lab >= k1
    return {
        "n_base": a.n,
        "n_new": a.new,
        "dim": a.dim,
        "levels_before": model.levels_,
        "levels_after": loaded.levels_,
        "levels_refit": refit.levels_,
        "update_s": round(update_s, 3),
        "update_timings": {k: round(v, 3) for k, v in loaded.timings_.items() if k.startswith("update")},
        "refit_s": round(refit_s, 3),
        "refit_timings": {k: round(v, 3) for k, v in refit.timings_.items()},
        "layout": type(refit.layout_).__name__,
        "disk_to_disk_update_s": round(load_s + update_s + save_s, 3),
        "disk_to_disk_refit_s": round(refit_s + refit_save_s, 3),
        "speedup": round(refit_s / update_s, 1),
        "clusters_to_title_update": len(c["new_clusters"]) + len(c["relabelled"]),
        "clusters_to_title_refit": sum(refit.levels_),
        "new_l1_clusters": sum(r["level"] == 1 for r in c["new_clusters"]),
        "unseen_items_in_new_clusters": round(float(in_new[unseen].mean()), 4),
        "new_cluster_purity": round(float(unseen[in_new].mean()), 4) if in_new.any() else None,
        "ari_unseen": round(float(adjusted_rand_score(themes[unseen], lab[unseen])), 4),
        "outliers": c["outliers"]["count"],
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--new", type=int, default=10_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--themes", type=int, default=1000)
    ap.add_argument("--unseen", type=int, default=10)
    ap.add_argument("--levels", default="1000,100,10")
    a = ap.parse_args()
    r = run(a)
    table = (
        f"Update vs refit: {r['n_base']:,} + {r['n_new']:,} synthetic vectors (d={r['dim']}), levels {r['levels_before']}\n\n"
        "| | update | full refit |\n|---|---|---|\n"
        f"| wall time, in memory (s) | {r['update_s']} | {r['refit_s']} |\n"
        f"| of which the map ({r['layout']}: place new items vs fit) (s) | {r['update_timings']['update_layout']} | "
        f"{r['refit_timings'].get('project', r['refit_timings'].get('layout', '?'))} |\n"
        f"| disk to disk: load + update + save vs fit + save (s) | {r['disk_to_disk_update_s']} | {r['disk_to_disk_refit_s']} |\n"
        f"| clusters needing a (LLM) title | {r['clusters_to_title_update']} | {r['clusters_to_title_refit']} |\n"
        f"| levels after | {r['levels_after']} | {r['levels_refit']} |\n"
        f"| cluster ids of the base result | all kept | renumbered |\n\n"
        f"Speed-up {r['speedup']}x. {a.unseen} unseen themes ({r['n_new'] // 10:,} items): {r['new_l1_clusters']} new level-1 clusters, "
        f"{r['unseen_items_in_new_clusters']:.0%} of the unseen themes' items in new clusters, new clusters "
        f"{(r['new_cluster_purity'] or 0):.0%} pure, ARI of the unseen items {r['ari_unseen']}.\n"
    )
    write("update_vs_refit", {"machine": machine(), "args": vars(a), "result": r}, table)


if __name__ == "__main__":
    main()
