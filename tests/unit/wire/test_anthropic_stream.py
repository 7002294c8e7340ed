"""Anthropic SSE -> canonical stream events (``AnthropicStreamDecoder``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from keyroute.core.errors import UpstreamError, UpstreamRateLimited
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
from keyroute.wire.anthropic import AnthropicStreamDecoder
from keyroute.wire.sse import SSEEvent, SSEParser
from tests.fakes.fake_anthropic import transcript_bytes


def decode_bytes(raw: bytes, chunk: int = 0) -> list[StreamEvent]:
    """Run raw SSE bytes (optionally split every ``chunk`` bytes) through parser and decoder."""
    parser, decoder = SSEParser(), AnthropicStreamDecoder()
    pieces = [raw[i : i + chunk] for i in range(0, len(raw), chunk)] if chunk else [raw]
    out: list[StreamEvent] = []
    for piece in pieces:
        for event in parser.feed(piece):
            out += decoder.feed(event)
    for event in parser.close():
        out += decoder.feed(event)
    return out + decoder.close()


def decode_case(case: str, chunk: int = 0) -> list[StreamEvent]:
    return decode_bytes(transcript_bytes(case, "stream.sse"), chunk)


def events(*payloads: dict[str, Any]) -> list[StreamEvent]:
    """Feed JSON payloads (named by their type) to one decoder; no ``close()``."""
    decoder = AnthropicStreamDecoder()
    out: list[StreamEvent] = []
    for payload in payloads:
        out += decoder.feed(SSEEvent(data=json.dumps(payload), event=payload["type"]))
    return out


START = {
    "type": "message_start",
    "message": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 1},
    },
}
STOP = {"type": "message_stop"}


def block(index: int, **content_block: Any) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": content_block}


def delta(index: int, **d: Any) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": d}


def end(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def message_delta(stop: str | None = "end_turn", **usage: Any) -> dict[str, Any]:
    return {
        "type": "message_delta",
        "delta": {"stop_reason": stop, "stop_sequence": None},
        "usage": usage,
    }


STREAMING_USAGE = [
    StreamStart(id="msg_01StreamJ10", model="claude-sonnet-5-5", created=0),
    UsageReport(
        usage=Usage(
            input_tokens=3350,
            output_tokens=1,
            cache_read_tokens=1920,
            cache_write_tokens=1200,
            cache_write_1h_tokens=1000,
        )
    ),
    TextDelta(text="Hello"),
    TextDelta(text=", Bonjour"),
    TextDelta(text=", Hola!"),
    UsageReport(
        usage=Usage(
            input_tokens=3350,
            output_tokens=15,
            cache_read_tokens=1920,
            cache_write_tokens=1200,
            cache_write_1h_tokens=1000,
        )
    ),
    StreamEnd(finish_reason="stop"),
]

STREAMING_TOOL_USE = [
    StreamStart(id="msg_01ToolStreamK11", model="claude-sonnet-5-5", created=0),
    UsageReport(usage=Usage(input_tokens=380, output_tokens=1)),
    TextDelta(text="Let me check"),
    TextDelta(text=" both cities."),
    ToolCallStart(index=0, id="toolu_01P", name="get_weather"),
    ToolCallArgs(index=0, arguments='{"city": "Par'),
    ToolCallArgs(index=0, arguments='is"}'),
    ToolCallStart(index=1, id="toolu_01R", name="get_weather"),
    ToolCallArgs(index=1, arguments='{"ci'),
    ToolCallArgs(index=1, arguments='ty": "Rome"}'),
    UsageReport(usage=Usage(input_tokens=380, output_tokens=89)),
    StreamEnd(finish_reason="tool_calls"),
]

THINKING_TOOL_USE = [
    StreamStart(id="msg_01ThinkL12", model="claude-sonnet-5-5", created=0),
    UsageReport(usage=Usage(input_tokens=730, output_tokens=3, cache_read_tokens=310)),
    ThinkingDelta(text="The user wants to know about rain. "),
    ThinkingDelta(text="I should check the weather."),
    ThinkingDelta(signature="EqQBCgIYAhIM1gbcDa9GJwZA2b3h"),
    TextDelta(text="Let me look that up."),
    ToolCallStart(index=0, id="toolu_01T", name="get_weather"),
    ToolCallArgs(index=0, arguments='{"city":'),
    ToolCallArgs(index=0, arguments=' "Paris"}'),
    UsageReport(
        usage=Usage(input_tokens=730, output_tokens=121, cache_read_tokens=310, reasoning_tokens=64)
    ),
    StreamEnd(finish_reason="tool_calls"),
]


def check(case: str, expected: list[StreamEvent]) -> None:
    assert decode_case(case) == expected
    assert decode_case(case, chunk=7) == expected  # bytes split anywhere give the same events


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("streaming_usage", STREAMING_USAGE),
        ("streaming_tool_use", STREAMING_TOOL_USE),
        ("thinking_tool_use", THINKING_TOOL_USE),
    ],
)
def test_transcripts(case: str, expected: list[StreamEvent]) -> None:
    check(case, expected)


def test_tool_index_is_one_running_counter() -> None:
    got = events(
        START,
        block(0, type="text", text=""),
        delta(0, type="text_delta", text="a"),
        end(0),
        block(1, type="tool_use", id="t1", name="f", input={}),
        delta(1, type="input_json_delta", partial_json="{}"),
        end(1),
        block(2, type="thinking", thinking="", signature=""),
        end(2),
        block(3, type="tool_use", id="t2", name="g", input={}),
        delta(3, type="input_json_delta", partial_json='{"x":1}'),
        end(3),
    )
    starts = [e for e in got if isinstance(e, ToolCallStart)]
    args = [e for e in got if isinstance(e, ToolCallArgs)]
    assert [(s.index, s.id) for s in starts] == [(0, "t1"), (1, "t2")]
    assert [(a.index, a.arguments) for a in args] == [(0, "{}"), (1, '{"x":1}')]


def test_message_delta_usage_overwrites_not_adds() -> None:
    got = events(
        START,
        message_delta(None, output_tokens=30),
        message_delta("end_turn", input_tokens=10, cache_read_input_tokens=5, output_tokens=58),
        STOP,
    )
    reports = [e.usage for e in got if isinstance(e, UsageReport)]
    assert reports == [
        Usage(input_tokens=15, output_tokens=1, cache_read_tokens=5),
        Usage(input_tokens=15, output_tokens=30, cache_read_tokens=5),
        Usage(input_tokens=15, output_tokens=58, cache_read_tokens=5),
    ]
    assert got[-1] == StreamEnd(finish_reason="stop")


def test_message_delta_counters_replace_message_start_ones() -> None:
    # Relays that report cache-inclusive input in message_start and the split in message_delta.
    got = events(
        START, message_delta(input_tokens=3, cache_creation_input_tokens=12, output_tokens=9), STOP
    )
    assert [e for e in got if isinstance(e, UsageReport)][-1].usage == Usage(
        input_tokens=20, output_tokens=9, cache_read_tokens=5, cache_write_tokens=12
    )


@pytest.mark.parametrize(
    ("payloads", "expected"),
    [
        (
            [block(0, type="tool_use", id="t", name="f", input={}), end(0)],
            [ToolCallStart(index=0, id="t", name="f"), ToolCallArgs(index=0, arguments="{}")],
        ),
        (
            [
                block(0, type="tool_use", id="t", name="f", input={}),
                delta(0, type="input_json_delta", partial_json=""),
                end(0),
            ],
            [ToolCallStart(index=0, id="t", name="f"), ToolCallArgs(index=0, arguments="{}")],
        ),
        (
            [block(0, type="tool_use", id="t", name="f", input={"a": 1}), end(0)],
            [ToolCallStart(index=0, id="t", name="f"), ToolCallArgs(index=0, arguments='{"a":1}')],
        ),
        (
            [block(0, type="text", text="pre"), delta(0, type="text_delta", text="")],
            [TextDelta(text="pre")],
        ),
        (
            [block(0, type="redacted_thinking", data="xyz"), end(0)],
            [ThinkingDelta(text="xyz", redacted=True)],
        ),
        (
            [
                block(0, type="thinking", thinking="", signature=""),
                delta(0, type="thinking_delta", thinking=""),
            ],
            [],
        ),
        ([block(0, type="text", text=""), delta(0, type="citations_delta", citation={})], []),
        (
            [
                block(0, type="server_tool_use", id="s", name="web_search", input={}),
                delta(0, type="input_json_delta", partial_json="{}"),
                end(0),
            ],
            [],
        ),
        ([{"type": "ping"}, {"type": "a_future_event"}], []),
        (
            [
                message_delta("stop_sequence", output_tokens=2)
                | {"delta": {"stop_reason": "stop_sequence", "stop_sequence": "END"}},
                STOP,
            ],
            [
                UsageReport(usage=Usage(input_tokens=15, output_tokens=2, cache_read_tokens=5)),
                StreamEnd(finish_reason="stop_sequence", stop_sequence="END"),
            ],
        ),
        (
            [
                message_delta("refusal", output_tokens=2),
                STOP,
                block(0, type="text", text="after the end"),
            ],
            [
                UsageReport(usage=Usage(input_tokens=15, output_tokens=2, cache_read_tokens=5)),
                StreamEnd(finish_reason="refusal"),
            ],
        ),
        ([STOP], [StreamEnd(finish_reason="stop")]),
    ],
)
def test_events(payloads: list[dict[str, Any]], expected: list[StreamEvent]) -> None:
    assert events(START, *payloads)[2:] == expected


def test_truncated_stream_raises_on_close() -> None:
    with pytest.raises(UpstreamError) as info:
        decode_case("truncated_stream")
    assert info.value.is_retryable
    assert "message_stop" in info.value.message


def test_in_stream_error_raises_overloaded() -> None:
    with pytest.raises(UpstreamError) as info:
        decode_case("stream_error")
    err = info.value
    assert (err.upstream_status, err.upstream_type, err.is_retryable) == (
        529,
        "overloaded_error",
        True,
    )
    assert err.status_code() == 503
    assert "anthropic" in err.message


def test_in_stream_rate_limit_error_is_typed() -> None:
    with pytest.raises(UpstreamRateLimited):
        events(
            START, {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
        )


@pytest.mark.parametrize(
    "payload",
    [
        delta(9, type="text_delta", text="x"),  # a block that never started
        {"type": "content_block_start", "index": 0},
        {"type": "message_start", "message": {}},
    ],
)
def test_malformed_events_raise(payload: dict[str, Any]) -> None:
    with pytest.raises(UpstreamError):
        events(START, payload)


@pytest.mark.parametrize("data", ["not json", '{"no": "type"}'])
def test_undecodable_events_raise(data: str) -> None:
    with pytest.raises(UpstreamError):
        AnthropicStreamDecoder().feed(SSEEvent(data=data))


def test_message_stop_before_message_start_raises() -> None:
    with pytest.raises(UpstreamError):
        AnthropicStreamDecoder().feed(SSEEvent(data='{"type":"message_stop"}'))


def test_error_event_with_unreadable_body_is_still_an_upstream_error() -> None:
    with pytest.raises(UpstreamError) as info:
        AnthropicStreamDecoder().feed(SSEEvent(data='{"type":"error"}', event="error"))
    assert info.value.upstream_status == 500
