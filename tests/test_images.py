"""Images end to end: real EfficientNet-Lite0 features and ImageNet tags, content-hash cache, zips,
PIL input, broken files, and captions from a vision LLM on an OpenAI-compatible API."""

import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import adjusted_rand_score

from hercules import Hercules, InputError, read_path
from hercules.embeddings import EmbeddingCache, PixelImageEmbedder
from hercules.llm import OpenAICompatibleProvider
from hercules.llm.captioning import VisionCaptioner
from tests.fault_server import FaultServer


@pytest.fixture(scope="module")
def photo_tiles(tmp_path_factory):
    """Four crops each of sklearn's two bundled photos (a Chinese temple, a flower)."""
    from sklearn.datasets import load_sample_images

    d = tmp_path_factory.mktemp("photos")
    paths, truth = [], []
    for name, im in zip(["temple", "flower"], load_sample_images().images):
        for i in range(4):
            x0, y0 = (i % 2) * 200, (i // 2) * 150
            p = d / f"{name}{i}.jpg"
            Image.fromarray(im[y0 : y0 + 280, x0 : x0 + 380]).save(p)
            paths.append(str(p))
            truth.append(name)
    return paths, truth


@pytest.mark.slow
def test_efficientnet_clusters_photos_and_titles_say_what_they_show(photo_tiles):
    import torch

    paths, truth = photo_tiles
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the user's choice, which loading the model must not override
    try:
        m = Hercules([2], progress=False).fit(paths)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
    assert m.embedder_id_ == "effnet-lite0:imagenet" and m.embeddings_.shape == (8, 1280)
    assert adjusted_rand_score(truth, m.labels_) == 1.0
    titles = " ".join(c.title.lower() + " " + c.description.lower() for c in m.clusters(1))
    assert ("palace" in titles or "bell cote" in titles or "monastery" in titles) and (
        "daisy" in titles or "hen-of-the-woods" in titles
    )
    assert "px" in m.dataset_.descriptions[0] and "mostly" in m.dataset_.descriptions[0]


def test_image_cache_is_keyed_by_content_not_name(tmp_path):
    class Counting(PixelImageEmbedder):
        seen = 0

        def _embed_batch(self, items):
            Counting.seen += len(items)
            return super()._embed_batch(items)

    a = tmp_path / "a.png"
    Image.new("RGB", (8, 8), (255, 0, 0)).save(a)
    cache = EmbeddingCache(tmp_path / "c.sqlite")
    Counting(cache=cache, progress=False).embed([str(a)])
    b = tmp_path / "renamed.png"
    a.rename(b)
    Counting(cache=cache, progress=False).embed([str(b)])
    assert Counting.seen == 1  # same bytes under a new name: cache hit
    Image.new("RGB", (8, 8), (0, 0, 255)).save(b)
    Counting(cache=cache, progress=False).embed([str(b)])
    assert Counting.seen == 2  # same name, new bytes: embedded again


def _png(path, color):
    Image.new("RGB", (16, 16), color).save(path)


def test_zip_input_and_unsafe_zips(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    z = tmp_path / "imgs.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for i, c in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255), (250, 10, 10), (10, 250, 10), (10, 10, 250)]):
            _png(src / f"{i}.png", c)
            zf.write(src / f"{i}.png", f"dir/{i}.png")
        zf.writestr("notes.txt", "not an image")
    df = read_path(z)
    assert len(df) == 6 and all(p.endswith(".png") for p in df.path)
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../escape.png", b"x")
    with pytest.raises(InputError, match="unsafe"):
        read_path(evil)
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.png", b"\0" * (40 * 2**20))  # far below the size limit: refused by its ratio
    with pytest.raises(InputError, match="zip bomb"):
        read_path(bomb)


def test_pil_images_and_broken_files(tmp_path):
    ims = [Image.new("RGB", (12, 12), (i * 20, 0, 255 - i * 20)) for i in range(9)]
    m = Hercules([3], image_embedder="pixels", progress=False).fit(ims)
    assert m.dataset_.modality == "image" and len(m.dataset_) == 9
    good = [str(tmp_path / f"{i}.png") for i in range(6)]
    for i, p in enumerate(good):
        _png(p, (i * 40, 0, 0))
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(Path(good[0]).read_bytes()[:40])
    with pytest.raises(InputError, match="truncated.png"):
        Hercules([2], image_embedder="pixels", progress=False).fit([*good, str(truncated)])
    m = Hercules([2], image_embedder="pixels", missing="drop", progress=False).fit([*good, str(truncated)])
    assert len(m.dataset_) == 6 and "truncated.png" in m.dataset_.notes[0]


def test_captions_from_a_vision_llm_are_cached(tmp_path, photo_tiles):
    paths, _ = photo_tiles
    from hercules.llm import ResponseCache

    cache = ResponseCache(tmp_path / "c.sqlite")
    with FaultServer(script=["500"]) as srv:
        llm = OpenAICompatibleProvider("vision", preset="vllm", base_url=srv.url)
        cap = VisionCaptioner(llm, cache=cache)
        m = Hercules([2], image_embedder="pixels", image_captioner=cap, progress=False).fit(paths)
        assert srv.images == 9  # 8 images + 1 retried after the 500
        assert all(d.startswith("A striped cat") for d in m.dataset_.descriptions)
        assert "sofa" in " ".join(c.title.lower() for c in m.clusters(1))  # keywords come from the captions
        Hercules([2], image_embedder="pixels", image_captioner=VisionCaptioner(llm, cache=cache), progress=False).fit(paths)
        assert srv.images == 9  # second run: all captions from the cache
    first = srv.requests[1]["messages"][0]["content"]
    assert first[1]["image_url"]["url"].startswith("data:image/jpeg;base64,")


def test_digits_pixels_cluster_well():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    m = Hercules([30, 10], progress=False).fit(X[:600])
    assert adjusted_rand_score(y[:600], m.hierarchy_.item_labels(2)) > 0.5
    assert np.all(m.hierarchy_.level(2).sizes > 0)


@pytest.mark.slow
def test_clip_class_embedder_loads_a_local_folder(tmp_path):
    """No CLIP weights exist offline: build a tiny random CLIP, save it, and load it like a user's folder."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    from hercules.embeddings import get_embedder

    cfg = CLIPConfig(
        text_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2},
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=12,
    )
    folder = tmp_path / "tiny-clip"
    CLIPModel(cfg).save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    paths = []
    for i in range(6):
        p = tmp_path / f"{i}.png"
        Image.new("RGB", (40, 40), (i * 40, 100, 255 - i * 40)).save(p)
        paths.append(str(p))
    emb = get_embedder(f"clip:{folder}", progress=False)
    X = emb.embed(paths)
    assert X.shape == (6, 12) and np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    m = Hercules([2], image_embedder=emb, progress=False).fit(paths)
    assert m.embedder_id_ == "clip:tiny-clip" and m.levels_ == [2]
    with pytest.raises(Exception, match="folder"):
        get_embedder("clip:/does/not/exist")


def _zip_of(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _png_bytes(color):
    import io

    buf = io.BytesIO()
    Image.new("RGB", (16, 16), color).save(buf, format="PNG")
    return buf.getvalue()


def _files(root):
    return sorted(str(p.relative_to(root)) for p in Path(root).rglob("*") if p.is_file())


def test_zip_extraction_is_staged_streamed_and_reused(tmp_path, monkeypatch):
    from hercules.data import archive

    monkeypatch.setattr(archive, "CHUNK_BYTES", 64)  # members far larger than a chunk still come out whole
    members = {f"d/{i}.png": _png_bytes((i * 40, 0, 0)) for i in range(4)}
    z = _zip_of(tmp_path / "a.zip", members, zipfile.ZIP_DEFLATED)
    root = tmp_path / "root"
    dest = archive.extract_images_zip(z, root)
    assert [p.read_bytes() for p in sorted(dest.rglob("*.png"))] == list(members.values())
    assert [p.name for p in root.iterdir()] == [dest.name]  # no staging folder left behind
    stamp = (dest / "d" / "0.png").stat().st_mtime_ns
    assert archive.extract_images_zip(z, root) == dest and (dest / "d" / "0.png").stat().st_mtime_ns == stamp


def test_an_interrupted_extraction_is_redone_not_trusted(tmp_path):
    from hercules.common.plugins import file_digest
    from hercules.data import archive

    z = _zip_of(tmp_path / "a.zip", {f"{i}.png": _png_bytes((0, i * 50, 0)) for i in range(3)})
    stale = tmp_path / "root" / file_digest(z)[:16]
    stale.mkdir(parents=True)
    (stale / "0.png").write_bytes(b"")  # what a crash mid-write used to leave
    dest = archive.extract_images_zip(z, tmp_path / "root")
    assert dest == stale and all(p.stat().st_size > 0 for p in dest.glob("*.png")) and len(list(dest.glob("*.png"))) == 3


def test_refused_archives_leave_nothing_behind(tmp_path):
    from hercules.data import archive

    liar = bytearray(_zip_of(tmp_path / "l.zip", {"a.png": _png_bytes((1, 2, 3)) * 20}).read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = liar.index(signature)
        liar[at + offset : at + offset + 4] = (10).to_bytes(4, "little")
    (tmp_path / "l.zip").write_bytes(bytes(liar))
    good = _zip_of(tmp_path / "g.zip", {"a.png": _png_bytes((1, 2, 3)), "b.png": _png_bytes((3, 2, 1))}).read_bytes()
    (tmp_path / "t.zip").write_bytes(good[: len(good) // 2])
    (tmp_path / "n.zip").write_text("not an archive")
    _zip_of(tmp_path / "b.zip", {"ok.png": _png_bytes((9, 9, 9)), "big.png": b"\0" * (32 << 20)}, zipfile.ZIP_DEFLATED)
    cases = {"l.zip": "does not match its header", "t.zip": "not a valid zip", "n.zip": "not a valid zip", "b.zip": "zip bomb"}
    root = tmp_path / "root"
    for name, message in cases.items():
        with pytest.raises(InputError, match=message):
            archive.extract_images_zip(tmp_path / name, root)
        assert not root.exists() or _files(root) == [], name


def test_ratio_is_enforced_on_the_bytes_written(tmp_path, monkeypatch):
    """A member whose header hides its ratio is stopped while streaming, and its partial output removed."""
    from hercules.data import archive

    z = _zip_of(tmp_path / "b.zip", {"big.png": b"\0" * (4 << 20)}, zipfile.ZIP_DEFLATED)
    monkeypatch.setattr(archive, "RATIO_FLOOR_BYTES", 1 << 20)
    monkeypatch.setattr(archive, "_plan", lambda path, zf: [(zf.infolist()[0], Path("big.png"))])  # skip the header check
    with pytest.raises(InputError, match="expands more than"):
        archive.extract_images_zip(z, tmp_path / "root")
    assert _files(tmp_path / "root") == []


def test_unreadable_images_are_one_clear_error(tmp_path):
    from hercules.embeddings import EmbeddingError
    from hercules.embeddings.images import open_image

    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG nope")
    with pytest.raises(EmbeddingError, match="cannot read image .*bad.png"):
        PixelImageEmbedder(progress=False).embed([str(bad)])
    with pytest.raises(EmbeddingError, match="cannot read image .*missing.png"):
        open_image(str(tmp_path / "missing.png"))
    good = tmp_path / "good.png"
    Image.new("L", (30, 20), 128).save(good)
    assert open_image(str(good), "RGB", 8).size == (8, 8) and open_image(str(good)).mode == "RGB"
