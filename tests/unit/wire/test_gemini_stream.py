"""``keyroute.wire.gemini.stream.GeminiStreamDecoder``: SSE chunks -> canonical stream events."""

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
from keyroute.wire.gemini import GeminiStreamDecoder
from keyroute.wire.sse import SSEEvent, SSEParser


def chunk(*parts: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "modelVersion": "gemini-x", "responseId": "r1", **extra}


def fcall(name: str, args: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"functionCall": {"name": name, "args": args}, **extra}


def sse_bytes(chunks: list[dict[str, Any]]) -> bytes:
    return b"".join(b"data: " + json.dumps(c).encode() + b"\r\n\r\n" for c in chunks)


def run(chunks: list[dict[str, Any]], *, close: bool = True) -> list[StreamEvent]:
    """Frame chunks as Gemini does, split the bytes awkwardly, parse and decode them."""
    raw = sse_bytes(chunks)
    parser, decoder = SSEParser(), GeminiStreamDecoder(model="asked")
    events: list[StreamEvent] = []
    for i in range(0, len(raw), 7):
        for sse in parser.feed(raw[i : i + 7]):
            events.extend(decoder.feed(sse))
    for sse in parser.close():
        events.extend(decoder.feed(sse))
    if close:
        events.extend(decoder.close())
    return events


def kinds(events: list[StreamEvent]) -> list[str]:
    return [e.kind for e in events]


def check(chunks: list[dict[str, Any]], expected: list[StreamEvent]) -> None:
    assert run(chunks) == expected


START = StreamStart(id="r1", model="gemini-x", created=0)


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        (
            [chunk({"text": "Hel"}), chunk({"text": "lo"}, finish="STOP")],
            [START, TextDelta(text="Hel"), TextDelta(text="lo"), StreamEnd(finish_reason="stop")],
        ),
        (
            [chunk({"text": "x"}), chunk({"text": ""}, finish="MAX_TOKENS")],
            [START, TextDelta(text="x"), StreamEnd(finish_reason="length")],
        ),
        (
            [chunk(finish="SAFETY")],
            [START, StreamEnd(finish_reason="content_filter")],
        ),
        (
            [{"promptFeedback": {"blockReason": "OTHER"}, "responseId": "r1"}],
            [
                StreamStart(id="r1", model="asked", created=0),
                StreamEnd(finish_reason="content_filter"),
            ],
        ),
        (
            [
                chunk({"text": "plan", "thought": True}),
                chunk({"text": "", "thought": True, "thoughtSignature": "SIG"}),
                chunk({"text": "answer", "thoughtSignature": "S2"}, finish="STOP"),
            ],
            [
                START,
                ThinkingDelta(text="plan"),
                ThinkingDelta(signature="SIG"),
                ThinkingDelta(signature="S2"),
                TextDelta(text="answer"),
                StreamEnd(finish_reason="stop"),
            ],
        ),
        (
            [chunk({"text": "a"}, finish="STOP"), chunk({"text": ""}, finish="STOP")],
            [START, TextDelta(text="a"), StreamEnd(finish_reason="stop")],
        ),
    ],
)
def test_stream(chunks, expected):
    check(chunks, expected)


def test_stream_start_comes_once_and_first():
    events = run([chunk({"text": "a"}), chunk({"text": "b"}), chunk(finish="STOP")])
    assert kinds(events).count("start") == 1
    assert events[0].kind == "start"


def test_parallel_calls_get_distinct_running_indexes():
    events = run(
        [
            chunk({"text": "Checking."}),
            chunk(fcall("w", {"c": "Paris"}, thoughtSignature="SIG"), fcall("w", {"c": "Rome"})),
            chunk(fcall("t", {"tz": "UTC"})),
            chunk(fcall("w", {"c": "Oslo"}), fcall("t", {"tz": "CET"})),
            chunk({"text": ""}, finish="STOP"),
        ]
    )
    starts = [e for e in events if isinstance(e, ToolCallStart)]
    args = [e for e in events if isinstance(e, ToolCallArgs)]
    assert [s.index for s in starts] == [0, 1, 2, 3, 4]
    assert [a.index for a in args] == [0, 1, 2, 3, 4]
    assert len({s.id for s in starts}) == 5
    assert [s.signature for s in starts] == ["SIG", None, None, None, None]
    assert [json.loads(a.arguments) for a in args] == [
        {"c": "Paris"},
        {"c": "Rome"},
        {"tz": "UTC"},
        {"c": "Oslo"},
        {"tz": "CET"},
    ]
    # Each start precedes its whole arguments, delivered in one piece.
    for start in starts:
        position = events.index(start)
        assert events[position + 1] == ToolCallArgs(
            index=start.index, arguments=args[start.index].arguments
        )
    assert events[-1] == StreamEnd(finish_reason="tool_calls")


def test_tool_call_in_an_earlier_chunk_still_ends_as_tool_calls():
    events = run([chunk(fcall("f", {})), chunk({"text": ""}, finish="STOP")])
    assert events[-1] == StreamEnd(finish_reason="tool_calls")


def test_given_call_ids_are_kept():
    events = run([chunk({"functionCall": {"id": "fc_1", "name": "f", "args": {}}}, finish="STOP")])
    assert ToolCallStart(index=0, id="fc_1", name="f") in events


def test_stream_ids_match_the_unstreamed_decoder():
    from keyroute.wire.gemini import decode_response

    parts = [fcall("f", {"a": 1}), fcall("g", {"b": 2})]
    whole = decode_response(json.dumps(chunk(*parts, finish="STOP")).encode(), model="m")
    streamed = [
        e
        for e in run([chunk(p) for p in parts] + [chunk(finish="STOP")])
        if isinstance(e, ToolCallStart)
    ]
    assert [c.id for c in whole.tool_calls] == [s.id for s in streamed]


def test_last_usage_metadata_wins():
    events = run(
        [
            chunk({"text": "a"}, usageMetadata={"promptTokenCount": 2150, "totalTokenCount": 2150}),
            chunk(
                {"text": "b"}, usageMetadata={"promptTokenCount": 2150, "candidatesTokenCount": 4}
            ),
            chunk({"text": "c"}),
            chunk(
                finish="STOP",
                usageMetadata={
                    "promptTokenCount": 2150,
                    "cachedContentTokenCount": 1900,
                    "candidatesTokenCount": 18,
                    "thoughtsTokenCount": 45,
                },
            ),
        ]
    )
    reports = [e.usage for e in events if isinstance(e, UsageReport)]
    assert len(reports) == 3
    final = Usage(input_tokens=2150, cache_read_tokens=1900, output_tokens=63, reasoning_tokens=45)
    assert reports[-1] == final
    # A consumer that overwrites ends with the last report; one that added would double count.
    overwritten: Usage | None = None
    for usage in reports:
        overwritten = usage
    assert overwritten == final
    assert sum(u.input_tokens for u in reports) != final.input_tokens


def test_usage_after_the_finish_chunk_is_still_reported():
    events = run([chunk({"text": "a"}, finish="STOP"), {"usageMetadata": {"promptTokenCount": 3}}])
    assert kinds(events) == ["start", "text", "end", "usage"]


def test_truncated_stream_raises_on_close():
    chunks = [
        chunk({"text": "Once"}, usageMetadata={"promptTokenCount": 7}),
        chunk({"text": " upon"}),
    ]
    assert kinds(run(chunks, close=False)) == ["start", "text", "usage", "text"]
    with pytest.raises(UpstreamError, match="truncated") as info:
        run(chunks)
    assert info.value.is_retryable


def test_empty_stream_raises_on_close():
    with pytest.raises(UpstreamError):
        GeminiStreamDecoder().close()


def test_close_after_finish_returns_nothing():
    decoder = GeminiStreamDecoder()
    decoder.feed(SSEEvent(data=json.dumps(chunk({"text": "a"}, finish="STOP"))))
    assert decoder.close() == []


def test_blank_events_are_ignored():
    assert GeminiStreamDecoder().feed(SSEEvent(data="  ")) == []


def test_error_chunk_raises_typed_error():
    decoder = GeminiStreamDecoder()
    decoder.feed(SSEEvent(data=json.dumps(chunk({"text": "partial"}))))
    error = {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}}
    with pytest.raises(UpstreamRateLimited) as info:
        decoder.feed(SSEEvent(data=json.dumps(error)))
    assert info.value.upstream_status == 429


@pytest.mark.parametrize(
    "data",
    [
        "not json",
        "[DONE]",
        json.dumps(chunk(finish="MALFORMED_FUNCTION_CALL")),
        json.dumps(chunk({"fileData": {"fileUri": "gs://x"}})),
    ],
)
def test_bad_chunks_raise_upstream_error(data):
    with pytest.raises(UpstreamError):
        GeminiStreamDecoder().feed(SSEEvent(data=data))


def test_model_falls_back_to_the_constructor_argument():
    events = GeminiStreamDecoder(model="asked").feed(SSEEvent(data='{"candidates": []}'))
    assert isinstance(events[0], StreamStart)
    assert events[0].model == "asked"
    assert events[0].id.startswith("gemini-")
