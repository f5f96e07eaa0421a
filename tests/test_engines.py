"""Engine selection (no Ray needed) and the LLM rate limit shared by both engines."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import make_corpus

from hercules import Hercules
from hercules.engines import LocalEngine, get_engine
from hercules.llm.ratelimit import RateLimiter


def test_engine_choice_is_checked():
    assert isinstance(get_engine("local"), LocalEngine)
    with pytest.raises(ValueError, match="engine must be one of"):
        get_engine("spark")
    with pytest.raises(ValueError, match="only used with engine='ray'"):
        get_engine("local", "127.0.0.1:6379")
    X = np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32)
    with pytest.raises(ValueError, match="engine must be one of"):
        Hercules([3], engine="dask", progress=False).fit(embeddings=X)


def test_import_hercules_does_not_import_ray():
    code = "import sys, hercules, hercules.engines, hercules.pipeline.fit; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_rate_limiter_paces_requests_and_tokens():
    rpm = RateLimiter(requests_per_minute=600)  # 10 per second, one second's worth at once
    waits = [rpm.reserve() for _ in range(20)]
    assert max(waits[:10]) < 0.01
    assert waits[19] == pytest.approx(1.0, abs=0.05)
    tpm = RateLimiter(tokens_per_minute=6000)  # 100 tokens per second
    assert tpm.reserve(1, 250) == pytest.approx(1.5, abs=0.05)
    tpm.charge(100)  # the completion of that call
    assert tpm.reserve(1, 0) == pytest.approx(2.5, abs=0.05)
    with pytest.raises(ValueError, match="requests_per_minute must be positive"):
        RateLimiter(requests_per_minute=0)
    assert not RateLimiter().active


def test_labeler_calls_wait_for_the_rate_limit():
    from hercules.labeling.llm import LLMLabeler
    from hercules.llm.fake import FakeLLM

    llm = FakeLLM()
    labeler = LLMLabeler(llm, batch_size=1, cache=False, verify=False, disambiguate=False, requests_per_minute=1200)
    t0 = time.perf_counter()
    model = Hercules([30], labeler=labeler, embedder="hashing", progress=False).fit(make_corpus(20))
    wall = time.perf_counter() - t0
    assert llm.calls == 30 and model.levels_ == [30]
    # 20 requests per second, 20 at once: the other 10 wait 0.05 s apiece, in sequence.
    assert labeler.limiter.waited_s > 0.4 and wall >= 0.45


def test_cli_passes_engine_and_rate_limit(tmp_path, monkeypatch):
    from hercules.cli import run as run_cli

    seen = {}

    def fake_fit(self, X=None, y=None, **kw):
        seen.update(engine=self.engine, address=self.ray_address, llm_options=self.llm_options)
        raise SystemExit(0)

    monkeypatch.setattr(Hercules, "fit", fake_fit)
    data = tmp_path / "d.csv"
    make_corpus(5).to_csv(data, index=False)
    args = [str(data), "-o", str(tmp_path / "out"), "--engine", "ray", "--ray-address", "10.0.0.1:6379", "--llm-rpm", "60"]
    CliRunner().invoke(run_cli.run, [*args, "--llm-tpm", "90000", "--embedder", "hashing"])
    assert seen["engine"] == "ray" and seen["address"] == "10.0.0.1:6379"
    assert seen["llm_options"]["requests_per_minute"] == 60 and seen["llm_options"]["tokens_per_minute"] == 90000


def test_fit_reads_a_path_with_the_engines_reader(tmp_path):
    """``fit(path)``: the file is read by the engine's reader (in-process: ``read_path``), as ``fit(read_path(path))``."""
    import pandas as pd

    from hercules.data import InputError, read_path

    corpus = make_corpus(20)
    texts = corpus["text"].tolist()
    pd.DataFrame({"body": texts, "tag": corpus["topic"]}).to_parquet(tmp_path / "d.parquet")
    kw = {"embedder": "hashing", "progress": False, "text_column": "body", "random_state": 0}
    a = Hercules([6], **kw).fit(tmp_path / "d.parquet")
    b = Hercules([6], **kw).fit(read_path(tmp_path / "d.parquet"))
    assert np.array_equal(a.labels_, b.labels_) and a.dataset_.texts == texts
    assert list(a.dataset_.metadata.columns) == ["tag"]
    with pytest.raises(InputError, match="does not exist"):
        Hercules([6], **kw).fit(str(tmp_path / "missing.csv"))
    with pytest.raises(InputError, match="text column 'body' not found"):
        pd.DataFrame({"other": texts}).to_csv(tmp_path / "o.csv", index=False)
        Hercules([6], **kw).fit(str(tmp_path / "o.csv"))
