"""LLM stage: providers (OpenAI-compatible HTTP, in-process llama.cpp, fake), response cache, registry."""

from hercules.llm.base import (
    ContextOverflowError,
    LLMError,
    LLMOptions,
    LLMProvider,
    LLMResponse,
    PermanentLLMError,
    RateLimitError,
    TransientLLMError,
)
from hercules.llm.cache import PromptLog, ResponseCache, request_key
from hercules.llm.openai_compat import PRESETS, OpenAICompatibleProvider
from hercules.llm.registry import get_llm, register_llm

__all__ = [
    "PRESETS",
    "ContextOverflowError",
    "LLMError",
    "LLMOptions",
    "LLMProvider",
    "LLMResponse",
    "OpenAICompatibleProvider",
    "PermanentLLMError",
    "PromptLog",
    "RateLimitError",
    "ResponseCache",
    "TransientLLMError",
    "get_llm",
    "register_llm",
    "request_key",
]
