"""A whole answer and its stream, both ways (pure): ``StreamAssembler`` builds the
``ChatResponse`` a stream amounts to, ``stream_events`` replays a ``ChatResponse`` as the
canonical events a provider's stream would have produced, so each client's own stream encoder
renders it in its format. ``encode_answer`` / ``decode_answer`` are the cached bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from keyroute.core.chat import ThinkingPart, ToolCall
from keyroute.core.response import ChatResponse, FinishReason, Usage
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


def encode_answer(answer: ChatResponse) -> bytes:
    return msgspec.json.encode(answer)


def decode_answer(data: bytes) -> ChatResponse:
    """The answer ``encode_answer`` stored (its own bytes: a corrupt value raises)."""
    raw: Any = msgspec.json.decode(data)
    usage = raw.pop("usage")
    return ChatResponse(
        **{k: v for k, v in raw.items() if k not in ("tool_calls", "thinking")},
        tool_calls=tuple(ToolCall(**c) for c in raw["tool_calls"]),
        thinking=tuple(ThinkingPart(**t) for t in raw["thinking"]),
        usage=Usage(**usage) if usage is not None else None,
    )


def stream_events(answer: ChatResponse) -> list[StreamEvent]:
    """The events of ``answer``, in the order a provider streams them."""
    events: list[StreamEvent] = [
        StreamStart(id=answer.id, model=answer.model, created=answer.created)
    ]
    for part in answer.thinking:
        events.append(
            ThinkingDelta(text=part.text, signature=part.signature, redacted=part.redacted)
        )
    if answer.text:
        events.append(TextDelta(text=answer.text, logprobs=answer.logprobs))
    if answer.refusal:
        events.append(RefusalDelta(text=answer.refusal))
    for index, call in enumerate(answer.tool_calls):
        events.append(
            ToolCallStart(index=index, id=call.id, name=call.name, signature=call.signature)
        )
        events.append(ToolCallArgs(index=index, arguments=call.arguments))
    if answer.usage is not None:
        events.append(UsageReport(usage=answer.usage))
    events.append(StreamEnd(finish_reason=answer.finish_reason, stop_sequence=answer.stop_sequence))
    return events


@dataclass(slots=True)
class _Call:
    id: str
    name: str
    signature: str | None
    arguments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class StreamAssembler:
    """Fed every event of a stream; ``answer`` is the whole answer once the stream ended well."""

    start: StreamStart | None = None
    text: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    thinking: list[ThinkingPart] = field(default_factory=list)
    calls: dict[int, _Call] = field(default_factory=dict)
    usage: Usage | None = None
    end: StreamEnd | None = None

    def feed(self, event: StreamEvent) -> None:
        if isinstance(event, StreamStart):
            self.start = event
        elif isinstance(event, TextDelta):
            self.text.append(event.text)
        elif isinstance(event, RefusalDelta):
            self.refusal.append(event.text)
        elif isinstance(event, ThinkingDelta):
            self._think(event)
        elif isinstance(event, ToolCallStart):
            self.calls[event.index] = _Call(event.id, event.name, event.signature)
        elif isinstance(event, ToolCallArgs) and event.index in self.calls:
            self.calls[event.index].arguments.append(event.arguments)
        elif isinstance(event, UsageReport):
            self.usage = event.usage
        elif isinstance(event, StreamEnd):
            self.end = event

    def _think(self, delta: ThinkingDelta) -> None:
        last = self.thinking[-1] if self.thinking else None
        if last is not None and last.signature is None and not last.redacted:
            self.thinking[-1] = ThinkingPart(
                text=last.text + delta.text, signature=delta.signature, redacted=delta.redacted
            )
        else:
            self.thinking.append(
                ThinkingPart(text=delta.text, signature=delta.signature, redacted=delta.redacted)
            )

    def answer(self) -> ChatResponse | None:
        """The whole answer, or None when the stream did not start and end properly."""
        if self.start is None or self.end is None:
            return None
        finish: FinishReason = self.end.finish_reason
        return ChatResponse(
            id=self.start.id,
            model=self.start.model,
            created=self.start.created,
            text="".join(self.text) or None,
            tool_calls=tuple(
                ToolCall(
                    id=c.id, name=c.name, arguments="".join(c.arguments), signature=c.signature
                )
                for _, c in sorted(self.calls.items())
            ),
            thinking=tuple(self.thinking),
            refusal="".join(self.refusal) or None,
            finish_reason=finish,
            stop_sequence=self.end.stop_sequence,
            usage=self.usage,
        )
