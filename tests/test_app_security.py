"""The web app under hostile requests (issue 10): forged Dash payloads, tables that name server files.

Requests go to Dash's ``/_dash-update-component`` as a hand-written client would send them. Each
case asserts that the answer is not a 500 and that no file outside the app's data directory was
opened (an audit hook records every ``open`` under the watched folder).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import sys
import time
import zipfile
from typing import Any

import pandas as pd
import pytest

from hercules.app import create_app

_WATCHED: list[str] = []  # folders whose files the app must never open
_OPENED: list[str] = []


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _WATCHED and args and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.fsdecode(args[0])
        if any(path.startswith(w) for w in _WATCHED):
            _OPENED.append(path)


sys.addaudithook(_audit)  # one hook per process; it does nothing while no folder is watched


@pytest.fixture
def victim(tmp_path):
    """Files outside the data dir: images an attacker would like thumbnailed, and a secret."""
    from PIL import Image

    folder = tmp_path / "victim"
    folder.mkdir()
    for i in range(24):
        Image.new("RGB", (16, 16), (10 * i, 200, 30)).save(folder / f"photo{i}.png")
    (folder / "keep.txt").write_text("precious")
    _WATCHED.append(str(folder))
    _OPENED.clear()
    yield folder
    _WATCHED.remove(str(folder))


@pytest.fixture(scope="module")
def small_result(tmp_path_factory):
    from hercules import Hercules

    df = pd.read_csv("examples/data/banking77_test.csv").groupby("category").head(1).reset_index(drop=True)
    out = tmp_path_factory.mktemp("res") / "small"
    Hercules([8, 3], embedder="hashing", progress=False).fit(df).save(out)
    return out


class DashClient:
    """Posts callback requests the way the page does, with any values (forged ones included)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.http = app.server.test_client()
        self.deps = self.http.get("/_dash-dependencies").get_json()

    def _dep(self, output: str) -> dict:
        """The callback whose output string starts with ``output`` (after the multi-output dots)."""
        return next(d for d in self.deps if d["output"].lstrip(".").startswith(output))

    def call(self, output: str, values: dict[str, Any], changed: str | None = None, raw_inputs: list | None = None):
        """Call the callback writing ``output`` (e.g. ``"pane.children"``); ``values`` by component id."""
        d = self._dep(output)
        out = d["output"]
        if out.startswith(".."):
            outputs: Any = []
            for part in out.strip(".").split("..."):
                cid, prop = part.rsplit(".", 1)
                outputs.append({"id": cid, "property": prop})
        else:
            cid, prop = out.rsplit(".", 1)
            outputs = {"id": cid, "property": prop}
        inputs = raw_inputs or [{"id": i["id"], "property": i["property"], "value": values.get(i["id"])} for i in d["inputs"]]
        state = [{"id": s["id"], "property": s["property"], "value": values.get(s["id"])} for s in d["state"]]
        body = {
            "output": out,
            "outputs": outputs,
            "inputs": inputs,
            "state": state,
            "changedPropIds": [changed or f"{d['inputs'][0]['id']}.{d['inputs'][0]['property']}"],
        }
        return self.http.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")


def _response(r) -> dict:
    return r.get_json()["response"] if r.status_code == 200 else {}


def _data_url(data: bytes, mime: str = "text/csv") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def upload(client: DashClient, data: bytes, filename: str, mime: str = "text/csv") -> tuple[str | None, str]:
    """Post an upload; returns the run id the server minted (or None) and the info line shown."""
    d = client._dep("upload-run.data")
    body = {
        "output": d["output"],
        "outputs": [{"id": p.rsplit(".", 1)[0], "property": p.rsplit(".", 1)[1]} for p in d["output"].strip(".").split("...")],
        "inputs": [{"id": "upload", "property": "contents", "value": _data_url(data, mime)}],
        "state": [{"id": "upload", "property": "filename", "value": filename}],
        "changedPropIds": ["upload.contents"],
    }
    r = client.http.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")
    assert r.status_code != 500
    resp = _response(r)
    return resp.get("upload-run", {}).get("data"), str(resp.get("upload-info", {}).get("children"))


RUN_FORM = {
    "levels": "4,2",
    "representation": "direct",
    "embedder": "hashing",
    "llm": "none",
    "topic-seed": "",
    "resampling": [],
    "seed": "0",
}


def run(client: DashClient, rid: Any, **form: Any):
    return client.call("job-run.data", {"run": 1, "upload-run": rid, **RUN_FORM, **form})


def wait_for_job(client: DashClient, rid: str, timeout: float = 120) -> str:
    """Poll as the page does until the job ends; returns the last status line."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = client.call("progress.value", {"poll": 1, "job-run": rid})
        assert r.status_code != 500
        status = str(_response(r).get("status", {}).get("children", ""))
        if status.startswith(("Done", "Failed")) or r.status_code == 204:
            return status
        time.sleep(0.3)
    raise AssertionError("job did not finish")


@pytest.fixture
def client(tmp_path, small_result):
    app = create_app(tmp_path / "appdata", small_result, llm_choices=["none", "fake"])
    return DashClient(app)


def test_a_table_of_server_paths_never_reaches_those_files(tmp_path, victim):
    """Failure 3: a CSV whose `path` column names images on the server."""
    app = create_app(tmp_path / "appdata")
    client = DashClient(app)
    paths = [str(p) for p in sorted(victim.glob("*.png"))] + ["/etc/definitely-missing.png"]
    csv = pd.DataFrame({"path": paths, "note": ["x"] * len(paths)}).to_csv(index=False).encode()
    rid, info = upload(client, csv, "evil.csv")
    assert rid
    statuses = []
    for text_column in ("path", None):  # chosen explicitly, or left to the default
        r = run(client, rid, **{"text-column": text_column, "levels": "3,2"})
        assert r.status_code != 500
        status = str(_response(r).get("status", {}).get("children", ""))
        started = _response(r).get("job-run", {}).get("data")
        if started:  # the app ran it (the old one did): let it finish, then look at what it exposed
            status = wait_for_job(client, started)
        statuses.append(status)
    runs = [p.name for p in (tmp_path / "appdata" / "runs").iterdir()]
    for run_id in runs:
        for i in range(3):
            r = client.http.get(f"/thumb/{run_id}/{i}")
            assert r.status_code == 404 and b"PNG" not in r.data
    assert _OPENED == []  # no file outside the data dir was opened
    logs = "".join(p.read_text() for p in (tmp_path / "appdata").rglob("run.log"))
    assert str(victim) not in logs and "definitely-missing" not in logs  # nor its existence revealed
    assert "image files" in info and all("image files" in s for s in statuses), (info, statuses)  # and the user is told why


def test_thumbnails_only_from_inside_the_store(tmp_path, victim):
    from types import SimpleNamespace

    from hercules.app.store import Store

    store = Store(tmp_path / "appdata")
    rid = store.new_id()
    inside = store.dir(rid) / "img" / "a.png"
    inside.parent.mkdir()
    inside.write_bytes((victim / "photo0.png").read_bytes())
    (store.dir(rid) / "img" / "link.png").symlink_to(victim / "photo1.png")
    model = SimpleNamespace(
        dataset_=SimpleNamespace(image_paths=[str(inside), str(victim / "photo2.png"), str(inside.parent / "link.png")])
    )
    assert store.image_file(rid, 0, model) == inside
    assert store.image_file(rid, 1, model) is None  # outside the store
    assert store.image_file(rid, 2, model) is None  # a link inside that points outside
    assert store.image_file(rid, 3, model) is None and store.image_file(rid, -1, model) is None


def test_zip_upload_keeps_its_images_inside_the_run_folder(tmp_path):
    from PIL import Image

    app = create_app(tmp_path / "appdata")
    client = DashClient(app)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(5):
            im = io.BytesIO()
            Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(im, format="PNG")
            zf.writestr(f"pics/{i}.png", im.getvalue())
    rid, info = upload(client, buf.getvalue(), "pics.zip", "application/zip")
    assert rid and "5 rows" in info
    run_dir = app.hercules_store.dir(rid)
    images = list(run_dir.rglob("*.png"))
    assert len(images) == 5 and all(run_dir in p.resolve().parents for p in images)


def _pattern_input(cid: Any) -> list:
    node = {"type": "node", "cid": cid, "src": "tree"}
    return [{"id": "scatter", "property": "clickData", "value": None}, [{"id": node, "property": "n_clicks", "value": 1}]]


def _changed(cid: Any) -> str:
    return json.dumps({"cid": cid, "src": "tree", "type": "node"}, sort_keys=True, separators=(",", ":")) + ".n_clicks"


# (name, the output of the callback called, values, expected status or None for "200 or 204")
FORGED = [
    ("pane: result id is a dict", "pane.children", {"result": {"x": 1}}, None),
    ("pane: result id is a path", "pane.children", {"result": "../victim"}, None),
    ("figure: level abc", "scatter.figure", {"level": "abc"}, 204),
    ("figure: level 99", "scatter.figure", {"level": 99}, 204),
    ("figure: level is a list", "scatter.figure", {"level": [1]}, 204),
    ("figure: unknown size mode", "scatter.figure", {"level": 1, "size-mode": "cube"}, 204),
    ("figure: show-items not a list", "scatter.figure", {"level": 1, "show-items": "yes"}, 204),
    ("figure: cluster L99-0", "scatter.figure", {"level": 1, "selected": "L99-0"}, 200),
    ("figure: cluster L1-999999", "scatter.figure", {"level": 1, "selected": "L1-999999"}, 200),
    ("figure: cluster is a dict", "scatter.figure", {"level": 1, "selected": {"$ne": 1}}, 200),
    ("hover: junk", "hover-thumbs.show", {"scatter": "junk"}, 204),
    ("hover: huge item index", "hover-thumbs.show", {"scatter": {"points": [{"customdata": 10**12, "bbox": {}}]}}, 200),
    ("hover: points not dicts", "hover-thumbs.show", {"scatter": {"points": [1, 2]}}, 204),
    ("poll: id is a list", "progress.value", {"poll": 1, "job-run": ["a"]}, 200),
    ("poll: unknown id", "progress.value", {"poll": 1, "job-run": "0" * 32}, 200),
    ("download: path as id", "download.data", {"dl-membership": 1, "result": "../victim/keep.txt"}, 204),
    ("download: id is a dict", "download.data", {"dl-membership": 1, "result": {"a": 1}}, 204),
    ("run: no upload", "job-run.data", {"run": 1, "upload-run": None}, 200),
    ("run: id is a dict", "job-run.data", {"run": 1, "upload-run": {"id": 1}}, 200),
]


@pytest.mark.parametrize("name,target,values,expected", FORGED, ids=[c[0] for c in FORGED])
def test_forged_requests_never_500(client, victim, name, target, values, expected):
    rid = client.app.hercules_store.results()[0][0]
    base = {"result": rid, "level": 1, "size-mode": "sqrt", "selected": None, "show-items": ["items"], "search": None}
    r = client.call(target, {**base, **values})
    assert r.status_code in ((200, 204) if expected is None else (expected,)), r.data[:300]
    assert b"precious" not in r.data
    assert _OPENED == []
    assert not client.app.hercules_context.jobs.jobs  # nothing was started


def test_forged_selection_callback(client):
    d = next(d for d in client.deps if d["output"] == "selected.data")
    for cid, ok in [("L1-0", True), ({"$gt": ""}, False), ("L1-0' or 1=1", False), (["L1-0"], False)]:
        body = {
            "output": d["output"],
            "outputs": {"id": "selected", "property": "data"},
            "inputs": _pattern_input(cid),
            "state": [],
            "changedPropIds": [_changed(cid)],
        }
        r = client.http.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")
        assert r.status_code == (200 if ok else 204), (cid, r.status_code)


def test_pane_with_unknown_cluster_shows_the_overview(client):
    rid = client.app.hercules_store.results()[0][0]
    for sel in ["L99-0", "L1-999999", "l1-0x", {"a": 1}, "L0-0"]:
        r = client.call("pane.children", {"result": rid, "selected": sel}, changed="selected.data")
        assert r.status_code == 200
        assert "Overview" in json.dumps(_response(r)["pane"])


def test_run_requests_are_checked_against_the_form(client, tmp_path, caplog):
    store = client.app.hercules_store
    imported = store.results()[0][0]
    r = run(client, imported, **{"text-column": None})
    assert r.status_code == 200 and "opened, not uploaded" in json.dumps(_response(r))

    csv = pd.read_csv("examples/data/banking77_test.csv").head(60).to_csv(index=False).encode()
    rid, info = upload(client, csv, "bank.csv")
    assert rid and "60 rows" in info
    base = {"text-column": "text"}
    with caplog.at_level(logging.WARNING, logger="hercules.app"):
        for forged in [
            {"embedder": "hashing:100000000"},
            {"embedder": "x" * 50_000},
            {"llm": "openai:gpt-4o-mini"},
            {"representation": "both"},
            {"text-column": "no such column"},
            {"labels-column": {"a": 1}},
            {"resampling": "on"},
            {"topic-seed": ["a"]},
        ]:
            r = run(client, rid, **{**base, **forged})
            assert r.status_code == 204, forged
    assert caplog.records and all(len(rec.getMessage()) < 400 for rec in caplog.records)  # clipped
    for bad, words in [
        ({"levels": "abc"}, "levels"),
        ({"levels": "5,10"}, "decrease"),
        ({"seed": "1e99"}, "seed"),
        ({"levels": "500"}, "rows"),
    ]:
        r = run(client, rid, **{**base, **bad})
        assert r.status_code == 200 and words in json.dumps(_response(r)).lower(), bad
    assert not client.app.hercules_context.jobs.jobs


@pytest.mark.parametrize(
    "contents,filename",
    [
        ("data:text/csv;base64,@@@@", "a.csv"),
        ("data:text/csv;base64", "a.csv"),
        ("not a data url", "a.csv"),
        (12345, "a.csv"),
        (["x"], "a.csv"),
        (_data_url(b"a,b\n1,2\n"), {"name": "a.csv"}),
        (_data_url(b"a,b\n1,2\n"), "a.exe"),
        (_data_url(b"\x00\x01garbage"), "a.parquet"),
        (_data_url(b"PK\x03\x04 not really a zip"), "a.zip"),
    ],
)
def test_bad_uploads_get_a_message(client, contents, filename):
    d = client._dep("upload-run.data")
    body = {
        "output": d["output"],
        "outputs": [{"id": p.rsplit(".", 1)[0], "property": p.rsplit(".", 1)[1]} for p in d["output"].strip(".").split("...")],
        "inputs": [{"id": "upload", "property": "contents", "value": contents}],
        "state": [{"id": "upload", "property": "filename", "value": filename}],
        "changedPropIds": ["upload.contents"],
    }
    before = set(client.app.hercules_store.runs_dir.iterdir())
    r = client.http.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")
    assert r.status_code == 200
    info = str(_response(r)["upload-info"]["children"])
    assert info and "rows" not in info
    assert set(client.app.hercules_store.runs_dir.iterdir()) == before  # nothing left behind


def test_malformed_dash_bodies_are_not_500(client):
    for body in [
        {"output": "pane.children"},
        {"output": "nope.children", "inputs": []},
        {"output": "pane.children", "inputs": "x", "state": 3},
        [],
    ]:
        r = client.http.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")
        assert r.status_code in (200, 204, 400), (body, r.status_code)


def test_long_search_is_clipped_not_an_error(client):
    rid = client.app.hercules_store.results()[0][0]
    r = client.call("tree.children", {"result": rid, "search": "card" * 50_000, "selected": None}, changed="search.value")
    assert r.status_code == 200


def test_imported_image_result_is_served_from_a_copy_in_the_store(tmp_path):
    from PIL import Image

    from hercules import Hercules

    src = tmp_path / "imgs"
    src.mkdir()
    paths = []
    for i in range(12):
        p = src / f"i{i}.png"
        Image.new("RGB", (16, 16), ((i % 3) * 100, 50, 200 - (i % 3) * 60)).save(p)
        paths.append(str(p))
    Hercules([3], image_embedder="pixels", progress=False).fit(paths).save(tmp_path / "res")
    app = create_app(tmp_path / "appdata", tmp_path / "res")
    rid = app.hercules_store.results()[0][0]
    http = app.server.test_client()
    _WATCHED.append(str(src))
    _OPENED.clear()
    try:
        r = http.get(f"/thumb/{rid}/0")
        assert r.status_code == 200 and r.mimetype == "image/png"
        assert _OPENED == []  # served from the store's copy, not from the original folder
    finally:
        _WATCHED.remove(str(src))
    assert http.get(f"/thumb/{rid}/12").status_code == 404


def test_retention_deletes_oldest_first_and_spares_protected_runs(tmp_path):
    from hercules.app.store import Store

    store = Store(tmp_path / "d")
    now = time.time()
    rids = []
    for age_days in (10, 5, 3, 0):
        rid = store.new_id()
        (store.dir(rid) / "upload.csv").write_bytes(b"x" * 1000)
        store.write_meta(rid, created=now - age_days * 86400)
        rids.append(rid)
    oldest, old, mid, new = rids
    assert store.enforce_retention(max_age_s=7 * 86400, protect={oldest}) == []  # protected, though too old
    assert store.enforce_retention(max_age_s=4 * 86400, protect={oldest}) == [old]
    assert store.enforce_retention(max_bytes=2500, protect={oldest}) == [mid]
    assert sorted(p.name for p in store.runs_dir.iterdir()) == sorted([oldest, new])
    assert store.enforce_retention() == []


def test_retention_never_deletes_a_running_job(tmp_path):
    import threading

    from hercules.app.context import AppContext, Retention
    from hercules.app.store import Store

    actx = AppContext(Store(tmp_path / "d"))
    actx.retention = Retention.from_options(max_store_gb=1e-9, max_age_days=None)
    rid = actx.store.new_id()
    (actx.store.dir(rid) / "upload.csv").write_bytes(b"x" * 10_000)
    gate = threading.Event()
    job = actx.jobs.submit(rid, lambda job: gate.wait(10))
    assert actx.retain() == [] and actx.store.dir(rid).is_dir()
    gate.set()
    job.thread.join()
    assert not actx.store.runs_dir.joinpath(rid).exists()  # deleted once finished (over the limit)
    with pytest.raises(ValueError):
        Retention.from_options(max_store_gb=-1, max_age_days=None)


def test_job_log_handler_lives_only_while_the_job_runs(tmp_path):
    from hercules.app.jobs import JobManager
    from hercules.app.store import Store
    from hercules.common.progress import ProgressEvent

    logger = logging.getLogger("hercules")
    before = list(logger.handlers)
    level_before = logger.level
    create_app(tmp_path / "a1")
    create_app(tmp_path / "a2")
    assert logger.handlers == before  # creating apps adds no handler
    store = Store(tmp_path / "d")
    seen = []

    def work(job):
        seen.append(len(logger.handlers))
        logging.getLogger("hercules.test").info("hello")
        job.report(ProgressEvent("level", level=1, done=1, total=2, message="level 1: 8 clusters"))
        seen.append(job.progress)

    job = JobManager(store).submit(store.new_id(), work)
    job.thread.join()
    assert seen[0] == len(before) + 1 and 0.6 < seen[1] < 0.7
    assert logger.handlers == before and logger.level == level_before
    assert any("hello" in line for line in job.log) and job.status == "done"


def test_progress_follows_events_and_never_goes_back():
    from hercules.app.jobs import Job
    from hercules.common.progress import ProgressEvent

    job = Job("x", planned_levels=None)
    job.report(ProgressEvent("embed", message="encoding 77 items"))
    assert job.progress == pytest.approx(0.1) and job.message == "encoding 77 items"
    job.report(ProgressEvent("level", level=1, done=1, total=None))
    auto1 = job.progress
    job.report(ProgressEvent("cluster", level=2))
    assert job.progress == auto1  # a later stage with a lower nominal value does not move the bar back
    job.report(ProgressEvent("level", level=2, done=2, total=None))
    assert auto1 < job.progress < 0.95
    job.report(ProgressEvent("layout"))
    assert job.progress == pytest.approx(0.95)


def test_a_second_run_over_an_upload_keeps_the_first_result(tmp_path):
    app = create_app(tmp_path / "appdata")
    client = DashClient(app)
    csv = pd.read_csv("examples/data/banking77_test.csv").head(60).to_csv(index=False).encode()
    rid, _ = upload(client, csv, "bank.csv")
    first = _response(run(client, rid, **{"text-column": "text"}))["job-run"]["data"]
    assert first == rid and wait_for_job(client, first) == "Done."
    r = run(client, rid, **{"text-column": "text", "levels": "6,3"})
    second = _response(r)["job-run"]["data"]
    assert second != first and wait_for_job(client, second) == "Done."
    store = app.hercules_store
    assert store.model(first).levels_ == [4, 2] and store.model(second).levels_ == [6, 3]
    assert store.meta(second)["config"]["levels"] == [6, 3]
    job = app.hercules_context.jobs.get(second)
    assert job.progress == 1.0 and any("level" in line for line in job.log)


def test_a_bug_in_a_view_is_no_update_with_a_clipped_log_line(client, monkeypatch, caplog):
    from hercules.app import views

    def broken(*a, **k):
        raise RuntimeError("user text " * 10_000)

    monkeypatch.setattr(views, "overview", broken)
    rid = client.app.hercules_store.results()[0][0]
    with caplog.at_level(logging.ERROR, logger="hercules.app"):
        r = client.call("pane.children", {"result": rid, "selected": None})
    assert r.status_code == 204
    (rec,) = [rec for rec in caplog.records if "failed" in rec.getMessage()]
    assert "RuntimeError" in rec.getMessage() and len(rec.getMessage()) < 5_000


def test_a_failing_job_reports_a_short_message(tmp_path):
    from hercules.app.jobs import MAX_MESSAGE, JobManager
    from hercules.app.store import Store

    store = Store(tmp_path / "d")
    rid = store.new_id()

    def boom(job):
        raise ValueError("x" * 100_000)

    job = JobManager(store).submit(rid, boom)
    job.thread.join()
    assert job.status == "error" and len(job.message) <= MAX_MESSAGE
    assert store.meta(rid)["status"] == "error" and "Traceback" in (store.dir(rid) / "run.log").read_text()
