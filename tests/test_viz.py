"""Maps and pictures: the exported HTML in a real headless Chromium with the network cut off, static plots, CLI."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from hercules import Hercules
from hercules.cli.viz import export, plot
from hercules.viz import VizError, export_html
from hercules.viz import plot as viz_plot

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def model():
    df = pd.read_csv("examples/data/banking77_test.csv").groupby("category").head(4).reset_index(drop=True)  # 308 rows
    return Hercules([20, 5], embedder="hashing", progress=False).fit(df)


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("result") / "banking"
    model.save(str(path))
    return path


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _open(browser, path: Path):
    """Open the file with every other request aborted and recorded (there should be none)."""
    page = browser.new_page(viewport={"width": 1300, "height": 850})
    url = path.resolve().as_uri()
    blocked: list[str] = []
    errors: list[str] = []

    def route(r):
        if r.request.url == url:
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("request", lambda r: None if r.url == url or r.url.startswith(("data:", "blob:")) else blocked.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    return page, blocked, errors


def _canvas_pixels(page) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(page.locator("#map").screenshot())).convert("RGB"))


@pytest.mark.slow
def test_exported_map_works_offline(model, tmp_path, browser):
    path = export_html(model, tmp_path / "map.html", title="Banking <test>")
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)  # nothing to fetch
    assert "Banking &lt;test&gt;" in text
    page, blocked, errors = _open(browser, path)
    pix = _canvas_pixels(page)
    assert pix.std() > 10 and len(np.unique(pix.reshape(-1, 3), axis=0)) > 20  # points drawn, in several colours

    tree = page.locator("#tree").inner_text()
    for c in model.clusters(2):
        assert " ".join(c.title.split()) in tree

    # zooming in switches the titles from level 2 to level 1
    assert page.evaluate("hercules.activeLevel()") == 2
    box = page.locator("#map").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(8):
        page.mouse.wheel(0, -300)
        page.wait_for_timeout(50)
    page.wait_for_function("hercules.activeLevel() === 1")
    assert page.locator("#labels .label:not(.bg)[data-cid^='L1-']").count() > 0

    # search finds a level-1 title; picking it opens the pane
    target = model.clusters(1)[3]
    page.fill("#search", target.title)
    hit = page.locator(f"#results button[data-cid='{target.id}']")
    hit.wait_for(timeout=5_000)
    hit.click()
    page.wait_for_selector("#pane:not([hidden])")
    assert page.locator("#pane-title").inner_text() == " ".join(target.title.split())
    assert f"{target.size} items" in page.locator("#pane-size").inner_text()
    assert target.parent.title.split()[0] in page.locator("#pane-path").inner_text()

    # clicking a title on the map opens its pane
    page.click("#pane-close")
    page.fill("#search", "")
    page.evaluate("hercules.setView(0.5, 0.5, 1)")
    label = next(lab for lab in page.locator("#labels .label:not(.bg)").all() if lab.is_visible())
    cid = label.get_attribute("data-cid")
    label.click()
    page.wait_for_selector("#pane:not([hidden])")
    assert page.locator("#pane-title").inner_text() == " ".join(model.cluster(cid).title.split())
    assert page.locator("#pane-samples li").count() > 0

    # the tree: a top-level entry selects its cluster
    page.locator("#tree > details > summary > button").nth(1).click()
    assert page.locator("#pane-id").inner_text().startswith("L2-1")

    # hovering a point shows its text
    page.click("#pane-close")
    page.evaluate("hercules.setView(0.5, 0.5, 1)")
    x, y, text = page.evaluate(
        """() => { const S = hercules.state, v = S.view;
        for (let i = 0; i < S.n; i++) {
          const x = (S.xy[2 * i] - v.cx) * v.scale + S.W / 2, y = S.H / 2 - (S.xy[2 * i + 1] - v.cy) * v.scale;
          if (x > 60 && y > 60 && x < S.W - 60 && y < S.H - 60) return [x, y, S.meta.texts[i]];
        } }"""
    )
    page.mouse.move(box["x"] + x, box["y"] + y)
    page.wait_for_selector("#tooltip:not([hidden])", timeout=5_000)
    assert page.locator("#tooltip .tt-text").inner_text()
    assert blocked == [] and errors == []
    page.close()


@pytest.mark.slow
def test_map_sample_and_canvas_fallback(model, tmp_path, browser):
    path = export_html(model, tmp_path / "small.html", max_points=50)
    page, blocked, errors = _open(browser, path)
    assert "50 of 308 items shown" in page.locator("#stats").inner_text()
    page.close()
    # without WebGL the page draws with a 2-D canvas
    page = browser.new_page(viewport={"width": 900, "height": 600})
    page.add_init_script(
        "HTMLCanvasElement.prototype.getContext = ((f) => function (t, o) { return t === 'webgl' ? null : f.call(this, t, o); })(HTMLCanvasElement.prototype.getContext);"
    )
    page.goto(path.resolve().as_uri())
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    assert page.evaluate("hercules.renderer") == "canvas2d"
    assert _canvas_pixels(page).std() > 3
    assert blocked == [] and errors == []


def test_export_checks_its_input(model, tmp_path):
    with pytest.raises(VizError, match="not fitted"):
        export_html(Hercules([3]), tmp_path / "x.html")
    with pytest.raises(VizError, match="max_points"):
        export_html(model, tmp_path / "x.html", max_points=0)
    size = export_html(model, tmp_path / "m.html").stat().st_size
    assert 20_000 < size < 400_000  # inlined page + 308 items


@pytest.mark.parametrize("kind", ["map", "sunburst", "sizes"])
def test_plots(model, tmp_path, kind):
    pytest.importorskip("matplotlib")
    png = tmp_path / f"{kind}.png"
    fig = viz_plot(model, kind=kind, path=png)
    assert fig is not None and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000
    svg = tmp_path / f"{kind}.svg"
    viz_plot(model, kind=kind, path=svg)
    assert svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()


def test_plot_errors(model, tmp_path):
    with pytest.raises(VizError, match="unknown plot kind"):
        viz_plot(model, kind="pie")
    with pytest.raises(VizError, match="png"):
        viz_plot(model, kind="map", path=tmp_path / "x.jpg")


def test_cli(saved, tmp_path):
    runner = CliRunner()
    out = tmp_path / "map.html"
    r = runner.invoke(export, [str(saved), "--html", str(out), "--max-points", "100"])
    assert r.exit_code == 0, r.output
    assert out.exists() and "wrote" in r.output
    png = tmp_path / "sun.png"
    r = runner.invoke(plot, [str(saved), "--kind", "sunburst", "-o", str(png)])
    assert r.exit_code == 0, r.output
    assert png.stat().st_size > 5_000
    r = runner.invoke(plot, [str(saved), "-o", str(tmp_path / "x.gif")])
    assert r.exit_code == 1 and r.output.startswith("Error:") and len(r.output.strip().splitlines()) == 1
    bad = tmp_path / "not-a-result"
    bad.mkdir()
    r = runner.invoke(export, [str(bad), "--html", str(out)])
    assert r.exit_code == 1 and r.output.startswith("Error:") and "not a hercules result" in r.output


@pytest.mark.slow
def test_image_map_has_thumbnails(tmp_path, browser):
    paths = []
    for i in range(24):
        p = tmp_path / f"im{i:02d}.png"
        Image.new("RGB", (40, 30), (i * 10, 200 - i * 8, 90)).save(p)
        paths.append(str(p))
    m = Hercules([4, 2], image_embedder="pixels", progress=False).fit(paths)
    path = export_html(m, tmp_path / "images.html")
    page, blocked, errors = _open(browser, path)
    assert page.evaluate("Object.keys(hercules.state.meta.thumbs).length") == 24
    page.locator("#tree > details > summary > button").first.click()
    assert page.locator("#pane-samples li img").count() > 0
    assert page.locator("#pane-samples li img").first.get_attribute("src").startswith("data:image/jpeg;base64,")
    assert blocked == [] and errors == []
