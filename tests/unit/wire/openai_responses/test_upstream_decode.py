"""``wire.openai_responses.upstream_decode``: OpenAI's Responses API answers, whole and streamed."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from keyroute.core.chat import ThinkingPart, ToolCall
from keyroute.core.errors import UpstreamError
from keyroute.core.response import Usage
from keyroute.core.stream import (
    RefusalDelta,
    StreamEnd,
    StreamStart,
    TextDelta,
    ThinkingDelta,
    ToolCallArgs,
    ToolCallStart,
    UsageReport,
)
from keyroute.wire.openai_responses.upstream_decode import (
    ResponsesUpstreamDecoder,
    decode_upstream_response,
)
from keyroute.wire.sse import SSEEvent


def answer(**fields: Any) -> bytes:
    base: dict[str, Any] = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1700000000,
        "status": "completed",
        "model": "gpt-5",
        "output": [
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "hm"}],
                "encrypted_content": "enc",
            },
            {
                "type": "message",
                "content": [
                    {"type": "output_text", "text": "Hi"},
                    {"type": "refusal", "refusal": "no"},
                    "junk",
                    {"type": "other"},
                ],
            },
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
        ],
        "usage": {
            "input_tokens": 10,
            "input_tokens_details": {"cached_tokens": 4},
            "output_tokens": 5,
            "output_tokens_details": {"reasoning_tokens": 2},
        },
        "service_tier": "flex",
    }
    return msgspec.json.encode({**base, **fields})


def test_a_whole_answer_decodes() -> None:
    got = decode_upstream_response(answer())
    assert got.text == "Hi" and got.refusal == "no" and got.finish_reason == "tool_calls"
    assert got.thinking == (ThinkingPart(text="hm", signature="enc", origin="openai/gpt-5#rs_1"),)
    assert got.tool_calls == (ToolCall(id="c", name="f", arguments="{}"),)
    assert got.usage == Usage(
        input_tokens=10, output_tokens=5, cache_read_tokens=4, reasoning_tokens=2
    )
    assert got.service_tier == "flex" and got.created == 1700000000
    plain = decode_upstream_response(
        answer(output=[], usage={"input_tokens": 1, "output_tokens": 1})
    )
    assert (
        plain.text is None
        and plain.finish_reason == "stop"
        and plain.usage == Usage(input_tokens=1, output_tokens=1)
    )
    cut = decode_upstream_response(
        answer(status="incomplete", incomplete_details={"reason": "max_output_tokens"}, usage=None)
    )
    assert cut.finish_reason == "length" and cut.usage is None
    filtered = decode_upstream_response(
        answer(status="incomplete", incomplete_details={"reason": "content_filter"})
    )
    assert filtered.finish_reason == "content_filter"


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        answer(status="failed", error={"message": "bad", "code": "server_error"}),
        answer(output=[{"type": "web_search_call"}]),
    ],
)
def test_bad_answers_are_upstream_errors(body: bytes) -> None:
    with pytest.raises(UpstreamError):
        decode_upstream_response(body)


def ev(kind: str, **fields: Any) -> SSEEvent:
    return SSEEvent(event=kind, data=msgspec.json.encode({"type": kind, **fields}).decode())


def test_a_stream_decodes() -> None:
    d = ResponsesUpstreamDecoder()
    head = {"id": "resp_1", "model": "gpt-5", "created_at": 1700000000, "output": []}
    got = d.feed(ev("response.created", response=head))
    assert got == [StreamStart(id="resp_1", model="gpt-5", created=1700000000)]
    events = [
        ev("response.in_progress", response=head),
        ev("response.reasoning_summary_text.delta", delta="hm"),
        ev(
            "response.output_item.done",
            output_index=0,
            item={"type": "reasoning", "id": "rs_1", "summary": []},
        ),
        ev(
            "response.output_item.done",
            output_index=0,
            item={"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "enc"},
        ),
        ev("response.output_item.added", output_index=1, item={"type": "message"}),
        ev("response.output_text.delta", delta="Hi"),
        ev("response.refusal.delta", delta="no"),
        ev(
            "response.output_item.added",
            output_index=2,
            item={"type": "function_call", "call_id": "c", "name": "f"},
        ),
        ev("response.function_call_arguments.delta", output_index=2, delta="{}"),
        ev("response.function_call_arguments.delta", output_index=9, delta="?"),
        ev(
            "response.output_item.done",
            output_index=2,
            item={"type": "function_call", "arguments": "{}"},
        ),
        ev(
            "response.output_item.added",
            output_index=3,
            item={"type": "function_call", "call_id": "d", "name": "g"},
        ),
        ev(
            "response.output_item.done",
            output_index=3,
            item={"type": "function_call", "arguments": '{"x":1}'},
        ),
        ev(
            "response.output_item.added",
            output_index=4,
            item={"type": "function_call", "call_id": "e", "name": "h"},
        ),
        ev(
            "response.output_item.done",
            output_index=4,
            item={"type": "function_call", "arguments": ""},
        ),
        ev("response.output_item.done", output_index=1, item={"type": "message"}),
        ev(
            "response.completed",
            response={**head, "usage": {"input_tokens": 3, "output_tokens": 2}},
        ),
    ]
    out = [e for event in events for e in d.feed(event)]
    assert out == [
        ThinkingDelta(text="hm"),
        ThinkingDelta(signature="enc", origin="openai/gpt-5#rs_1"),
        TextDelta(text="Hi"),
        RefusalDelta(text="no"),
        ToolCallStart(index=0, id="c", name="f"),
        ToolCallArgs(index=0, arguments="{}"),
        ToolCallStart(index=1, id="d", name="g"),
        ToolCallArgs(index=1, arguments='{"x":1}'),
        ToolCallStart(index=2, id="e", name="h"),
        UsageReport(usage=Usage(input_tokens=3, output_tokens=2)),
        StreamEnd(finish_reason="tool_calls"),
    ]
    assert d.close() == []


def test_an_incomplete_stream_ends_with_length() -> None:
    d = ResponsesUpstreamDecoder()
    d.feed(ev("response.created", response={"id": "r", "model": "m"}))
    out = d.feed(
        ev(
            "response.incomplete",
            response={
                "status": "incomplete",
                "incomplete_details": {"reason": "max_output_tokens"},
            },
        )
    )
    assert out == [StreamEnd(finish_reason="length")]


@pytest.mark.parametrize(
    "events",
    [
        [SSEEvent(data="{")],
        [ev("response.output_text.delta", delta="x")],
        [
            ev("response.created", response={"id": "r"}),
            ev("response.failed", response={"status": "failed"}),
        ],
        [
            ev("response.created", response={"id": "r"}),
            ev("error", message="boom", code="server_error"),
        ],
        [ev("response.created", response={"id": "r"}), ev("error")],
    ],
)
def test_stream_failures_raise(events: list[SSEEvent]) -> None:
    d = ResponsesUpstreamDecoder()
    with pytest.raises(UpstreamError):
        for e in events:
            d.feed(e)


def test_a_stream_that_stops_early_raises_on_close() -> None:
    d = ResponsesUpstreamDecoder()
    d.feed(ev("response.created", response={"id": "r"}))
    with pytest.raises(UpstreamError):
        d.close()
