"""The Ray engine on a real two-node Ray cluster on this machine.

The fixture starts a head node (``ray start --head --num-cpus 1``) and a second node joined to it,
each with its own ports and a private temp dir, so nothing here can touch another Ray on the
machine; at the end it stops exactly the processes of those two nodes (never ``ray stop``, which
would stop every Ray of the user). Tasks and actors thus cross process and node boundaries.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ray = pytest.importorskip("ray")
from sklearn.metrics import adjusted_rand_score  # noqa: E402

from hercules import Hercules  # noqa: E402
from hercules.embeddings.cache import EmbeddingCache  # noqa: E402
from hercules.embeddings.providers import HashingEmbedder  # noqa: E402

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fixture finds its Ray processes in /proc")

SRC = str(Path(__file__).resolve().parents[1] / "src")
STORE = "100000000"  # object store per node (bytes): the tests move a few MB


def _free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def _worker_port_base(taken: list[int], span: int = 500) -> int:
    """A base for the two nodes' worker-port ranges (``span`` ports) that lies below the kernel's ephemeral range, so
    neither the ports picked above nor the ones Ray picks at random for its own components can fall inside it (CI once
    failed on exactly that collision)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    top = max(low - span - 1, 10001)
    rng = random.Random(os.getpid())
    for _ in range(100):
        base = rng.randrange(10000, top)
        if not any(base <= p <= base + span for p in taken):
            return base
    raise RuntimeError("no free worker-port range below the ephemeral ports")


def _node_ports(ports: list[int]) -> list[str]:
    names = ["--node-manager-port", "--object-manager-port", "--metrics-export-port", "--runtime-env-agent-port"]
    names += ["--dashboard-agent-listen-port", "--dashboard-agent-grpc-port"]
    return [x for name, p in zip(names, ports) for x in (name, str(p))]


def _pids_under(*markers: str) -> list[int]:
    """Processes whose command line names one of ``markers`` (our private temp dir, our GCS port), and all their
    descendants (Ray's agents rename themselves to ``ray::...`` and are found only as children of the raylet)."""
    cmds, parent = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmds[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            parent[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found = {pid for pid, cmd in cmds.items() if any(m in cmd for m in markers)}
    while True:
        more = {pid for pid, ppid in parent.items() if ppid in found} - found
        if not more:
            return sorted(found)
        found |= more


@pytest.fixture(scope="module")
def ray_cluster():
    ray_bin = shutil.which("ray", path=str(Path(sys.executable).parent)) or shutil.which("ray")
    if ray_bin is None:
        pytest.skip("the ray command is not installed")
    tmp = tempfile.mkdtemp(prefix="hray", dir="/tmp")  # short: Ray's socket paths must stay under 107 bytes
    ports = _free_ports(16)
    gcs, dash, minw = ports[0], ports[1], _worker_port_base(ports)
    # Token auth off, explicitly: a token left in ~/.ray by any earlier local ray.init() would otherwise turn it on
    # for some of these processes and not others. The nodes listen on 127.0.0.1 only.
    saved_mode = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"  # this process: the drivers the tests start
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]), "RAY_ADDRESS": ""}
    common = ["--num-cpus", "1", "--object-store-memory", STORE, "--disable-usage-stats", "--node-ip-address", "127.0.0.1"]
    head = [ray_bin, "start", "--head", "--port", str(gcs), "--dashboard-port", str(dash), "--temp-dir", tmp]
    head += ["--include-dashboard", "false", "--min-worker-port", str(minw), "--max-worker-port", str(minw + 200)]
    worker = [ray_bin, "start", "--address", f"127.0.0.1:{gcs}", "--min-worker-port", str(minw + 300)]
    worker += ["--max-worker-port", str(minw + 500)]
    address = f"127.0.0.1:{gcs}"
    try:
        for cmd in (head + common + _node_ports(ports[3:9]), worker + common + _node_ports(ports[9:15])):
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd[:3])} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        yield address
    finally:
        if ray.is_initialized():
            ray.shutdown()
        ours = _pids_under(tmp, f"127.0.0.1:{gcs}", f"--gcs_server_port={gcs}")  # before any dies and orphans its children
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in ours:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            time.sleep(1.0)
        shutil.rmtree(tmp, ignore_errors=True)
        if saved_mode is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = saved_mode


def _blobs(n: int, d: int = 32, centres: int = 60, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    C = rng.normal(size=(centres, d)).astype(np.float32) * 3
    X = C[rng.integers(0, centres, n)] + rng.normal(size=(n, d)).astype(np.float32)
    return X.astype(np.float32)


def test_two_nodes_joined(ray_cluster):
    ray.init(address=ray_cluster)
    try:
        nodes = [n for n in ray.nodes() if n["Alive"]]
        assert len(nodes) == 2 and ray.cluster_resources()["CPU"] == 2
    finally:
        ray.shutdown()


def test_same_result_as_in_process_on_50k(ray_cluster):
    """Same seed, same hierarchy: the level-1 fit sample, seeding and Lloyd are the same bits;
    the assignment pass and the sums run as Ray tasks over blocks held on both nodes."""
    X = _blobs(50_000)
    kw = {"layout": "pca", "progress": False, "random_state": 3, "max_points_per_centroid": 64}
    local = Hercules([120, 12], **kw).fit(embeddings=X)
    dist = Hercules([120, 12], engine="ray", ray_address=ray_cluster, **kw).fit(embeddings=X)
    assert not ray.is_initialized()  # the engine disconnects after the fit
    for t in (1, 2):
        a, b = local.hierarchy_.item_labels(t), dist.hierarchy_.item_labels(t)
        assert adjusted_rand_score(a, b) >= 0.99, t
    lab1 = dist.hierarchy_.item_labels(1)
    assert (local.hierarchy_.item_labels(1) == lab1).mean() >= 0.999
    assert np.allclose(local.hierarchy_.level(1).centroids, dist.hierarchy_.level(1).centroids, atol=1e-4)
    assert np.array_equal(np.bincount(lab1, minlength=120), dist.hierarchy_.level(1).sizes)


class _DyingOnce(HashingEmbedder):
    """Kills its own worker process (SIGKILL) on the first batch that holds the marker text."""

    def __init__(self, flag: str, **kw) -> None:
        super().__init__(64, **kw)
        self.flag = flag

    def _embed_batch(self, items: list[str]) -> np.ndarray:
        if "MARKER" in items and not os.path.exists(self.flag):
            Path(self.flag).write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return super()._embed_batch(items)


def test_killed_embedding_worker_is_retried(ray_cluster, tmp_path):
    import ray.cloudpickle as cp

    cp.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test module
    rng = np.random.default_rng(0)
    words = np.array(["alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "lambda", "theta", "zeta"])
    texts = [" ".join(rng.choice(words, 6)) + f" n{i % 500}" for i in range(12_000)]
    texts[7_000] = "MARKER"
    flag = str(tmp_path / "killed")
    model = Hercules(
        [20, 4],
        embedder=_DyingOnce(flag, cache=EmbeddingCache()),
        engine="ray",
        ray_address=ray_cluster,
        progress=False,
        layout="pca",
    )
    model.fit(texts)
    assert os.path.exists(flag) and int(Path(flag).read_text()) != os.getpid()  # a worker died mid-embedding
    expected = HashingEmbedder(64).embed(texts)
    assert np.allclose(model.embeddings_, expected, atol=1e-6)  # every batch came back, in order
    assert model.levels_ == [20, 4] and len(model.labels_) == len(texts)
    assert len(EmbeddingCache()) >= len(set(texts))  # the actors wrote to the driver's cache file


def test_empty_clusters_are_reseeded_as_in_process(ray_cluster):
    """Two centroids far from every point: in-process and distributed re-seeding pick the same donors."""
    from hercules.clustering.kmeans import assign, fill_empty
    from hercules.engines.ray_engine import worker_env
    from hercules.engines.ray_kmeans import _assign_all, _reseed_empty

    X = _blobs(6_000, d=8, centres=6, seed=1)
    C = np.vstack([X[:6], np.full((2, 8), 50.0, dtype=np.float32)])
    labels, dist = assign(X, C)
    counts = np.bincount(labels, minlength=8)
    assert (counts == 0).sum() == 2
    expected_C = C.copy()
    fill_empty(X, labels, dist, expected_C, counts)
    ray.init(address=ray_cluster, runtime_env=worker_env())
    try:
        blocks = [ray.put({"row": np.arange(s, s + 1500), "vector": X[s : s + 1500]}) for s in range(0, 6000, 1500)]
        got, dist_refs, stats = _assign_all(blocks, C, len(X), progress=False)
        stats = [stats[0].copy(), stats[1].copy(), stats[2]]
        got_C = C.copy()
        _reseed_empty(blocks, dist_refs, got, got_C, stats)
    finally:
        ray.shutdown()
    assert np.array_equal(got, labels) and np.array_equal(got_C, expected_C)
    assert np.array_equal(stats[1], np.bincount(labels, minlength=8))
    sums = np.stack([X[labels == j].sum(axis=0, dtype=np.float64) for j in range(8)])
    assert np.allclose(stats[0], sums, atol=1e-3)


def test_cli_run_on_the_cluster(ray_cluster, tmp_path):
    """``hercules run --engine ray --ray-address``: read and embedded on the cluster, saved, loadable, as in-process."""
    import pandas as pd
    from click.testing import CliRunner

    from hercules.cli.main import cli

    rng = np.random.default_rng(1)
    words = np.array(["red", "green", "blue", "cyan", "black", "white", "grey", "pink", "gold", "teal"])
    texts = [" ".join(rng.choice(words, 5)) + f" t{i % 700}" for i in range(11_000)]
    pd.DataFrame({"text": texts}).to_csv(tmp_path / "d.csv", index=False)
    out = tmp_path / "out"
    args = ["run", str(tmp_path / "d.csv"), "-o", str(out), "--engine", "ray", "--ray-address", ray_cluster]
    res = CliRunner().invoke(cli, [*args, "--embedder", "hashing:64", "--levels", "20,4", "--no-progress", "-q"])
    assert res.exit_code == 0, res.output
    model = Hercules.load(out)
    assert model.levels_ == [20, 4] and len(model.dataset_) == 11_000 and model.engine == "ray"
    assert np.allclose(np.asarray(model.embeddings_, dtype=np.float32)[:50], HashingEmbedder(64).embed(texts[:50]), atol=1e-2)
    # read by ray.data.read_csv on the cluster: the same items and, same seed, the same hierarchy as in-process
    local = Hercules.load(out).set_params(engine="local", ray_address=None, progress=False).fit(tmp_path / "d.csv")
    assert local.dataset_.texts == model.dataset_.texts == texts
    for t in (1, 2):
        assert adjusted_rand_score(local.hierarchy_.item_labels(t), model.hierarchy_.item_labels(t)) >= 0.99


def _tables(d: Path) -> pd.DataFrame:
    """The same small table as CSV, TSV, Parquet, JSONL and a folder of Parquet parts; a TXT and a folder of texts."""
    n = 90
    df = pd.DataFrame(
        {
            "text": [f"item {i} é" if i % 7 else "" for i in range(n)],  # empty fields: missing, as pandas reads them
            "n": np.arange(n),
            "f": [None if i % 5 == 0 else i / 2 for i in range(n)],
            "tag": ["a", "b", "c"] * 30,
        }
    )
    df.to_csv(d / "a.csv", index=False)
    df.to_csv(d / "a.tsv", sep="\t", index=False)
    df.to_parquet(d / "a.parquet")
    df.to_json(d / "a.jsonl", orient="records", lines=True, force_ascii=False)
    (d / "parts").mkdir()
    for i in range(3):
        df.iloc[i * 30 : (i + 1) * 30].to_parquet(d / "parts" / f"part-{i}.parquet")
    (d / "t.txt").write_text("one\n\n  \ntwo é\r\nthree\n", encoding="utf-8")
    (d / "docs" / "sub").mkdir(parents=True)
    for name in ("b.txt", "a.txt", "sub/c.txt"):
        (d / "docs" / name).write_text(f"document {name}\nsecond line", encoding="utf-8")
    return df


def test_read_with_ray_data_as_in_process(ray_cluster, tmp_path, caplog):
    """``ray.data.read_csv/read_json/read_parquet`` and the text files read on the cluster give read_path's table,
    rows in order; the files it rejects get read_path's errors (file and line named) or its fix-ups."""
    from hercules.data import InputError, read_path
    from hercules.engines.ray_engine import worker_env
    from hercules.engines.ray_read import read_with_ray

    df = _tables(tmp_path)
    (tmp_path / "latin1.csv").write_bytes("text,n\ncaf\xe9,1\nok,2\n".encode("latin-1"))
    (tmp_path / "bad.jsonl").write_text('{"text": "a"}\n{"text":\n{"text": "c"}\n')
    (tmp_path / "strings.jsonl").write_text('"a"\n"b"\n')
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "mixed").mkdir()
    (tmp_path / "mixed" / "x.csv").write_text("text\na\n")
    (tmp_path / "mixed" / "y.jsonl").write_text('{"text": "b"}\n')
    (tmp_path / "nothing").mkdir()
    ray.init(address=ray_cluster, runtime_env=worker_env())
    try:
        for name in ("a.csv", "a.tsv", "a.parquet", "a.jsonl", "t.txt"):
            pd.testing.assert_frame_equal(read_with_ray(tmp_path / name), read_path(tmp_path / name), check_dtype=False)
        pd.testing.assert_frame_equal(read_with_ray(tmp_path / "parts").reset_index(drop=True), df, check_dtype=False)
        docs = read_with_ray(tmp_path / "docs")
        assert docs.index.tolist() == ["a.txt", "b.txt", "sub/c.txt"]
        assert docs["text"].tolist() == [f"document {n}\nsecond line" for n in ("a.txt", "b.txt", "sub/c.txt")]
        with caplog.at_level("WARNING"):
            assert read_with_ray(tmp_path / "latin1.csv")["text"].tolist() == ["caf\ufffd", "ok"]
        assert "not valid UTF-8" in caplog.text
        assert read_with_ray(tmp_path / "strings.jsonl")["text"].tolist() == ["a", "b"]
        errors = {
            "bad.jsonl": "bad.jsonl, line 2: not valid JSON",
            "empty.csv": "empty.csv is empty",
            "mixed": "a folder must hold one kind",
            "nothing": "empty folder",
            "missing.csv": "does not exist",
        }
        for name, message in errors.items():
            with pytest.raises(InputError, match=message):
                read_with_ray(tmp_path / name)
        _prepared_on_blocks_as_in_process(tmp_path, df)
    finally:
        ray.shutdown()


def _prepared_on_blocks_as_in_process(d: Path, df: pd.DataFrame) -> None:
    """``prepare`` of a table left in the object store (``read_with_ray(owner=...)``) runs over its blocks: the same
    ids, texts (kept in blocks cut at multiples of ``block_rows``, read by row), metadata, notes and errors."""
    from hercules.data import InputError, prepare, read_path
    from hercules.data.lazy import LazyFrame, LazyTexts, frame_of
    from hercules.engines.ray_items import RayTable
    from hercules.engines.ray_read import read_with_ray

    class Owner:
        def block_rows(self, n: int) -> int:
            return 7

    for name in ("a.tsv", "a.parquet", "a.jsonl", "parts"):  # every table kind stays in the object store
        assert isinstance(read_with_ray(d / name, owner=Owner()), RayTable), name
    for name, table in (("a.csv", read_path(d / "a.csv")),):
        got = prepare(held := read_with_ray(d / name, owner=Owner()), missing="drop")
        want = prepare(table, missing="drop")
        assert isinstance(held, RayTable) and isinstance(got.texts, LazyTexts) and len(got.texts.source.sizes) >= 11
        assert list(got.texts) == want.texts and got.texts.take([40, 0, 40]) == [want.texts[i] for i in (40, 0, 40)]
        assert max(got.texts.source.sizes) <= 7 and got.ids.tolist() == want.ids.tolist() and got.notes == want.notes
        assert isinstance(got.metadata, LazyFrame)  # the other columns stay in the store too
        pd.testing.assert_frame_equal(frame_of(got.metadata), want.metadata, check_dtype=False)
        with pytest.raises(InputError) as ray_error:
            prepare(read_with_ray(d / name, owner=Owner()), missing="raise")
        with pytest.raises(InputError, match="13 item\\(s\\) have empty or missing text") as local_error:
            prepare(table, missing="raise")
        assert str(ray_error.value) == str(local_error.value)


def test_clustering_space_placed_on_blocks_as_in_process(ray_cluster, monkeypatch):
    """UMAP fitted on its sample on the driver, every other item placed by a Ray task per block: the same space
    vectors as in-process, and the level-1 k-means then runs over those space blocks."""
    pytest.importorskip("umap")
    from hercules.engines import ray_engine, ray_kmeans
    from hercules.engines.ray_engine import RayEngine
    from hercules.space import ManifoldSpace

    monkeypatch.setattr(ray_engine, "BLOCK_BYTES", 1_000 * 24 * 4)  # 1,000 rows per block: 9 blocks on two nodes
    X = _blobs(9_000, d=24, centres=12, seed=2)
    expected = ManifoldSpace(fit_sample=2_000).fit_transform(X, 4)
    engine = RayEngine(ray_cluster, progress=False)
    try:
        engine.connect()
        assert len(engine.blocks_of(X)) == 9  # X held in blocks, as after an embedding on the cluster
        Y = engine.fit_space(ManifoldSpace(fit_sample=2_000), X, 4)
        assert engine.known_blocks(Y) is not None and len(engine.known_blocks(Y)) == len(engine.blocks_of(X))
        km = engine.kmeans(Y, 40, random_state=0, max_points_per_centroid=32)
        assert ray_kmeans.last_timings["rows"] == len(X)  # the distributed path, over the space blocks
    finally:
        engine.close()
    assert np.allclose(Y, expected, atol=1e-4)
    from hercules.clustering.kmeans import kmeans

    assert adjusted_rand_score(kmeans(Y, 40, random_state=0, max_points_per_centroid=32).labels, km.labels) >= 0.99


def test_membership_written_from_label_blocks(ray_cluster, tmp_path, monkeypatch):
    """engine="ray": the saved result's per-item clusters are Parquet parts written by Ray tasks from the level-1 label
    blocks (schema 2, no n-long parent_L1 in arrays.npz); loading gives the fitted hierarchy, re-saving keeps the parts,
    and a state whose clusters changed (update) is saved in-process (schema 1)."""
    import json

    import pyarrow.parquet as pq

    from hercules.engines import ray_engine
    from hercules.engines.ray_engine import worker_env
    from hercules.engines.ray_membership import write_membership
    from hercules.hierarchy.tree import Hierarchy, Level

    monkeypatch.setattr(ray_engine, "BLOCK_BYTES", 4_000 * 16 * 4)  # 4,000 rows per block: 5 blocks on two nodes
    X = _blobs(20_000, d=16, centres=40, seed=4)
    kw = {"layout": "pca", "progress": False, "random_state": 5, "max_points_per_centroid": 32, "space": "none"}
    local = Hercules([50, 8, 3], **kw).fit(embeddings=X)
    dist = Hercules([50, 8, 3], engine="ray", ray_address=ray_cluster, **kw).fit(embeddings=X)
    assert local.membership_parts_ is None and dist.membership_parts_ is not None
    dist.save(tmp_path / "r")
    local.save(tmp_path / "l")
    meta = json.loads((tmp_path / "r" / "hercules.json").read_text())
    assert meta["schema_version"] == 2 and json.loads((tmp_path / "l" / "hercules.json").read_text())["schema_version"] == 1
    assert len(list((tmp_path / "r" / "membership").glob("part-*.parquet"))) == 5
    with np.load(tmp_path / "r" / "arrays.npz") as z:
        assert "parent_L1" not in z.files and "parent_L2" in z.files
    table = pq.read_table(tmp_path / "r" / "membership").to_pandas().sort_values("row")
    assert np.array_equal(table["row"], np.arange(len(X))) and np.array_equal(table["id"], np.arange(len(X)))
    for t in (1, 2, 3):
        assert np.array_equal(table[f"L{t}"], dist.hierarchy_.item_labels(t)), t
        assert adjusted_rand_score(local.hierarchy_.item_labels(t), dist.hierarchy_.item_labels(t)) >= 0.99, t
    loaded = Hercules.load(tmp_path / "r")
    assert np.array_equal(loaded.hierarchy_.all_item_labels(), dist.hierarchy_.all_item_labels())
    pd.testing.assert_frame_equal(loaded.membership(), dist.membership())
    assert np.array_equal(Hercules.load(tmp_path / "l").hierarchy_.all_item_labels(), local.hierarchy_.all_item_labels())
    loaded.save(tmp_path / "r2")  # the loaded parts are copied as they are
    assert json.loads((tmp_path / "r2" / "hercules.json").read_text())["schema_version"] == 2
    assert np.array_equal(Hercules.load(tmp_path / "r2").labels_, dist.labels_)
    loaded.update(embeddings=X[:300] + 0.01)
    assert loaded.membership_parts_ is None
    loaded.save(tmp_path / "r3")
    assert json.loads((tmp_path / "r3" / "hercules.json").read_text())["schema_version"] == 1
    assert np.array_equal(Hercules.load(tmp_path / "r3").labels_, loaded.labels_)

    # rows relabelled on the driver after the pass (empty-cluster re-seeding) are applied by the writing tasks
    ray.init(address=ray_cluster, runtime_env=worker_env())
    try:
        km = np.arange(10, dtype=np.int32) % 3
        blocks = [ray.put({"row": np.arange(s, s + 5), "label": km[s : s + 5]}) for s in (5, 0)]
        h = Hierarchy(10, [Level(1, np.array([1, 2, 0, 2])[np.r_[km[:7], 3, km[8:]]], np.zeros((4, 1)), np.ones(4), [])])
        parts = write_membership(
            blocks,
            (np.array([7]), np.array([3], np.int32)),
            np.array([1, 2, 0, 2], np.int32),
            h,
            np.array([f"i{j}" for j in range(10)]),
            False,
        )
    finally:
        ray.shutdown()
    got = pq.read_table(parts.path).to_pandas()
    assert got["row"].tolist() == [5, 6, 7, 8, 9, 0, 1, 2, 3, 4]  # part i: block i, rows sorted within
    got = got.sort_values("row").reset_index(drop=True)
    assert got["row"].tolist() == list(range(10)) and got["id"].tolist() == [f"i{j}" for j in range(10)]
    assert np.array_equal(got["L1"], h.level(1).parent) and got["L1"][7] == 2


def test_labelling_evidence_computed_over_the_blocks(ray_cluster):
    """Texts embedded on the cluster, level 1 over their blocks: the items closest to every centroid (what the
    labelers show) come from a distributed top-m over the vector and label blocks, equal to the in-process lists."""
    import dataclasses

    from hercules.labeling.base import representative_items
    from hercules.labeling.keywords import KeywordLabeler

    class _Recorder(KeywordLabeler):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list = []

        def label_level(self, ctx):
            plain = dataclasses.replace(ctx, closest=None)
            self.seen.append((ctx.closest is not None, representative_items(ctx, 5), representative_items(plain, 5)))
            return super().label_level(ctx)

    rng = np.random.default_rng(3)
    words = np.array(["north", "south", "east", "west", "up", "down", "left", "right", "in", "out", "near", "far"])
    texts = [" ".join(rng.choice(words, 6)) + f" k{i % 300}" for i in range(12_000)]
    rec = _Recorder()
    kw = {"embedder": "hashing:64", "layout": "pca", "progress": False, "random_state": 2, "space": "none"}
    model = Hercules([30, 5], labeler=rec, engine="ray", ray_address=ray_cluster, max_points_per_centroid=32, **kw)
    model.fit(texts)
    assert [s[0] for s in rec.seen] == [True, True]  # both levels: computed over the blocks
    for _, got, expected in rec.seen:
        assert len(got) == len(expected) and all(np.array_equal(a, b) for a, b in zip(got, expected))
    assert [len(r) for r in rec.seen[1][1]] == [min(5, s) for s in model.hierarchy_.level(2).sizes]


def test_vectors_and_texts_stay_off_the_driver(ray_cluster, monkeypatch, tmp_path):
    """A Parquet file read, validated and embedded on the cluster: the texts stay in blocks (then parts on disk), the
    driver maps the vectors from a file the Ray tasks wrote (never gathers them), the centroids shown at every level
    come from per-block sums, and the map is placed by Ray tasks over the blocks; results as in-process (ids, texts,
    metadata, labels, titles with their example texts, centroids to float rounding, coordinates, items.parquet)."""
    from hercules.common import groups
    from hercules.data import InputError
    from hercules.data.lazy import LazyFrame, LazyTexts, PartFrames, frame_of
    from hercules.engines import ray_read
    from hercules.labeling.keywords import KeywordLabeler
    from hercules.layout.pca import PCALayout
    from hercules.pipeline import builder

    rng = np.random.default_rng(5)
    words = np.array(["red", "green", "blue", "cyan", "gold", "grey", "pink", "teal", "navy", "lime", "rust", "plum"])
    texts = [" ".join(rng.choice(words, 6)) + f" t{i % 200}" for i in range(12_002)]
    texts[7], texts[9000] = "  ", None  # dropped (missing="drop"), named in the notes as in-process
    path = tmp_path / "t.parquet"
    pd.DataFrame(
        {"key": [f"k{i}" for i in range(len(texts))], "text": texts, "tag": [i % 3 for i in range(len(texts))]}
    ).to_parquet(path)
    kw = {"embedder": "hashing:64", "layout": "pca", "progress": False, "random_state": 1, "space": "none", "weighted": False}
    kw |= {"id_column": "key", "missing": "drop", "max_points_per_centroid": 32}
    local = Hercules([30, 5], **kw).fit(path)
    calls: list[str] = []
    mapped = {}
    on_driver = {"block": True}

    def means(X, labels, k):  # the driver must not average the matrix it maps
        calls.append(type(X).__name__)
        return groups.group_means(X, labels, k)

    def transform(self, X):
        mapped["rows"] = len(X)  # the driver must not place every item on the map itself
        return self.projection.transform(X)

    def doc_term(self, dataset):
        raise AssertionError("the driver counted every text's terms")

    def collect(*a, **k):
        raise AssertionError("the table was collected on the driver")

    every_text = LazyTexts.__iter__

    def iterate(self):
        assert not on_driver["block"], "the driver read every text"
        return every_text(self)

    monkeypatch.setattr(builder, "group_means", means)
    monkeypatch.setattr(PCALayout, "transform", transform)
    monkeypatch.setattr(KeywordLabeler, "_doc_term", doc_term)
    monkeypatch.setattr(ray_read, "_collect", collect)
    monkeypatch.setattr(LazyTexts, "__iter__", iterate)
    model = Hercules([30, 5], engine="ray", ray_address=ray_cluster, **kw).fit(path)
    on_driver["block"] = False
    E = model._state().embeddings
    assert isinstance(E, np.memmap) and not E.flags.writeable and np.array_equal(E, local._state().embeddings)
    assert calls == [] and mapped == {}
    ds, ds0 = model.dataset_, local.dataset_
    assert isinstance(ds.texts, LazyTexts) and list(ds.texts) == ds0.texts and len(ds0.texts) == 12_000
    assert ds.ids.tolist() == ds0.ids.tolist() and ds.notes == ds0.notes and "k9000" in ds.notes[0]
    assert isinstance(ds.metadata, LazyFrame) and isinstance(ds.metadata.source, PartFrames)  # on disk, not in memory
    pd.testing.assert_frame_equal(frame_of(ds.metadata), ds0.metadata)
    tags = ds0.metadata["tag"].to_numpy()
    assert model.evaluate(1, labels="tag")["ari"] == model.evaluate(1, labels=tags)["ari"]  # one column read
    pd.testing.assert_frame_equal(model.membership(), local.membership(), check_index_type=False)
    for t in (1, 2):
        a, b = local.hierarchy_.level(t), model.hierarchy_.level(t)
        assert adjusted_rand_score(local.hierarchy_.item_labels(t), model.hierarchy_.item_labels(t)) >= 0.99
        assert np.allclose(a.centroids, b.centroids, atol=1e-5) and [x.title for x in a.labels] == [x.title for x in b.labels]
        assert [x.keywords for x in a.labels] == [x.keywords for x in b.labels] and all(x.keywords for x in b.labels)
        assert [x.description for x in a.labels] == [x.description for x in b.labels]  # their example texts, by row
    assert np.allclose(local.coords_, model.coords_, atol=1e-5)
    model.save(tmp_path / "ray", embeddings=None)
    local.save(tmp_path / "local", embeddings=None)
    items = pd.read_parquet(tmp_path / "ray" / "items.parquet")
    pd.testing.assert_frame_equal(items, pd.read_parquet(tmp_path / "local" / "items.parquet"))
    assert Hercules.load(tmp_path / "ray").dataset_.texts == ds0.texts
    with pytest.raises(InputError) as local_error:  # missing="raise": prepare's message, from the blocks' counts
        Hercules([30, 5], **(kw | {"missing": "raise"})).fit(path)
    with pytest.raises(InputError, match="2 item\\(s\\) have empty or missing text \\(ids: k7, k9000\\)") as ray_error:
        Hercules([30, 5], engine="ray", ray_address=ray_cluster, **(kw | {"missing": "raise"})).fit(path)
    assert str(ray_error.value) == str(local_error.value)


def _rss_file_mb() -> float:
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("RssFile"))
    return int(line.split()[1]) / 1024


def test_vectors_file_rows_read_without_mapping_them(tmp_path):
    """The driver's vectors file: rows read by index, mask or slice are the mapped rows, copied with pread, so the
    pages of a sampled file do not become the driver's resident memory (the kernel maps the pages around each one a
    mapping reads); anything else reads as a memory map; a copy is an in-memory array."""
    import copy
    import pickle

    from hercules.engines.ray_vectors import RowFile

    path = tmp_path / "v.npy"
    A = np.random.default_rng(0).normal(size=(40_000, 384)).astype(np.float32)  # 61 MB
    np.save(path, A)
    X = RowFile.open(path)
    rows = np.sort(np.random.default_rng(1).choice(40_000, 2_000, replace=False))
    before = _rss_file_mb()
    got = X[rows]
    assert type(got) is np.ndarray and np.array_equal(got, A[rows]) and _rss_file_mb() - before < 10
    mask = np.zeros(40_000, dtype=bool)
    mask[[3, 39_999]] = True
    assert np.array_equal(X[mask], A[mask]) and np.array_equal(X[[-1, 5, 5, 0]], A[[-1, 5, 5, 0]])
    assert np.array_equal(X[10:30_000], A[10:30_000]) and np.array_equal(X[:], A) and X[5:5].shape == (0, 384)
    assert np.array_equal(X[7], A[7]) and np.array_equal(X[:, :3], A[:, :3]) and np.array_equal(X[::2], A[::2])
    assert isinstance(X, np.memmap) and not X.flags.writeable
    with pytest.raises(IndexError):
        X[[40_000]]
    for c in (pickle.loads(pickle.dumps(X)), copy.deepcopy(X)):
        assert np.array_equal(c, A) and c[rows].shape == (2_000, 384)


def test_layout_and_space_read_the_vectors_file_by_rows(tmp_path):
    """The map's PCA and UMAP fits and the clustering space sample the driver's vectors file through its row reads
    (pread) rather than a plain view of the mapping: at 200k rows a plain view made the whole file resident."""
    pytest.importorskip("umap")
    from hercules.engines.ray_vectors import RowFile
    from hercules.layout import fit_layout
    from hercules.layout import pca as layout_pca
    from hercules.space import ManifoldSpace

    path = tmp_path / "v.npy"
    A = _blobs(3_000, d=16, centres=6, seed=3)
    np.save(path, A)
    X, reads = RowFile.open(path), []
    real = RowFile._read

    def counted(self, rows):
        reads.append(len(rows))
        return real(self, rows)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(RowFile, "_read", counted)
        mp.setattr(layout_pca, "_FIT_SAMPLE", 1_000)  # a sampled PCA fit, as past 50,000 rows
        pca = fit_layout(X, method="pca", random_state=0)
        assert reads == [1_000], reads
        umap_layout = fit_layout(X, method="umap", random_state=0, sample=1_500)
        space = ManifoldSpace(fit_sample=1_500).fit_transform(X, 0)
        assert len(reads) > 3 and all(r < len(A) for r in reads)  # samples and chunks, never the whole file at once
        assert np.allclose(pca.coords_, fit_layout(A, method="pca", random_state=0).coords_, atol=1e-5)
    assert umap_layout.coords_.shape == (3_000, 2) and space.shape[0] == 3_000


def test_keyword_vocabulary_from_blocks_as_scikit_learn(ray_cluster, monkeypatch):
    """The distributed vocabulary (per-block counts merged, then min_df and the max_features cut on the float32 totals)
    is the one CountVectorizer fits on all texts, ties at the cut included; the per-cluster counts (the blocks' own
    matrices moved to that vocabulary, no second tokenization) are its counts."""
    from hercules.common.groups import onehot
    from hercules.engines import ray_terms
    from hercules.labeling.keywords import term_counter

    rng = np.random.default_rng(0)
    words = np.array([f"w{chr(97 + i % 26)}{chr(97 + i // 26)}x" for i in range(120)])
    texts = [" ".join(rng.choice(words, 5)) for _ in range(3_000)] + ["the of and"] * 10  # a block of stop words only
    frames = [pd.DataFrame({"row": np.arange(s, min(s + 500, 3_010)), "text": texts[s : s + 500]}) for s in range(0, 3_010, 500)]
    monkeypatch.setattr(ray_terms, "MAX_TERMS", 300)  # below the number of terms: the cut applies
    ray.init(address=ray_cluster)
    try:
        blocks = [ray.put(f) for f in frames]
        tokens = ray_terms.tokenize(blocks, len(texts))  # once: the counts reuse the blocks' matrices
        vocab = ray_terms.vocabulary(tokens, len(texts))
        labels = rng.integers(0, 7, len(texts))
        counts = ray_terms.cluster_term_counts(tokens, vocab, labels, 7)
    finally:
        ray.shutdown()
    cv = term_counter(len(texts))
    cv.max_features = 300
    M = cv.fit_transform(texts)
    assert list(vocab) == list(cv.get_feature_names_out()) and len(vocab) == 300
    assert np.array_equal(counts.toarray(), (onehot(labels, 7) @ M).toarray())


def test_vectors_gathered_when_no_shared_folder(ray_cluster):
    """Where the spill folder is not shared (``spill`` off here), the embedded vectors are gathered on the driver
    instead of mapped: the same values, as an ordinary array, and the blocks still known for level 1."""
    from hercules.engines.ray_engine import RayEngine

    texts = [f"item {i} of {i % 7} kinds" for i in range(3_000)]
    engine = RayEngine(ray_cluster, progress=False, min_items=10)
    try:
        mapped = engine.embed(HashingEmbedder(32), texts, "texts")
        engine.spill = False
        gathered = engine.embed(HashingEmbedder(32), texts, "texts")
        assert engine.known_blocks(gathered) is not None
    finally:
        engine.close()
    assert isinstance(mapped, np.memmap) and not isinstance(gathered, np.memmap)
    assert np.array_equal(mapped, gathered) and np.allclose(gathered, HashingEmbedder(32).embed(texts))
