"""HTML map export: time and file size for 3k, 100k and 1M items, and the Banking77 pictures of the README and docs/MAPS.md.

    .venv/bin/python benchmarks/bench_export.py                        # 3,080 (Banking77), 100k, 1M
    .venv/bin/python benchmarks/bench_export.py --sizes 3080,100000    # skip 1M
    .venv/bin/python benchmarks/bench_export.py --pictures             # map_zoomed_out/in.png, sunburst.png

3k is Banking77 (hashing embedder, keyword titles). The large sizes are synthetic clustered vectors (d=384) with
Banking77 sentences cycled as their texts, so hover texts have a realistic length. Each size runs in its own
process. The 2-D layout is timed on its own: UMAP on a 20k sample, the rest placed by k-NN. With Chromium
present, the page's load-to-first-frame time and the JavaScript cost of one view update are measured too.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import OUT, clustered_vectors, machine, peak_rss_mb, write  # noqa: E402

BANKING77 = Path(__file__).parent.parent / "examples" / "data" / "banking77_test.csv"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LEVELS = {3080: [40, 8], 100_000: [300, 50, 8], 1_000_000: [1000, 100, 10]}


def _ensure_layout(model, vectors) -> tuple[float, str]:
    """UMAP coordinates, unless the estimator already made them (it will once it calls hercules.layout)."""
    from hercules.layout import fit_layout

    current = getattr(getattr(model, "layout_", None), "method", None)
    if current == "umap":
        return float(model.timings_.get("project", 0.0)), current
    t = time.perf_counter()
    layout = fit_layout(vectors)
    model.coords_, model.layout_ = layout.coords_, layout
    return time.perf_counter() - t, layout.method


def _fit(n: int, embedder: str = "hashing"):
    import pandas as pd

    from hercules import Hercules

    texts = pd.read_csv(BANKING77)["text"].tolist()
    levels = LEVELS.get(n, [max(8, n // 300), 8])
    if n == len(texts):
        model = Hercules(levels, embedder=embedder, progress=False).fit(texts)
        return model, model.embeddings_
    E = clustered_vectors(n)
    items = [f"{texts[i % len(texts)]} ({i})" for i in range(n)]
    return Hercules(levels, progress=False).fit(items, embeddings=E), E


def browser_timing(path: Path) -> dict:
    """Load-to-first-frame and per-view-update JavaScript time in headless Chromium (software WebGL)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = b.new_page(viewport={"width": 1400, "height": 900})
        page.goto(path.resolve().as_uri())
        page.wait_for_selector("body[data-ready='1']", timeout=300_000)
        ready = page.evaluate("hercules.readyMs")
        frame = page.evaluate(
            """() => { const t = performance.now();
            for (let i = 0; i < 20; i++) hercules.setView(0.5 + 0.001 * i, 0.5, 1 + 0.2 * i);
            return (performance.now() - t) / 20; }"""
        )
        renderer = page.evaluate("hercules.renderer")
        b.close()
    return {"page_ready_s": round(ready / 1000, 2), "view_update_ms": round(frame, 1), "renderer": renderer}


def one(n: int) -> dict:
    from hercules.viz import export_html

    t = time.perf_counter()
    model, E = _fit(n)
    fit_s = time.perf_counter() - t
    layout_s, method = _ensure_layout(model, E)
    out = Path(tempfile.mkdtemp()) / f"export_{n}.html"
    t = time.perf_counter()
    export_html(model, out)
    export_s = time.perf_counter() - t
    r = {
        "n": n,
        "levels": model.levels_,
        "fit_s": round(fit_s, 1),
        "layout": method,
        "layout_s": round(layout_s, 1),
        "export_s": round(export_s, 2),
        "points_drawn": min(n, 100_000),
        "html_mb": round(out.stat().st_size / 1e6, 2),
        "peak_rss_mb": round(peak_rss_mb(), 0),
    }
    if Path(CHROMIUM).exists():
        r.update(browser_timing(out))
    out.unlink()
    return r


def pictures(embedder: str, result: str | None = None) -> None:
    """Banking77 map (zoomed out and in) and sunburst for the README and docs/MAPS.md; ``result``: a saved result
    (e.g. the quick start's, with LLM titles) instead of a fresh keyword-titled fit."""
    from playwright.sync_api import sync_playwright

    import hercules
    from hercules.viz import export_html, plot

    if result:
        model = hercules.load(result)
    else:
        model, E = _fit(3080, embedder)
        _ensure_layout(model, E)
    plot(model, kind="sunburst", path=OUT / "sunburst.png", dpi=90)
    html = export_html(model, Path(tempfile.mkdtemp()) / "banking77.html", title="Banking77: 3,080 queries")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = b.new_page(viewport={"width": 1400, "height": 860})
        page.goto(html.resolve().as_uri())
        page.wait_for_selector("body[data-ready='1']")
        page.screenshot(path=str(OUT / "map_zoomed_out.png"))
        box = page.locator("#map").bounding_box()
        x, y = page.evaluate(
            """() => { const S = hercules.state, lv = S.levels[S.L - 1], v = S.view;
            return [(lv.anchor[0] - v.cx) * v.scale + S.W / 2, S.H / 2 - (lv.anchor[1] - v.cy) * v.scale]; }"""
        )
        page.mouse.move(box["x"] + x, box["y"] + y)
        for _ in range(5):
            page.mouse.wheel(0, -160)
            page.wait_for_timeout(80)
        hx, hy = page.evaluate(  # hover the point nearest a spot right of the centre: the tooltip shows
            """() => { const S = hercules.state, v = S.view; let best = [1e9, 0, 0];
            for (let i = 0; i < S.n; i++) {
              const x = (S.xy[2 * i] - v.cx) * v.scale + S.W / 2, y = S.H / 2 - (S.xy[2 * i + 1] - v.cy) * v.scale;
              const d = (x - S.W * 0.6) ** 2 + (y - S.H * 0.45) ** 2;
              if (d < best[0]) best = [d, x, y];
            } return [best[1], best[2]]; }"""
        )
        page.mouse.move(box["x"] + hx, box["y"] + hy)
        page.wait_for_timeout(300)
        page.screenshot(path=str(OUT / "map_zoomed_in.png"))
        b.close()
    print("wrote", *(OUT / f for f in ("map_zoomed_out.png", "map_zoomed_in.png", "sunburst.png")))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="3080,100000,1000000")
    ap.add_argument("--one", type=int, help="run one size and print a JSON line (used internally)")
    ap.add_argument("--pictures", action="store_true", help="Banking77 screenshots for the README and docs/MAPS.md instead")
    ap.add_argument("--embedder", default="auto", help="text embedder for --pictures (auto: MiniLM when installed)")
    ap.add_argument("--result", help="for --pictures: draw this saved result (e.g. results/banking77 with LLM titles)")
    a = ap.parse_args()
    if a.pictures:
        pictures(a.embedder, a.result)
        return
    if a.one:
        print(json.dumps(one(a.one)))
        return
    rows = []
    for n in (int(s) for s in a.sizes.split(",")):
        proc = subprocess.run([sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, check=True)
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    head = "| items | levels | points drawn | HTML MB | export s | layout | layout s | fit s | page ready s | view update ms |\n"
    table = head + "|---|---|---|---|---|---|---|---|---|---|\n"
    for r in rows:
        table += (
            f"| {r['n']:,} | {r['levels']} | {r['points_drawn']:,} | {r['html_mb']} | {r['export_s']} | {r['layout']} | "
            f"{r['layout_s']} | {r['fit_s']} | {r.get('page_ready_s', '')} | {r.get('view_update_ms', '')} |\n"
        )
    write("export_sizes", {"machine": machine(), "results": rows}, table)


if __name__ == "__main__":
    main()
