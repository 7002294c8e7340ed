"""Canonical stream events -> Anthropic SSE (``AnthropicStreamEncoder``)."""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import Message, RawMessageStreamEvent

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
from keyroute.wire.anthropic import AnthropicStreamEncoder, encode_stream_error
from keyroute.wire.sse import SSEParser
from tests.fakes.fake_anthropic import transcript_bytes
from tests.unit.wire.test_anthropic_stream import decode_bytes, decode_case

EVENT = pydantic.TypeAdapter[Any](RawMessageStreamEvent)
START = StreamStart(id="msg_1", model="upstream-model", created=0)


def render(*stream: StreamEvent) -> bytes:
    encoder = AnthropicStreamEncoder("claude-client")
    return b"".join(encoder.feed(e) for e in stream) + encoder.close()


def payloads(raw: bytes) -> list[dict[str, Any]]:
    """Parsed SSE payloads; checks every event name matches its payload type."""
    out = []
    for event in SSEParser().feed(raw):
        payload = json.loads(event.data)
        assert event.event == payload["type"]
        out.append(payload)
    return out


def final_message(raw: bytes) -> Message:
    """What the official SDK's stream helper assembles from ``raw`` (each event validated)."""
    snapshot = None
    bufs: dict[int, bytes] = {}
    for payload in payloads(raw):
        if payload["type"] == "ping":
            continue
        event = EVENT.validate_python(payload)
        snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=bufs)
    assert snapshot is not None
    return Message.model_validate(snapshot.model_dump())


def blocks(message: Message) -> list[dict[str, Any]]:
    return [b.model_dump(exclude_none=True) for b in message.content]


def summary(message: Message) -> dict[str, Any]:
    """What a client sees of a streamed message: content, stop and the counters it is billed on."""
    usage = message.usage.model_dump(
        include={
            "input_tokens",
            "output_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
        }
    )
    return {
        "id": message.id,
        "content": blocks(message),
        "stop": (message.stop_reason, message.stop_sequence),
        "usage": usage,
    }


def kinds(raw: bytes) -> list[str]:
    out = []
    for p in payloads(raw):
        detail = p.get("content_block", p.get("delta", {})).get("type", "")
        out.append(f"{p['type']}:{p['index']}:{detail}" if "index" in p else p["type"])
    return out


def test_text_then_tools_then_text() -> None:
    raw = render(
        START,
        UsageReport(usage=Usage(input_tokens=30, cache_read_tokens=20, output_tokens=1)),
        TextDelta(text="Let me check."),
        ToolCallStart(index=0, id="t0", name="f"),
        ToolCallArgs(index=0, arguments='{"a":'),
        ToolCallArgs(index=0, arguments="1}"),
        ToolCallStart(index=1, id="t1", name="g"),
        ToolCallArgs(index=1, arguments='{"b":2}'),  # whole arguments in one piece
        TextDelta(text="Done."),
        StreamEnd(finish_reason="tool_calls"),
        UsageReport(usage=Usage(input_tokens=30, cache_read_tokens=20, output_tokens=40)),
    )
    assert kinds(raw) == [
        "message_start",
        "ping",
        "content_block_start:0:text",
        "content_block_delta:0:text_delta",
        "content_block_stop:0:",
        "content_block_start:1:tool_use",
        "content_block_delta:1:input_json_delta",
        "content_block_delta:1:input_json_delta",
        "content_block_stop:1:",
        "content_block_start:2:tool_use",
        "content_block_delta:2:input_json_delta",
        "content_block_stop:2:",
        "content_block_start:3:text",
        "content_block_delta:3:text_delta",
        "content_block_stop:3:",
        "message_delta",
        "message_stop",
    ]
    message = final_message(raw)
    assert message.model == "claude-client"
    assert blocks(message) == [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "t0", "name": "f", "input": {"a": 1}},
        {"type": "tool_use", "id": "t1", "name": "g", "input": {"b": 2}},
        {"type": "text", "text": "Done."},
    ]
    assert message.stop_reason == "tool_use"
    assert (
        message.usage.input_tokens,
        message.usage.cache_read_input_tokens,
        message.usage.output_tokens,
    ) == (10, 20, 40)
    start = payloads(raw)[0]["message"]["usage"]
    assert (start["input_tokens"], start["cache_read_input_tokens"]) == (10, 20)


def test_thinking_blocks() -> None:
    raw = render(
        START,
        ThinkingDelta(text="one "),
        ThinkingDelta(text="two"),
        ThinkingDelta(signature="sig-1"),
        ThinkingDelta(text="second block"),
        ThinkingDelta(signature="sig-2"),
        ThinkingDelta(text="secret", redacted=True),
        RefusalDelta(text="No."),
        StreamEnd(finish_reason="refusal"),
    )
    message = final_message(raw)
    assert blocks(message) == [
        {"type": "thinking", "thinking": "one two", "signature": "sig-1"},
        {"type": "thinking", "thinking": "second block", "signature": "sig-2"},
        {"type": "redacted_thinking", "data": "secret"},
        {"type": "text", "text": "No."},
    ]
    assert message.stop_reason == "refusal"


@pytest.mark.parametrize(
    ("stream", "stop_reason", "stop_sequence"),
    [
        (
            [START, StreamEnd(finish_reason="stop_sequence", stop_sequence="END")],
            "stop_sequence",
            "END",
        ),
        ([START, StreamEnd(finish_reason="length")], "max_tokens", None),
        ([START, StreamEnd(finish_reason="pause")], "pause_turn", None),
        ([START, StreamEnd(finish_reason="context_window")], "model_context_window_exceeded", None),
        ([START], "end_turn", None),
        ([], "end_turn", None),
    ],
)
def test_stop_reasons(
    stream: list[StreamEvent], stop_reason: str, stop_sequence: str | None
) -> None:
    message = final_message(render(*stream))
    assert (message.stop_reason, message.stop_sequence) == (stop_reason, stop_sequence)


def test_empty_deltas_open_no_block_and_every_block_is_closed() -> None:
    raw = render(
        START,
        TextDelta(text=""),
        ToolCallStart(index=0, id="t", name="f"),
        ToolCallArgs(index=0, arguments=""),
    )
    assert kinds(raw)[2:] == [
        "content_block_start:0:tool_use",
        "content_block_stop:0:",
        "message_delta",
        "message_stop",
    ]
    assert blocks(final_message(raw))[0] == {
        "type": "tool_use",
        "id": "t",
        "name": "f",
        "input": {},
    }


def test_interleaved_tool_arguments_cannot_be_rendered() -> None:
    encoder = AnthropicStreamEncoder("m")
    for event in (
        START,
        ToolCallStart(index=0, id="a", name="f"),
        ToolCallStart(index=1, id="b", name="g"),
    ):
        encoder.feed(event)
    with pytest.raises(ValueError):
        encoder.feed(ToolCallArgs(index=0, arguments="{}"))


def test_close_is_idempotent_and_second_start_is_ignored() -> None:
    encoder = AnthropicStreamEncoder("m")
    assert encoder.feed(START) == b""
    assert encoder.feed(TextDelta(text="x")).startswith(b"event: message_start\n")
    assert encoder.feed(START) == b""
    assert encoder.close().endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    assert encoder.close() == b""


@pytest.mark.parametrize("case", ["streaming_usage", "streaming_tool_use", "thinking_tool_use"])
def test_transcripts_survive_decode_then_encode(case: str) -> None:
    original = transcript_bytes(case, "stream.sse")
    events = decode_case(case)
    encoder = AnthropicStreamEncoder("claude-sonnet-5-5")
    raw = b"".join(encoder.feed(e) for e in events) + encoder.close()
    assert summary(final_message(raw)) == summary(final_message(original))
    assert decode_bytes(raw) == events


def test_stream_error_event() -> None:
    raw = encode_stream_error(
        UpstreamError("anthropic is overloaded", provider="anthropic", upstream_status=529)
    )
    assert raw.startswith(b"event: error\ndata: ")
    assert payloads(raw) == [
        {
            "type": "error",
            "error": {"type": "overloaded_error", "message": "anthropic is overloaded"},
        }
    ]
