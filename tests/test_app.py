"""The web app, in a real headless Chromium (Debian's, driven by Playwright), plus forged-request checks."""

import json
import os
import threading
from pathlib import Path

import pandas as pd
import pytest
from werkzeug.serving import make_server

from hercules.app import create_app
from hercules.app.store import Store, UnknownIdError

pytestmark = pytest.mark.slow
# Screenshots go to the repo only when asked (HERCULES_SCREENSHOTS=benchmarks/out): a test run writes nothing it does not own.
SHOTS = Path(os.environ["HERCULES_SCREENSHOTS"]) if os.environ.get("HERCULES_SCREENSHOTS") else None
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def server(tmp_path):
    app = create_app(tmp_path / "appdata", llm_choices=["none", "fake"])
    srv = make_server("127.0.0.1", 0, app.server, threaded=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_port}", app
    srv.shutdown()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


def _pick(page, dropdown_id: str, value: str) -> None:
    page.click(f"#{dropdown_id}")
    page.locator(".dash-dropdown-option", has_text=value).first.click()
    page.keyboard.press("Escape")
    page.wait_for_selector(f"#{dropdown_id}-value:has-text('{value}')", timeout=10_000)


def test_upload_run_explore_download(server, browser, tmp_path):
    url, _ = server
    data = pd.read_csv("examples/data/banking77_test.csv").groupby("category").head(4).reset_index(drop=True)  # 308 rows
    csv = tmp_path / "banking.csv"
    data.to_csv(csv, index=False)
    page = browser.new_page(viewport={"width": 1500, "height": 950})
    page.goto(url)
    page.set_input_files("#upload input[type=file]", str(csv))
    page.wait_for_selector("text=308 rows", timeout=30_000)
    _pick(page, "labels-column", "category")
    page.fill("#levels", "12,4")
    _pick(page, "embedder", "hashing")
    _pick(page, "llm", "fake")
    page.click("#run")
    page.wait_for_selector("#tree button:has-text('L2-0')", timeout=120_000)
    pane = page.locator("#pane").inner_text().lower()
    assert "overview" in pane and "evaluation" in pane
    assert "hashing" in pane  # the embedder chosen in the form was used
    page.screenshot(path=str(tmp_path / "overview.png"))

    # open the first top cluster in the tree, click its first child: the pane and the highlight follow
    page.locator("#tree > details > summary > button").first.click()
    page.wait_for_selector("#pane-title", timeout=30_000)
    child = page.locator("#tree details[open] > div > button").first
    label = child.inner_text()
    child.click()
    cid = label.split()[0]
    page.wait_for_function(
        f"() => document.querySelector('#pane').innerText.toLowerCase().includes('cluster {cid.lower()}')", timeout=30_000
    )
    assert page.locator("#pane-title").inner_text().strip()
    opacities = page.evaluate("() => document.querySelector('#scatter .js-plotly-plot').data[1].marker.opacity")
    assert min(opacities) < 0.2 < max(opacities)  # the rest fades, related clusters stay
    shots = SHOTS or tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "app_cluster_selected.png"))
    assert (shots / "app_cluster_selected.png").stat().st_size > 10_000

    with page.expect_download() as dl:
        page.click("#dl-membership")
    path = tmp_path / "membership.csv"
    dl.value.save_as(path)
    mem = pd.read_csv(path)
    assert len(mem) == len(data) and {"L1_cluster_id", "L2_cluster_title", "category"} <= set(mem.columns)

    with page.expect_download() as dl:  # the same self-contained map as `hercules export --html`
        page.click("#dl-map")
    html_map = tmp_path / "map.html"
    dl.value.save_as(html_map)
    page_text = html_map.read_text(encoding="utf-8")
    assert "default-src 'none'" in page_text  # offline by construction: the page may load nothing
    assert "<script src=" not in page_text and "<link " not in page_text

    # level switch and search work
    page.click("#level label:has-text('L1')")
    page.fill("#search", "card")
    page.keyboard.press("Enter")
    page.wait_for_selector("#tree >> text=match(es)", timeout=10_000)


def test_two_runs_keep_their_own_logs(tmp_path):
    import logging
    import time

    from hercules.app.jobs import JobManager

    store = Store(tmp_path / "d")
    jobs = JobManager(store)
    a, b = store.new_id(), store.new_id()

    def work(tag):
        def fn(job):
            for i in range(5):
                logging.getLogger("hercules.test").info("%s step %d", tag, i)
                time.sleep(0.01)

        return fn

    ja, jb = jobs.submit(a, work("AAA")), jobs.submit(b, work("BBB"))
    ja.thread.join()
    jb.thread.join()
    assert all("AAA" in line for line in ja.log) and len(ja.log) == 5
    assert all("BBB" in line for line in jb.log) and len(jb.log) == 5
    assert (store.dir(a) / "run.log").read_text().count("AAA") == 5


def test_forged_ids_cannot_reach_outside_the_data_dir(server, tmp_path):
    url, app = server
    store: Store = app.hercules_store
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    for bad in ["../victim", "../../" + str(victim), str(victim), "0" * 31 + "/", "A" * 32, {"x": 1}, None]:
        with pytest.raises(UnknownIdError):
            store.dir(bad)
    client = app.server.test_client()
    # a forged Dash callback request naming a path as the result id
    payload = {
        "output": "pane.children",
        "outputs": {"id": "pane", "property": "children"},
        "inputs": [
            {"id": "result", "property": "value", "value": "../victim"},
            {"id": "selected", "property": "data", "value": None},
        ],
        "changedPropIds": ["result.value"],
        "state": [],
    }
    r = client.post("/_dash-update-component", data=json.dumps(payload), content_type="application/json")
    assert r.status_code == 204  # no update, nothing read
    assert client.get("/thumb/" + "a" * 32 + "/0").status_code == 404  # well-formed but unknown id
    assert client.get("/thumb/not-an-id/0").status_code == 404
    for path in ["/thumb/../victim/keep.txt", "/thumb/%2e%2e%2fvictim/0", "/thumb/..%2f..%2fvictim/keep.txt"]:
        r = client.get(path)  # at most the app's own page, never the file
        assert b"precious" not in r.data
    assert (victim / "keep.txt").read_text() == "precious"


def test_saved_image_result_with_auto_levels_opens_with_thumbnails(tmp_path, browser):
    from PIL import Image

    from hercules import Hercules

    paths = []
    for i in range(40):
        p = tmp_path / f"img{i}.png"
        Image.new("RGB", (24, 24), ((i % 4) * 80, 255 - (i % 4) * 80, (i * 37) % 255)).save(p)
        paths.append(str(p))
    Hercules("auto", image_embedder="pixels", progress=False).fit(paths).save(tmp_path / "res")
    app = create_app(tmp_path / "appdata", tmp_path / "res")
    srv = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"http://127.0.0.1:{srv.server_port}")
        page.wait_for_selector("#tree button", timeout=30_000)
        page.locator("#tree button").first.click()
        page.wait_for_selector("#pane img.thumb", timeout=30_000)
        src = page.locator("#pane img.thumb").first.get_attribute("src")
        r = page.request.get(f"http://127.0.0.1:{srv.server_port}{src}")
        assert r.status == 200 and r.headers["content-type"] == "image/png"
        page.screenshot(path=str(tmp_path / "images.png"))
    finally:
        srv.shutdown()
