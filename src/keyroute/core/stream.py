"""Canonical stream events: what a provider's stream decoder yields and a wire encoder consumes.

Invariants:
- A stream is ``StreamStart``, then any mix of deltas, then ``StreamEnd``; ``UsageReport`` may come
  before or after ``StreamEnd`` and, when several arrive, the last one is the whole usage (decoders
  overwrite, never add).
- ``index`` on tool-call events is one running counter per stream, starting at 0, whatever the
  provider numbers its blocks or parts.
- ``ToolCallStart`` precedes every ``ToolCallArgs`` of its index; the arguments concatenate to
  JSON text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from keyroute.core.json import JsonObject
from keyroute.core.response import FinishReason, Usage


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamStart:
    kind: Literal["start"] = "start"
    id: str
    model: str
    created: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TextDelta:
    kind: Literal["text"] = "text"
    text: str
    logprobs: JsonObject | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ThinkingDelta:
    """Reasoning text, or (with empty ``text``) the signature that closes a thinking block."""

    kind: Literal["thinking"] = "thinking"
    text: str = ""
    signature: str | None = None
    redacted: bool = False
    origin: str | None = None  # as ``ThinkingPart.origin``, on the delta that closes a block


@dataclass(frozen=True, slots=True, kw_only=True)
class RefusalDelta:
    kind: Literal["refusal"] = "refusal"
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallStart:
    kind: Literal["tool_start"] = "tool_start"
    index: int
    id: str
    name: str
    signature: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallArgs:
    kind: Literal["tool_args"] = "tool_args"
    index: int
    arguments: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageReport:
    kind: Literal["usage"] = "usage"
    usage: Usage


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamEnd:
    kind: Literal["end"] = "end"
    finish_reason: FinishReason
    stop_sequence: str | None = None


StreamEvent: TypeAlias = (
    StreamStart
    | TextDelta
    | ThinkingDelta
    | RefusalDelta
    | ToolCallStart
    | ToolCallArgs
    | UsageReport
    | StreamEnd
)
