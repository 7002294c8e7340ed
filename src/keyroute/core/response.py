"""The canonical chat response and token usage.

Usage invariants (so that every token class is priced once and only once):
- ``input_tokens`` is the whole prompt, cached or not (OpenAI's ``prompt_tokens``).
- ``cache_read_tokens`` and ``cache_write_tokens`` are subsets of ``input_tokens``;
  ``cache_write_1h_tokens`` is the subset of writes with a one-hour lifetime.
- ``output_tokens`` is the whole completion; ``reasoning_tokens`` is its subset spent thinking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from keyroute.core.chat import ThinkingPart, ToolCall
from keyroute.core.json import JsonObject

FinishReason: TypeAlias = Literal[
    "stop",  # natural end of turn
    "stop_sequence",  # one of the client's stop sequences matched
    "length",  # the output token limit was reached
    "tool_calls",  # the model called tools
    "content_filter",  # the provider withheld content
    "refusal",  # the model refused (a 200 that fallback may treat as failure)
    "pause",  # the provider paused a long turn; send it back to continue
    "context_window",  # the prompt plus output no longer fit the context window
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def uncached_input_tokens(self) -> int:
        """Prompt tokens neither read from nor written to a cache."""
        return self.input_tokens - self.cache_read_tokens - self.cache_write_tokens


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatResponse:
    """One assistant answer. ``model`` is the provider's model name as it reported it."""

    id: str
    model: str
    created: int
    text: str | None
    tool_calls: tuple[ToolCall, ...] = ()
    thinking: tuple[ThinkingPart, ...] = ()
    refusal: str | None = None
    finish_reason: FinishReason
    stop_sequence: str | None = None
    usage: Usage | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None
    logprobs: JsonObject | None = None  # OpenAI's choice ``logprobs``, when the client asked
