"""OpenAI chat-completion streams: upstream chunks -> canonical events, and events -> chunks.

Decoder invariants: tool-call fragments are merged by the upstream's ``index`` (a fragment with a
new ``id`` at a used index starts a new call, as some hosts number every call 0), and renumbered
into one running index; the usage-only chunk (``choices: []``) becomes a ``UsageReport``; an
``error`` object inside the stream raises ``UpstreamError``; a stream that stops before a finish
reason (or, with ``require_done``, before ``[DONE]``: the usage chunk comes between the two) is
truncated and raises on ``close()``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from keyroute.core.errors import UpstreamError
from keyroute.core.response import Usage
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
from keyroute.wire.openai.response import (
    UsageS,
    finish_from_openai,
    finish_to_openai,
    usage_from_openai,
    usage_to_openai,
)
from keyroute.wire.sse import SSEEvent


class _FunctionDelta(msgspec.Struct):
    name: str | None = None
    arguments: str | None = None


class _ToolDelta(msgspec.Struct):
    index: int = 0
    id: str | None = None
    function: _FunctionDelta | None = None


class _Delta(msgspec.Struct):
    content: str | None = None
    refusal: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[_ToolDelta] | None = None


class _ChunkChoice(msgspec.Struct):
    delta: _Delta | None = None
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None


class _Error(msgspec.Struct):
    message: str = "stream error"
    type: str | None = None
    code: str | int | None = None


class _Chunk(msgspec.Struct):
    id: str = ""
    model: str = ""
    created: int = 0
    choices: list[_ChunkChoice] | None = None  # None: not a chat.completion.chunk at all
    usage: UsageS | None = None
    error: _Error | None = None


_chunk_decoder = msgspec.json.Decoder(_Chunk)


class OpenAIStreamDecoder:
    """Decodes one OpenAI-format SSE stream."""

    def __init__(self, provider: str, *, require_done: bool = True) -> None:
        self._provider = provider
        self._require_done = require_done
        self._started = False
        self._finished = False
        self._done = False
        self._calls: dict[int, tuple[int, str]] = {}  # upstream index -> (our index, id)
        self._next_index = 0

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        if event.data == "[DONE]":
            self._done = True
            return []
        try:
            chunk = _chunk_decoder.decode(event.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise UpstreamError(
                f"Provider '{self._provider}' sent a malformed stream chunk: {exc}",
                provider=self._provider,
            ) from None
        if chunk.error is not None:
            raise UpstreamError(
                f"Provider '{self._provider}' reported an error mid-stream: {chunk.error.message}",
                provider=self._provider,
                upstream_type=chunk.error.type,
                upstream_code=None if chunk.error.code is None else str(chunk.error.code),
            )
        out: list[StreamEvent] = []
        if not self._started:
            if chunk.choices is None:
                # Another provider's event (an Anthropic message_start, a Gemini chunk) decodes
                # as a chunk with nothing in it: refuse it before anything is relayed.
                raise UpstreamError(
                    f"Provider '{self._provider}' sent a first stream event that is not a "
                    "chat.completion.chunk (it has no choices).",
                    provider=self._provider,
                )
            self._started = True
            out.append(StreamStart(id=chunk.id, model=chunk.model, created=chunk.created))
        for choice in (chunk.choices or ())[:1]:
            if choice.delta is not None:
                self._delta(choice.delta, out, choice.logprobs)
            if choice.finish_reason is not None and not self._finished:
                self._finished = True
                reason = finish_from_openai(choice.finish_reason)
                if self._calls and reason == "stop":
                    reason = "tool_calls"
                out.append(StreamEnd(finish_reason=reason))
        if chunk.usage is not None:
            out.append(UsageReport(usage=usage_from_openai(chunk.usage)))
        return out

    def _delta(self, d: _Delta, out: list[StreamEvent], logprobs: dict[str, Any] | None) -> None:
        if d.reasoning_content:
            out.append(ThinkingDelta(text=d.reasoning_content))
        if d.content:
            out.append(TextDelta(text=d.content, logprobs=logprobs))
        if d.refusal:
            out.append(RefusalDelta(text=d.refusal))
        for t in d.tool_calls or ():
            known = self._calls.get(t.index)
            if known is None or (t.id is not None and t.id != known[1]):
                ours = self._next_index
                self._next_index += 1
                call_id = t.id or f"call_{ours}"
                self._calls[t.index] = (ours, call_id)
                name = t.function.name if t.function and t.function.name else ""
                out.append(ToolCallStart(index=ours, id=call_id, name=name))
            else:
                ours = known[0]
            if t.function is not None and t.function.arguments:
                out.append(ToolCallArgs(index=ours, arguments=t.function.arguments))

    def close(self) -> list[StreamEvent]:
        if not self._finished or (self._require_done and not self._done):
            raise UpstreamError(
                f"Provider '{self._provider}' ended the stream before it was complete.",
                provider=self._provider,
            )
        return []


class OpenAIStreamEncoder:
    """Renders canonical events as ``chat.completion.chunk`` SSE events for a client.

    The usage chunk (``choices: []``) is sent last, before ``[DONE]``, when the client asked for
    it with ``stream_options.include_usage``.
    """

    def __init__(self, *, model: str, response_id: str, include_usage: bool, created: int) -> None:
        self._model = model
        self._id = response_id
        self._include_usage = include_usage
        self._created = created
        self._usage: Usage | None = None
        self._started = False

    def _chunk(self, choices: list[dict[str, Any]]) -> bytes:
        body: dict[str, Any] = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": choices,
        }
        if self._include_usage:
            body["usage"] = None
        return b"data: " + msgspec.json.encode(body) + b"\n\n"

    def _delta(
        self,
        delta: dict[str, Any],
        finish: str | None = None,
        logprobs: dict[str, Any] | None = None,
    ) -> bytes:
        return self._chunk(
            [{"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}]
        )

    def feed(self, event: StreamEvent) -> bytes:
        if isinstance(event, StreamStart):
            if event.created:
                self._created = event.created
            self._started = True
            return self._delta({"role": "assistant", "content": ""})
        if isinstance(event, TextDelta):
            return self._delta({"content": event.text}, logprobs=event.logprobs)
        if isinstance(event, ToolCallStart):
            return self._delta(
                {
                    "tool_calls": [
                        {
                            "index": event.index,
                            "id": event.id,
                            "type": "function",
                            "function": {"name": event.name, "arguments": ""},
                        }
                    ]
                }
            )
        if isinstance(event, ToolCallArgs):
            return self._delta(
                {"tool_calls": [{"index": event.index, "function": {"arguments": event.arguments}}]}
            )
        if isinstance(event, RefusalDelta):
            return self._delta({"refusal": event.text})
        if isinstance(event, UsageReport):
            self._usage = event.usage
            return b""
        if isinstance(event, StreamEnd):
            return self._delta({}, finish_to_openai(event.finish_reason))
        return b""  # thinking deltas have no chat-completions form

    def close(self) -> bytes:
        tail = b""
        if self._include_usage and self._usage is not None:
            body = {
                "id": self._id,
                "object": "chat.completion.chunk",
                "created": self._created,
                "model": self._model,
                "choices": [],
                "usage": usage_to_openai(self._usage),
            }
            tail = b"data: " + msgspec.json.encode(body) + b"\n\n"
        return tail + b"data: [DONE]\n\n"
