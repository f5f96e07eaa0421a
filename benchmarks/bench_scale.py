"""Scale: synthetic clustered vectors (d=384) to a [1000, 100, 10] hierarchy, no embedding, no LLM.

Run one size per process so peak memory is per size:
    .venv/bin/python benchmarks/bench_scale.py --n 1000000
    .venv/bin/python benchmarks/bench_scale.py --curve   # 10k..1M, writes a PNG plot
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from common import OUT, clustered_vectors, machine, peak_rss_mb, write  # noqa: E402


def one(n: int, levels: list[int], layout: str | None = None) -> dict:
    from hercules import Hercules

    t = time.perf_counter()
    X = clustered_vectors(n)
    gen = time.perf_counter() - t
    base = peak_rss_mb()
    t = time.perf_counter()
    kw = {"layout": layout} if layout else {}  # None: the library's default (older versions had no layout)
    m = Hercules(levels, progress=False, **kw).fit(embeddings=X)
    wall = time.perf_counter() - t
    return {
        "n": n,
        "levels": m.levels_,
        "layout": getattr(getattr(m, "layout_", None), "method", "pca"),
        "fit_s": round(wall, 2),
        "timings": {k: round(v, 2) for k, v in m.timings_.items()},
        "matrix_mb": round(X.nbytes / 2**20, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_before_fit_mb": round(base, 1),
        "generate_s": round(gen, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--levels", default="1000,100,10")
    ap.add_argument("--curve", action="store_true")
    ap.add_argument("--json", action="store_true", help="print one JSON line (used by --curve)")
    ap.add_argument("--layout", choices=["auto", "umap", "pca"], help="map layout (default: the library's default)")
    a = ap.parse_args()
    levels = [int(x) for x in a.levels.split(",")]
    if not a.curve:
        r = one(a.n, levels, a.layout)
        if a.json:
            print(json.dumps(r))
            return
        table = (
            "| N | levels | layout | fit s | cluster s | label s | layout s | peak RSS MB | matrix MB |\n"
            "|---|---|---|---|---|---|---|---|---|\n"
            f"| {r['n']:,} | {r['levels']} | {r['layout']} | {r['fit_s']} | {r['timings']['cluster']} | "
            f"{r['timings']['label']} | {r['timings'].get('project', '')} | {r['peak_rss_mb']} | {r['matrix_mb']} |\n"
        )
        write(f"scale_{a.n}", {"machine": machine(), "result": r}, table)
        return
    rows = []
    for n in (10_000, 30_000, 100_000, 300_000, 1_000_000):
        lv = [min(levels[0], n // 10)] + levels[1:]
        cmd = [sys.executable, __file__, "--n", str(n), "--levels", ",".join(map(str, lv)), "--json"]
        out = (
            subprocess.run(
                cmd + (["--layout", a.layout] if a.layout else []),
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        rows.append(json.loads(out))
        print(rows[-1], flush=True)
    table = "| N | levels | fit s | cluster s | peak RSS MB | matrix MB |\n|---|---|---|---|---|---|\n" + "".join(
        f"| {r['n']:,} | {r['levels']} | {r['fit_s']} | {r['timings']['cluster']} | {r['peak_rss_mb']} | {r['matrix_mb']} |\n"
        for r in rows
    )
    write("scale_curve", {"machine": machine(), "rows": rows}, table)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(1, 2, figsize=(10, 4))
        ns = [r["n"] for r in rows]
        ax[0].loglog(ns, [r["fit_s"] for r in rows], "o-")
        ax[0].set(xlabel="items", ylabel="fit seconds", title="hercules fit time (d=384, no LLM)")
        ax[1].loglog(ns, [r["peak_rss_mb"] for r in rows], "o-", label="peak RSS")
        ax[1].loglog(ns, [r["matrix_mb"] for r in rows], "--", label="input matrix")
        ax[1].set(xlabel="items", ylabel="MB", title="memory")
        ax[1].legend()
        fig.tight_layout()
        fig.savefig(OUT / "scale_curve.png", dpi=100)
    except ImportError:
        print("matplotlib not installed: no plot (pip install 'hercules-cluster[bench]')")


if __name__ == "__main__":
    main()
