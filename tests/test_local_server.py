"""``local-server:<model>``: llama.cpp's C++ server as a child process on 127.0.0.1.

Runs the real binary built by scripts/build_llama_server.sh (scripts/test.sh builds it) with
SmolLM2-135M, the 93 MB smoke-test model.
"""

import asyncio
import stat

import pytest

from hercules import Hercules
from hercules.labeling.llm import label_schema
from hercules.llm import LLMOptions, ResponseCache, get_llm
from hercules.llm.base import LLMError
from hercules.llm.local_server import LocalServerProvider, server_binary

pytestmark = pytest.mark.slow

MSGS = [{"role": "user", "content": "Name these clusters.\n### Cluster L1-0\n- cat\n- kitten\n### Cluster L1-1\n- car\n- truck"}]


@pytest.fixture(scope="module")
def server():
    llm = LocalServerProvider("smollm2", parallel=2, n_ctx=2048, options=LLMOptions(max_tokens=120, timeout=300))
    yield llm
    llm.stop()


def test_spec_resolves_to_the_server_backend():
    llm = get_llm("local-server:smollm2@3")
    assert isinstance(llm, LocalServerProvider)
    assert (llm.model, llm.parallel, llm.max_concurrency) == ("smollm2", 3, 3)
    assert llm.cache_id == "local-server:smollm2"  # not the port: cached answers survive a restart


def test_concurrent_calls_share_one_server_and_answer_json(server):
    url = server.start()
    assert url.startswith("http://127.0.0.1:")
    schema = label_schema(["L1-0", "L1-1"])

    async def both():
        return await asyncio.gather(*(server.acomplete(MSGS, schema=schema) for _ in range(2)))

    answers = asyncio.run(both())
    assert all(a.completion_tokens and a.completion_tokens > 0 for a in answers)
    assert all(a.text.lstrip().startswith("{") for a in answers)  # schema-constrained
    copy = server.with_options(timeout=60)
    assert copy.start() == url  # a with_options copy reuses the running process
    assert 0 < server.count_tokens("hello world") < 10


def test_labels_a_hierarchy_and_a_rerun_is_served_from_the_cache(server, tmp_path, corpus):
    cache = ResponseCache(tmp_path / "c.sqlite")

    def run():
        opts = {"cache": cache, "batch_size": 2, "samples": 2, "sample_chars": 60}
        return Hercules([4], embedder="hashing:256", progress=False, llm=server, llm_options=opts).fit(corpus)

    first = run()
    assert first.llm_stats_[0]["calls"] >= 2
    assert all(lb.title for lb in first.hierarchy_.level(1).labels)
    again = run()
    assert again.llm_stats_[0]["cache_hits"] > 0


def test_stop_ends_the_child_process():
    llm = LocalServerProvider("smollm2", parallel=1, n_ctx=512)
    llm.start()
    proc = llm._server.proc
    llm.stop()
    assert proc is not None and proc.poll() is not None
    llm.stop()  # twice is fine


def test_missing_binary_says_how_to_build_it(monkeypatch, tmp_path):
    monkeypatch.setenv("HERCULES_LLAMA_SERVER", str(tmp_path / "nope"))
    with pytest.raises(LLMError, match="build_llama_server.sh"):
        server_binary()


def test_a_server_that_dies_at_start_up_is_a_clear_error(monkeypatch, tmp_path):
    fake = tmp_path / "llama-server"
    fake.write_text("#!/bin/sh\necho 'error: bad model file' >&2\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("HERCULES_LLAMA_SERVER", str(fake))
    llm = LocalServerProvider("smollm2", startup_timeout=20)
    with pytest.raises(LLMError, match=r"exit code 3.*bad model file"):
        llm.start()


def test_local_prefers_the_server_when_its_binary_exists(monkeypatch, tmp_path):
    from hercules.llm import registry
    from hercules.llm.local import LlamaCppProvider

    fake = tmp_path / "llama-server"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("HERCULES_LLAMA_SERVER", str(fake))
    llm = get_llm("local")
    assert isinstance(llm, LocalServerProvider) and llm.model == "qwen1.5b"  # nothing started yet

    monkeypatch.setenv("HERCULES_LLAMA_SERVER", str(tmp_path / "nope"))
    monkeypatch.setattr(registry.importlib.util, "find_spec", lambda name: object())
    assert isinstance(get_llm("local"), LlamaCppProvider)
    monkeypatch.setattr(registry.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(LLMError, match=r"build_llama_server\.sh.*hercules-cluster\[local\]"):
        get_llm("local")


CHATTY_SERVER = """#!{python}
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
port = int(sys.argv[sys.argv.index("--port") + 1])
class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def _send(self, payload):
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        self._send({{"status": "ok"}})
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        sys.stderr.write("x" * 100_000 + " print_timing\\n")  # llama-server logs every request
        sys.stderr.flush()
        message = {{"role": "assistant", "content": "{{}}"}}
        self._send({{"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                    "choices": [{{"index": 0, "message": message, "finish_reason": "stop"}}]}})
HTTPServer(("127.0.0.1", port), H).serve_forever()
"""


def test_a_server_that_logs_a_lot_never_blocks_on_its_stderr(monkeypatch, tmp_path):
    """Issue 11: the server's stderr went to a pipe nobody read; after ~150 requests (64 KB of
    logs) the server blocked on its next write and every call hung. This fake writes 100 KB per request."""
    import sys

    fake = tmp_path / "llama-server"
    fake.write_text(CHATTY_SERVER.format(python=sys.executable))
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("HERCULES_LLAMA_SERVER", str(fake))
    llm = LocalServerProvider("smollm2", startup_timeout=20, options=LLMOptions(timeout=10))
    try:
        for _ in range(3):
            r = asyncio.run(asyncio.wait_for(llm.acomplete(MSGS), timeout=10))
            assert r.text == "{}"
        assert "print_timing" in llm._server.log_tail()
    finally:
        llm.stop()
