"""Canonical stream events -> Anthropic Messages SSE (what our ``/v1/messages`` streams back).

Output is the exact event sequence the real API sends: ``message_start``, ``ping``, then per block
``content_block_start`` / ``content_block_delta`` / ``content_block_stop``, then ``message_delta``
(stop reason and cumulative usage) and ``message_stop``.

- Block indices are our own running counter over text, thinking and tool blocks.
- A block of another kind closes the open one; text after a tool call opens a new text block.
- ``message_start`` is held back by one event so that a ``UsageReport`` arriving right after
  ``StreamStart`` (as every provider decoder sends) fills its input counters.
- The stop reason and the last usage are written by ``close()``, since usage may follow the end.
- Tool arguments always travel as ``input_json_delta``, also when a provider sent them whole.
- A provider that interleaves two tool calls' arguments cannot be rendered (Anthropic blocks do
  not reopen): that raises ``ValueError``; no known provider does it.
"""

from __future__ import annotations

from typing import TypeAlias

import msgspec

from keyroute.core.json import JsonObject
from keyroute.core.response import FinishReason, Usage
from keyroute.core.stream import (
    RefusalDelta,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    ThinkingDelta,
    ToolCallArgs,
    ToolCallStart,
    UsageReport,
)
from keyroute.wire.anthropic.response import STOP_REASONS, usage_to_wire
from keyroute.wire.sse import encode_event

# Every event but StreamStart, which ``feed`` holds back itself.
_Body: TypeAlias = (
    TextDelta
    | RefusalDelta
    | ThinkingDelta
    | ToolCallStart
    | ToolCallArgs
    | UsageReport
    | StreamEnd
)


def sse(payload: JsonObject) -> bytes:
    """One Anthropic SSE event; its name is the payload's ``type``."""
    return encode_event(msgspec.json.encode(payload), event=str(payload["type"]))


class AnthropicStreamEncoder:
    """Renders one canonical stream as Anthropic SSE bytes. Stateful: one per response.

    Args:
        model: The model id the client asked for (shown in ``message_start``).
    """

    def __init__(self, model: str) -> None:
        self._model = model
        self._pending: StreamStart | None = None
        self._started = False
        self._next_block = 0
        self._open: str | None = None  # kind of the open block: text, thinking, tool_use
        self._open_tool = -1  # canonical tool index of the open tool block
        self._signed = False  # the open thinking block already got its signature
        self._usage: Usage | None = None
        self._finish: FinishReason = "stop"
        self._stop_sequence: str | None = None
        self._closed = False

    def feed(self, event: StreamEvent) -> bytes:
        """SSE bytes for ``event`` (possibly empty)."""
        if isinstance(event, StreamStart):
            self._pending = event
            return b""
        out = b""
        if not self._started:
            if isinstance(event, UsageReport):
                self._usage = event.usage
            out += self._message_start()
            if isinstance(event, UsageReport):
                return out
        return out + self._event(event)

    def close(self) -> bytes:
        """The closing events: open block stop, ``message_delta``, ``message_stop``."""
        if self._closed:
            return b""
        self._closed = True
        out = b"" if self._started else self._message_start()
        out += self._close_block()
        usage = usage_to_wire(self._usage, breakdown=False)
        out += sse(
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": STOP_REASONS[self._finish],
                    "stop_sequence": self._stop_sequence,
                },
                "usage": usage,
            }
        )
        return out + sse({"type": "message_stop"})

    def _message_start(self) -> bytes:
        self._started = True
        start = self._pending or StreamStart(id="msg_keyroute", model=self._model, created=0)
        message: JsonObject = {
            "id": start.id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_to_wire(self._usage),
        }
        return sse({"type": "message_start", "message": message}) + sse({"type": "ping"})

    def _event(self, event: _Body) -> bytes:
        if isinstance(event, (TextDelta, RefusalDelta)):
            return self._text(event.text)
        if isinstance(event, ThinkingDelta):
            return self._thinking(event)
        if isinstance(event, ToolCallStart):
            out = self._close_block()
            self._open, self._open_tool = "tool_use", event.index
            block: JsonObject = {
                "type": "tool_use",
                "id": event.id,
                "name": event.name,
                "input": {},
            }
            return out + self._start(block)
        if isinstance(event, ToolCallArgs):
            if self._open != "tool_use" or event.index != self._open_tool:
                raise ValueError(f"tool-call {event.index} arguments after its block closed")
            if not event.arguments:
                return b""
            return self._delta({"type": "input_json_delta", "partial_json": event.arguments})
        if isinstance(event, UsageReport):
            self._usage = event.usage
            return b""
        self._finish, self._stop_sequence = event.finish_reason, event.stop_sequence
        return self._close_block()

    def _text(self, text: str) -> bytes:
        if not text:
            return b""
        out = b""
        if self._open != "text":
            out += self._close_block()
            self._open = "text"
            out += self._start({"type": "text", "text": ""})
        return out + self._delta({"type": "text_delta", "text": text})

    def _thinking(self, event: ThinkingDelta) -> bytes:
        out = b""
        if event.redacted:
            out += self._close_block()
            out += self._start({"type": "redacted_thinking", "data": event.text})
            self._open = "redacted_thinking"
            return out + self._close_block()
        if self._open != "thinking" or (self._signed and event.text):
            out += self._close_block()
            self._open, self._signed = "thinking", False
            out += self._start({"type": "thinking", "thinking": "", "signature": ""})
        if event.text:
            out += self._delta({"type": "thinking_delta", "thinking": event.text})
        if event.signature:
            self._signed = True
            out += self._delta({"type": "signature_delta", "signature": event.signature})
        return out

    def _start(self, block: JsonObject) -> bytes:
        index = self._next_block
        return sse({"type": "content_block_start", "index": index, "content_block": block})

    def _delta(self, delta: JsonObject) -> bytes:
        index = self._next_block
        return sse({"type": "content_block_delta", "index": index, "delta": delta})

    def _close_block(self) -> bytes:
        if self._open is None:
            return b""
        index = self._next_block
        self._open = None
        self._next_block += 1
        return sse({"type": "content_block_stop", "index": index})
