"""The failure catalogue: every way a user can get the command line wrong ends in one clear line.

Each case runs ``python -m hercules.cli.main`` in a subprocess inside its own folders (working
directory, HOME, TMPDIR and HERCULES_CACHE_DIR all under the test's tmp folder) and asserts:

* a non-zero exit status;
* stderr's last line starts with ``Error:`` and matches the phrase the user needs to see;
* no ``Traceback`` anywhere in stderr;
* nothing was written or deleted: every file and folder under the tmp folder (inputs, outputs,
  working directory) is byte-identical afterwards, and the private cache holds no files other
  than its SQLite caches (no half-extracted zip, no partial result).

Cases marked *fail fast* must be refused before the fit starts; the proof is that the embedding
cache was never opened. All cases use the hashing embedder and ``--llm none`` so they run in seconds.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tests.conftest import make_corpus

FAST = ["--embedder", "hashing:64", "--llm", "none", "--no-progress", "-q"]


@dataclass
class Workspace:
    """The folders one case may touch; everything else must stay as it was."""

    root: Path

    @property
    def inputs(self) -> Path:
        return self.root / "in"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def out(self) -> Path:
        return self.root / "out"

    def csv(self, texts: list[str] | None = None, name: str = "data.csv", **columns: list) -> Path:
        frame = make_corpus(10) if texts is None else pd.DataFrame({"text": texts})
        for key, values in columns.items():
            frame[key] = values
        path = self.inputs / name
        frame.to_csv(path, index=False)
        return path

    def file(self, name: str, data: bytes | str) -> Path:
        path = self.inputs / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path


@dataclass
class Case:
    id: str
    make: Callable[[Workspace], list[str]]  # builds the inputs, returns the CLI arguments
    expect: str  # regular expression the last stderr line must match (case-insensitive)
    fail_fast: bool = False  # refused before the fit: the embedding cache is never opened


def _png(path: Path, colour: tuple[int, int, int]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), colour).save(path)
    return path


def _zip(ws: Workspace, name: str, members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> Path:
    path = ws.inputs / name
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    return path


def _png_bytes(colour: tuple[int, int, int]) -> bytes:
    import io

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buf, format="PNG")
    return buf.getvalue()


def _good_zip(ws: Workspace, name: str = "imgs.zip") -> Path:
    return _zip(ws, name, {f"img/{i}.png": _png_bytes((i * 40, 0, 0)) for i in range(6)})


def _truncated_zip(ws: Workspace) -> list[str]:
    data = _good_zip(ws, "full.zip").read_bytes()
    (ws.inputs / "full.zip").unlink()
    return ["run", str(ws.file("truncated.zip", data[: len(data) // 2])), *FAST]


def _lying_zip(ws: Workspace) -> list[str]:
    """The headers claim 10 bytes for a member that holds far more."""
    raw = bytearray(_zip(ws, "liar.zip", {"a.png": _png_bytes((1, 2, 3)) * 20}).read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = raw.index(signature)
        raw[at + offset : at + offset + 4] = (10).to_bytes(4, "little")
    return ["run", str(ws.file("liar.zip", bytes(raw))), *FAST]


def _bomb_zip(ws: Workspace) -> list[str]:
    """64 MiB of zeros in a few kB: refused by compression ratio although far below the size limit."""
    return ["run", str(_zip(ws, "bomb.zip", {"big.png": b"\0" * (64 << 20)}, zipfile.ZIP_DEFLATED)), *FAST]


def _embeddings(ws: Workspace, array: np.ndarray, allow_pickle: bool = False) -> list[str]:
    npy = ws.inputs / "E.npy"
    np.save(npy, array, allow_pickle=allow_pickle)
    return ["run", str(ws.csv()), "--embeddings", str(npy), "--levels", "4,2", *FAST]


def _result(ws: Workspace) -> Path:
    """A small saved result at ``ws.out``, made in-process (faster than another subprocess)."""
    from hercules import Hercules

    Hercules([3], embedder="hashing:64", progress=False).fit(make_corpus(5)).save(str(ws.out))
    return ws.out


def _damaged_result(ws: Workspace) -> list[str]:
    arrays = _result(ws) / "arrays.npz"
    arrays.write_bytes(arrays.read_bytes()[:100])
    return ["show", str(ws.out)]


def _existing_result(ws: Workspace) -> list[str]:
    _result(ws)
    (ws.out / "my-notes.txt").write_text("the user's own file")
    return ["run", str(ws.csv()), "-o", str(ws.out), "--levels", "4,2", *FAST]


def _foreign_folder(ws: Workspace) -> list[str]:
    ws.out.mkdir()
    (ws.out / "thesis.tex").write_text("years of work")
    return ["run", str(ws.csv()), "-o", str(ws.out), "--overwrite", "--levels", "4,2", *FAST]


def _read_only_parent(ws: Workspace) -> list[str]:
    """A folder without write permission; root writes anywhere, so it gets sysfs, read-only even to root."""
    if os.geteuid() == 0:
        if not Path("/sys/kernel").is_dir():
            pytest.skip("running as root without a read-only filesystem to write to")
        locked = Path("/sys")
    else:
        locked = ws.root / "locked"
        locked.mkdir()
        locked.chmod(0o555)
    return ["run", str(ws.csv()), "-o", str(locked / "hercules-out"), "--levels", "4,2", *FAST]


def _levels(value: str) -> Callable[[Workspace], list[str]]:
    return lambda ws: ["run", str(ws.csv()), "--levels", value, "-o", str(ws.out), *FAST]


Arg = str | Callable[[Workspace], Path]


def _run(
    *extra: Arg, data: Callable[[Workspace], Path] | None = None, out: Arg | None = None
) -> Callable[[Workspace], list[str]]:
    """``hercules run DATA -o OUT EXTRA...``; any argument may be built from the workspace."""

    def make(ws: Workspace) -> list[str]:
        built = [str(a(ws)) if callable(a) else a for a in extra]
        target = out(ws) if callable(out) else (out or ws.out)
        return ["run", str(data(ws) if data else ws.csv()), "-o", str(target), *FAST, *built]  # the case's options win

    return make


IDENTICAL = ["the very same sentence"] * 30
THREE = ["alpha beta gamma", "delta epsilon zeta", "eta theta iota"] * 10

CASES = [
    # --levels: validated by the library's rule before anything is read
    Case("levels-increasing", _levels("5,10"), r"strictly decrease", fail_fast=True),
    Case("levels-zero", _levels("0"), r"at least 1 cluster", fail_fast=True),
    Case("levels-negative", _levels("-3"), r"at least 1 cluster", fail_fast=True),
    Case("levels-comma", _levels(","), r"comma-separated", fail_fast=True),
    Case("levels-fraction", _levels("10.7,2"), r"whole numbers", fail_fast=True),
    Case("levels-word", _levels("ten"), r"whole numbers", fail_fast=True),
    Case("levels-too-many", _levels("500,20"), r"only \d+ items"),
    Case(
        "coarse-unknown",
        _run("--coarse", "wards"),
        r"coarse must be 'auto', 'space', 'ward', 'connectivity' or 'graph'",
        fail_fast=True,
    ),
    # automatic k on data with too few distinct points
    Case("auto-identical-texts", _run("--levels", "auto", data=lambda ws: ws.csv(IDENTICAL)), r"distinct"),
    Case("auto-three-texts", _run("--levels", "auto", data=lambda ws: ws.csv(THREE)), r"distinct"),
    # malformed input files
    Case("jsonl-broken-line", _run(data=lambda ws: ws.file("d.jsonl", '{"text": "a"}\n{"text": "b"}\n{"text": \n')), r"line 3"),
    Case("json-broken", _run(data=lambda ws: ws.file("d.json", '[{"text": "a"},\n {"text": }]')), r"line 2.*not valid JSON"),
    Case("fake-parquet", _run(data=lambda ws: ws.file("d.parquet", "text\nnot parquet at all\n")), r"not a readable Parquet"),
    Case("csv-unterminated-quote", _run(data=lambda ws: ws.file("d.csv", 'text,y\n"open quote,1\nb,2\n')), r"well-formed CSV"),
    Case("empty-file", _run(data=lambda ws: ws.file("d.csv", "")), r"is empty"),
    Case("unsupported-suffix", _run(data=lambda ws: ws.file("d.docx", "x")), r"unsupported file type"),
    Case("missing-file", lambda ws: ["run", str(ws.inputs / "nope.csv"), *FAST], r"does not exist"),
    Case("bad-numeric-metadata", _run("--numeric-metadata", lambda ws: ws.file("meta.json", "{not json")), r"not valid JSON"),
    # zip archives
    Case("zip-truncated", _truncated_zip, r"not a valid zip"),
    Case("zip-not-a-zip", _run(data=lambda ws: ws.file("d.zip", "just text, no archive")), r"not a valid zip"),
    Case("zip-header-lies", _lying_zip, r"does not match its header"),
    Case("zip-bomb-ratio", _bomb_zip, r"zip bomb"),
    Case("zip-traversal", _run(data=lambda ws: _zip(ws, "evil.zip", {"../../escape.png": b"x"})), r"unsafe member name"),
    Case("zip-no-images", _run(data=lambda ws: _zip(ws, "docs.zip", {"a.txt": b"x"})), r"no image files"),
    # embedders and precomputed embeddings
    Case("embedder-bad-dim", _run("--embedder", "hashing:abc"), r"whole number", fail_fast=True),
    Case("embedder-huge-dim", _run("--embedder", "hashing:100000000"), r"between", fail_fast=True),
    Case("embedder-unknown", _run("--embedder", "nope"), r"unknown embedder", fail_fast=True),
    Case("embeddings-pickled", lambda ws: _embeddings(ws, np.array([{"a": 1}] * 60, dtype=object), True), r"Python objects"),
    Case("embeddings-strings", lambda ws: _embeddings(ws, np.array([["a", "b"]] * 60)), r"must hold numbers"),
    Case("embeddings-1d", lambda ws: _embeddings(ws, np.zeros(60)), r"2-D"),
    Case("embeddings-wrong-rows", lambda ws: _embeddings(ws, np.zeros((7, 4))), r"one row per item|shape"),
    Case("embeddings-not-npy", _run("--embeddings", lambda ws: ws.csv(name="fake.npy")), r"not a NumPy \.npy"),
    # columns and ids
    Case("id-column-missing", _run("--id-column", "nope"), r"id column 'nope' not found"),
    Case("id-column-duplicates", _run("--id-column", "topic"), r"must be unique.*repeats"),
    Case("id-column-is-text", _run("--id-column", "text", "--text-column", "text"), r"both the id column and the text"),
    Case("text-column-missing", _run("--text-column", "nope"), r"text column 'nope' not found"),
    Case("empty-texts-name-the-flag", _run(data=lambda ws: ws.csv(["a b", "", "c d", "e f"] * 5)), r"--drop-missing"),
    Case("broken-image-names-the-flag", _run(data=lambda ws: _broken_image_folder(ws)), r"cannot be read.*--drop-missing"),
    # options and the LLM
    Case("llm-timeout-zero", _run("--llm-timeout", "0"), r"Invalid value for '--llm-timeout'", fail_fast=True),
    Case(
        "llm-unknown",
        lambda ws: ["run", str(ws.csv()), "-o", str(ws.out), "--embedder", "hashing:64", "--llm", "nope:x", "-q"],
        r"unknown",
        fail_fast=True,
    ),
    # commands that read a saved result
    Case("show-not-a-result", lambda ws: ["show", str(ws.inputs)], r"not a hercules result"),
    Case("show-damaged-result", _damaged_result, r"arrays\.npz"),
    Case(
        "predict-bad-embeddings",
        lambda ws: ["predict", str(_result(ws)), str(ws.csv()), "--embeddings", str(ws.file("E.npy", "1,2"))],
        r"not a NumPy \.npy",
    ),
    # the destination: refused before the fit, and nothing of the user's is touched
    Case("existing-result-needs-overwrite", _existing_result, r"--overwrite", fail_fast=True),
    Case("foreign-folder-never-replaced", _foreign_folder, r"not a hercules result", fail_fast=True),
    Case("output-parent-is-a-file", _run(out=lambda ws: ws.csv() / "out"), r"director|folder|exists", fail_fast=True),
    Case("output-parent-read-only", _read_only_parent, r"writ|permission", fail_fast=True),
]


def _broken_image_folder(ws: Workspace) -> Path:
    folder = ws.inputs / "imgs"
    for i in range(5):
        _png(folder / f"{i}.png", (i * 50, 0, 0))
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    return folder


def _snapshot(root: Path, skip: Path) -> dict[str, tuple]:
    """Every file (size and sha256) and folder under ``root`` except ``skip``."""
    seen: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if here == skip or skip in here.parents:
            dirnames[:] = []
            continue
        for d in dirnames:
            seen[str((here / d).relative_to(root))] = ("dir",)
        for f in filenames:
            p = here / f
            seen[str(p.relative_to(root))] = ("file", p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest())
    return seen


def _stray_cache_files(cache: Path) -> list[str]:
    """Files in the private cache other than its SQLite databases (leftovers of a failed run)."""
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file() and ".sqlite" not in p.name)


def _env(ws: Workspace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    for name in ("home", "tmp", "cache"):
        (ws.root / name).mkdir(exist_ok=True)
    env.update(
        HERCULES_CACHE_DIR=str(ws.cache),
        HOME=str(ws.root / "home"),
        TMPDIR=str(ws.root / "tmp"),
        XDG_CACHE_HOME=str(ws.root / "home" / ".cache"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_user_error_is_one_clear_line(case: Case, tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.inputs.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    env = _env(ws)
    args = case.make(ws)
    before = _snapshot(tmp_path, ws.cache)
    proc = subprocess.run(
        [sys.executable, "-m", "hercules.cli.main", *args], cwd=work, env=env, capture_output=True, text=True, timeout=300
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0, f"exit 0 for {args}\n{proc.stdout}"
    assert "Traceback" not in proc.stderr, proc.stderr
    assert lines and lines[-1].startswith("Error:"), proc.stderr
    assert re.search(case.expect, lines[-1], flags=re.IGNORECASE), f"{lines[-1]!r} does not match {case.expect!r}"
    assert _snapshot(tmp_path, ws.cache) == before, "files outside the cache were written or deleted"
    assert _stray_cache_files(ws.cache) == [], "a failed run left files in the cache"
    assert list((tmp_path / "tmp").iterdir()) == [], "temporary files were left behind"
    if case.fail_fast:
        assert not (ws.cache / "embeddings.sqlite").exists(), "the fit started before the error was found"
