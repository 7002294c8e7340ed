"""``keyroute.wire.openai_responses.stream``: the typed event sequence, every event validated
with the SDK's own types, sequence numbers without gaps."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pydantic
from openai.types.responses import ResponseStreamEvent

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
from keyroute.wire.openai_responses import ResponsesStreamEncoder, decode_request

EVENT: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ResponseStreamEvent)
REQ = decode_request(msgspec.json.encode({"model": "m", "input": "Hi", "stream": True}))


def run(
    events: list[StreamEvent], fail: bool = False
) -> tuple[list[dict[str, Any]], ResponsesStreamEncoder]:
    enc = ResponsesStreamEncoder(REQ, response_id="resp_1", model="m", created_at=1)
    raw = b"".join(enc.feed(e) for e in events)
    raw += enc.error(UpstreamError("boom", provider="p", retryable=True)) if fail else enc.close()
    out = []
    for block in raw.decode().strip().split("\n\n"):
        head, data = block.split("\n")
        event = json.loads(data.removeprefix("data: "))
        assert head == "event: " + event["type"]
        EVENT.validate_python(event)
        out.append(event)
    assert [e["sequence_number"] for e in out] == list(range(len(out)))
    return out, enc


START = StreamStart(id="x", model="m", created=1)


def test_text_thinking_and_calls() -> None:
    events, enc = run(
        [
            START,
            ThinkingDelta(text="h"),
            ThinkingDelta(text="m"),
            ThinkingDelta(signature="sig"),
            TextDelta(text="Hel"),
            TextDelta(text="lo"),
            RefusalDelta(text="no"),
            ToolCallStart(index=0, id="c1", name="f"),
            ToolCallArgs(index=0, arguments='{"a"'),
            ToolCallArgs(index=0, arguments=":1}"),
            StreamEnd(finish_reason="tool_calls"),
            UsageReport(usage=Usage(input_tokens=3, output_tokens=2)),
        ]
    )
    kinds = [e["type"] for e in events]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.content_part.added",
        "response.refusal.delta",
        "response.refusal.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    final = events[-1]["response"]
    assert final == enc.final
    assert [i["type"] for i in final["output"]] == ["reasoning", "message", "function_call"]
    assert final["output"][0]["encrypted_content"] == "sig"
    assert final["output"][1]["content"][0]["text"] == "Hello"
    assert final["output"][2]["arguments"] == '{"a":1}'
    assert final["usage"]["total_tokens"] == 5


def test_cut_stream_is_incomplete() -> None:
    events, _ = run([START, TextDelta(text="a"), StreamEnd(finish_reason="length")])
    assert events[-1]["type"] == "response.incomplete"


def test_failure_after_start() -> None:
    events, enc = run([START, TextDelta(text="a")], fail=True)
    assert [e["type"] for e in events[-2:]] == ["error", "response.failed"]
    assert events[-1]["response"]["error"]["message"] == "boom"
    assert enc.final is None


def test_empty_stream_still_completes() -> None:
    events, _ = run([])
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.completed",
    ]


def test_redacted_thinking_and_an_empty_reasoning_item() -> None:
    events, enc = run(
        [
            ThinkingDelta(text="ZZ", redacted=True),
            TextDelta(text="a"),
            ThinkingDelta(signature="only"),
        ]
    )
    assert enc.final is not None
    redacted, _, signed = enc.final["output"]
    assert redacted == {
        "id": "rs_1_0",
        "type": "reasoning",
        "summary": [],
        "encrypted_content": "redacted:ZZ",
    }
    assert signed["encrypted_content"] == "only" and signed["summary"] == []
    assert "response.reasoning_summary_part.added" not in [e["type"] for e in events]
