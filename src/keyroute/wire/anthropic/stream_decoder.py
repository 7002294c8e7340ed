"""Anthropic Messages SSE -> canonical stream events (the provider's ``StreamDecoder``).

State machine (``providers.md`` §3.4, §6.6):

- ``message_start`` -> ``StreamStart`` and a first ``UsageReport`` (input and cache counters).
- ``content_block_start`` / ``_delta`` / ``_stop`` for ``text``, ``thinking`` (``thinking_delta``,
  ``signature_delta``), ``redacted_thinking`` and ``tool_use`` (``input_json_delta``). Anthropic
  numbers *blocks*; tool calls get ONE running index per stream (block 0 text, block 1 tool ->
  tool index 0). A tool block that streamed no argument text yields ``{}`` at its stop.
- ``message_delta`` usage is cumulative: present counters *overwrite* the running usage (never
  add), missing ones keep the ``message_start`` values. Each one yields a ``UsageReport``.
- ``message_stop`` -> ``StreamEnd`` with the last ``stop_reason``, mapped.
- ``ping``, unknown events and unknown block or delta types are ignored (Anthropic says new ones
  will appear); an ``error`` event raises ``UpstreamError``; ``close()`` before ``message_stop``
  raises too (a truncated stream is a failure, never a short success).
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from keyroute.core.errors import UpstreamError
from keyroute.core.response import Usage
from keyroute.core.stream import (
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    ThinkingDelta,
    ToolCallArgs,
    ToolCallStart,
    UsageReport,
)
from keyroute.wire.anthropic.errors import error_from_event
from keyroute.wire.anthropic.response import (
    finish_reason,
    malformed,
    thinking_part,
    usage_from_wire,
)
from keyroute.wire.anthropic.schema import (
    BlockType,
    ContentBlockDeltaEvent,
    ContentBlockStartEvent,
    ContentBlockStopEvent,
    InputJsonDeltaWire,
    MessageDeltaEvent,
    MessageStartEvent,
    SignatureDeltaWire,
    TextBlock,
    TextDeltaWire,
    ThinkingDeltaWire,
    ToolUseBlock,
)
from keyroute.wire.sse import SSEEvent


@dataclass(slots=True)
class _Block:
    kind: str
    tool_index: int = -1
    has_args: bool = False


class AnthropicStreamDecoder:
    """Decodes one streamed Messages response. Stateful: make one per stream."""

    def __init__(self, provider: str = "anthropic") -> None:
        self._provider = provider
        self._blocks: dict[int, _Block] = {}
        self._next_tool = 0
        self._usage: Usage | None = None
        self._stop_reason: str | None = None
        self._stop_sequence: str | None = None
        self._started = False
        self._done = False

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        """Decode one SSE event.

        Raises:
            UpstreamError: An ``error`` event, or an event that is not valid Anthropic JSON.
        """
        if self._done:
            return []
        try:
            kind = msgspec.json.decode(event.data, type=BlockType).type
            if kind == "error" or event.event == "error":
                raise error_from_event(event.data, self._provider)
            handler = self._handlers.get(kind)
            return handler(self, event.data) if handler else []
        except msgspec.MsgspecError:
            raise malformed("stream event", self._provider) from None

    def close(self) -> list[StreamEvent]:
        """The body ended. Raises ``UpstreamError`` unless ``message_stop`` was seen."""
        if not self._done:
            raise UpstreamError(
                f"{self._provider} stream ended before message_stop (truncated)",
                provider=self._provider,
            )
        return []

    def _message_start(self, data: str) -> list[StreamEvent]:
        message = msgspec.json.decode(data, type=MessageStartEvent).message
        self._started = True
        self._usage = usage_from_wire(message.usage)
        return [
            StreamStart(id=message.id, model=message.model, created=0),
            UsageReport(usage=self._usage),
        ]

    def _block_start(self, data: str) -> list[StreamEvent]:
        event = msgspec.json.decode(data, type=ContentBlockStartEvent)
        raw = event.content_block
        kind = msgspec.json.decode(raw, type=BlockType).type
        block = _Block(kind)
        self._blocks[event.index] = block
        out: list[StreamEvent] = []
        if kind == "text":
            text = msgspec.json.decode(raw, type=TextBlock).text
            if text:
                out.append(TextDelta(text=text))
        elif kind in ("thinking", "redacted_thinking"):
            part = thinking_part(kind, raw)
            if part.text or part.redacted:
                out.append(ThinkingDelta(text=part.text, redacted=part.redacted))
        elif kind == "tool_use":
            call = msgspec.json.decode(raw, type=ToolUseBlock)
            block.tool_index = self._next_tool
            self._next_tool += 1
            out.append(ToolCallStart(index=block.tool_index, id=call.id, name=call.name))
            if call.input:
                block.has_args = True
                args = msgspec.json.encode(call.input).decode()
                out.append(ToolCallArgs(index=block.tool_index, arguments=args))
        return out

    def _block_delta(self, data: str) -> list[StreamEvent]:
        event = msgspec.json.decode(data, type=ContentBlockDeltaEvent)
        block = self._block(event.index)
        kind = msgspec.json.decode(event.delta, type=BlockType).type
        if kind == "text_delta":
            text = msgspec.json.decode(event.delta, type=TextDeltaWire).text
            return [TextDelta(text=text)] if text else []
        if kind == "input_json_delta" and block.kind == "tool_use":
            partial = msgspec.json.decode(event.delta, type=InputJsonDeltaWire).partial_json
            if not partial:
                return []
            block.has_args = True
            return [ToolCallArgs(index=block.tool_index, arguments=partial)]
        if kind == "thinking_delta":
            text = msgspec.json.decode(event.delta, type=ThinkingDeltaWire).thinking
            return [ThinkingDelta(text=text)] if text else []
        if kind == "signature_delta":
            signature = msgspec.json.decode(event.delta, type=SignatureDeltaWire).signature
            return [ThinkingDelta(signature=signature)]
        return []

    def _block_stop(self, data: str) -> list[StreamEvent]:
        event = msgspec.json.decode(data, type=ContentBlockStopEvent)
        block = self._block(event.index)
        if block.kind == "tool_use" and not block.has_args:
            block.has_args = True
            return [ToolCallArgs(index=block.tool_index, arguments="{}")]
        return []

    def _block(self, index: int) -> _Block:
        block = self._blocks.get(index)
        if block is None:
            raise malformed(f"stream (content block {index} was never started)", self._provider)
        return block

    def _message_delta(self, data: str) -> list[StreamEvent]:
        event = msgspec.json.decode(data, type=MessageDeltaEvent)
        if event.delta.stop_reason is not None:
            self._stop_reason = event.delta.stop_reason
            self._stop_sequence = event.delta.stop_sequence
        self._usage = usage_from_wire(event.usage, self._usage)
        return [UsageReport(usage=self._usage)]

    def _message_stop(self, data: str) -> list[StreamEvent]:
        if not self._started:
            raise malformed("stream (message_stop before message_start)", self._provider)
        self._done = True
        reason = finish_reason(self._stop_reason)
        sequence = self._stop_sequence if reason == "stop_sequence" else None
        return [StreamEnd(finish_reason=reason, stop_sequence=sequence)]

    _handlers = {
        "message_start": _message_start,
        "content_block_start": _block_start,
        "content_block_delta": _block_delta,
        "content_block_stop": _block_stop,
        "message_delta": _message_delta,
        "message_stop": _message_stop,
    }
