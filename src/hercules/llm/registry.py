"""Choose an LLM by spec string; built-in and third-party providers register the same way.

``none``; ``fake`` (deterministic, offline, for tests); ``local`` (Qwen2.5-Coder 1.5B: ``local-server:qwen1.5b``
when the llama-server binary is built, which labels 1.4-1.5x faster, else ``llamacpp:qwen1.5b``);
``llamacpp:<qwen1.5b|qwen0.5b|smollm2|path.gguf>`` (in-process); ``local-server:<model>[@SLOTS]``
(the same models behind llama.cpp's C++ server on 127.0.0.1, SLOTS sequences decoded together); ``openai:<model>``,
``gemini:<model>``, ``ollama:<model>``, ``vllm:<model>``, ``lmstudio:<model>``,
``llamacpp-server:<model>`` (OpenAI-compatible HTTP; ``OPENAI_BASE_URL``/``--llm-base-url``
override the address). Packages add providers via the entry-point group ``hercules.llms``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

from hercules.common.plugins import Registry
from hercules.llm.base import LLMError, LLMOptions, LLMProvider
from hercules.llm.openai_compat import PRESETS, OpenAICompatibleProvider

_REGISTRY = Registry("hercules.llms", "LLM", "none")


def register_llm(name: str, factory: Callable[..., LLMProvider]) -> None:
    """Make ``name:<arg>`` resolve to ``factory(arg, **kwargs)``."""
    _REGISTRY.register(name, factory)


def _fake(arg: str, **kw: Any) -> LLMProvider:
    from hercules.llm.fake import FakeLLM

    return FakeLLM(options=kw.get("options"))


def _llamacpp(arg: str, **kw: Any) -> LLMProvider:
    from hercules.llm.local import LlamaCppProvider

    return LlamaCppProvider(arg or "qwen1.5b", options=kw.get("options"))


def _local_server(arg: str, **kw: Any) -> LLMProvider:
    from hercules.llm.local_server import LocalServerProvider

    model, _, slots = (arg or "qwen1.5b").partition("@")
    return LocalServerProvider(model or "qwen1.5b", parallel=int(slots) if slots else 4, options=kw.get("options"))


def _local(**kw: Any) -> LLMProvider:
    """The embedded model on the fastest backend installed: the C++ server when its binary exists
    (measured 1.4-1.5x faster, ``benchmarks/bench_llm.py``), else llama-cpp-python in-process."""
    from hercules.llm.local_server import server_binary

    try:
        server_binary()
    except LLMError as no_server:
        if importlib.util.find_spec("llama_cpp") is None:
            raise LLMError(
                "the embedded LLM needs llama.cpp: `bash scripts/build_llama_server.sh` (the faster C++ server) "
                f"or `pip install 'hercules-cluster[local]'` (in-process); {no_server}"
            ) from None
        return _llamacpp("qwen1.5b", **kw)
    return _local_server("qwen1.5b", **kw)


register_llm("fake", _fake)
register_llm("local-server", _local_server)
register_llm("llamacpp", _llamacpp)
register_llm("local", lambda arg, **kw: _local(**kw))
for _preset in PRESETS:
    register_llm(_preset, lambda arg, _p=_preset, **kw: OpenAICompatibleProvider(arg, preset=_p, **kw))


def get_llm(spec: str | LLMProvider | None, *, options: LLMOptions | None = None, **kw: Any) -> LLMProvider | None:
    """Resolve ``spec`` (see module docstring); ``None``/``"none"`` means no LLM."""
    if spec is None or isinstance(spec, LLMProvider):
        return spec
    if spec == "none":
        return None
    name, _, arg = spec.partition(":")
    factory = _REGISTRY.factory(name, spec)
    if name in PRESETS and not arg:
        raise ValueError(f"say which model, e.g. {name}:gpt-4o-mini")
    return factory(arg, options=options, **kw)
