"""``keyroute.wire.openai.stream``: upstream chunks -> canonical events, and events -> chunks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai.types.chat import ChatCompletionChunk

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
from keyroute.wire.openai.stream import OpenAIStreamDecoder, OpenAIStreamEncoder
from keyroute.wire.sse import SSEEvent, SSEParser

START = StreamStart(id="chatcmpl-1", model="gpt-4o", created=1700000000)


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **fields: Any) -> str:
    choices = (
        []
        if delta is None and finish is None
        else [{"index": 0, "delta": delta or {}, "finish_reason": finish}]
    )
    return json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": "gpt-4o",
            "choices": choices,
            **fields,
        }
    )


def tool(
    index: int, id: str | None = None, name: str | None = None, args: str | None = None
) -> dict[str, Any]:
    fragment: dict[str, Any] = {"index": index}
    if id is not None:
        fragment.update(id=id, type="function")
    function = {k: v for k, v in (("name", name), ("arguments", args)) if v is not None}
    if function:
        fragment["function"] = function
    return {"tool_calls": [fragment]}


ROLE = chunk({"role": "assistant", "content": ""})


def decode(*data: str) -> list[StreamEvent]:
    """Decode a stream; ``[DONE]`` is appended when the case leaves it out."""
    decoder = OpenAIStreamDecoder("openai")
    events: list[StreamEvent] = []
    if not data or data[-1] != "[DONE]":
        data = (*data, "[DONE]")
    for d in data:
        events.extend(decoder.feed(SSEEvent(data=d)))
    events.extend(decoder.close())
    return events


def check(data: list[str], expected: list[StreamEvent]) -> None:
    assert decode(*data) == [START, *expected]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ([ROLE, chunk({}, "stop")], [StreamEnd(finish_reason="stop")]),
        (
            [
                ROLE,
                chunk({"content": "Hel"}),
                chunk({"content": "lo"}),
                chunk({}, "stop"),
                "[DONE]",
            ],
            [TextDelta(text="Hel"), TextDelta(text="lo"), StreamEnd(finish_reason="stop")],
        ),
        (
            [chunk({"content": "x"}, "length")],
            [TextDelta(text="x"), StreamEnd(finish_reason="length")],
        ),
        ([ROLE, chunk({}, "content_filter")], [StreamEnd(finish_reason="content_filter")]),
        ([ROLE, chunk({}, "whatever_new")], [StreamEnd(finish_reason="stop")]),
        (
            [ROLE, chunk({"reasoning_content": "hmm"}), chunk({"content": "a"}), chunk({}, "stop")],
            [ThinkingDelta(text="hmm"), TextDelta(text="a"), StreamEnd(finish_reason="stop")],
        ),
        (
            [ROLE, chunk({"refusal": "no"}), chunk({}, "stop")],
            [RefusalDelta(text="no"), StreamEnd(finish_reason="stop")],
        ),
        (
            [ROLE, chunk({"content": None, "refusal": None}), chunk({}, "stop")],
            [StreamEnd(finish_reason="stop")],
        ),
        # one call, arguments in fragments
        (
            [
                ROLE,
                chunk(tool(0, "call_a", "f", "")),
                chunk(tool(0, args='{"x"')),
                chunk(tool(0, args=":1}")),
                chunk({}, "tool_calls"),
            ],
            [
                ToolCallStart(index=0, id="call_a", name="f"),
                ToolCallArgs(index=0, arguments='{"x"'),
                ToolCallArgs(index=0, arguments=":1}"),
                StreamEnd(finish_reason="tool_calls"),
            ],
        ),
        # name and all arguments at once; "stop" with tool calls means tool_calls
        (
            [ROLE, chunk(tool(0, "call_a", "f", "{}")), chunk({}, "stop")],
            [
                ToolCallStart(index=0, id="call_a", name="f"),
                ToolCallArgs(index=0, arguments="{}"),
                StreamEnd(finish_reason="tool_calls"),
            ],
        ),
        (
            [ROLE, chunk(tool(0, "call_a", "f", "{}")), chunk({}, "length")],
            [
                ToolCallStart(index=0, id="call_a", name="f"),
                ToolCallArgs(index=0, arguments="{}"),
                StreamEnd(finish_reason="length"),
            ],
        ),
        # parallel calls, interleaved fragments
        (
            [
                ROLE,
                chunk(tool(0, "call_a", "f")),
                chunk(tool(1, "call_b", "g")),
                chunk(tool(1, args="{1}")),
                chunk(tool(0, args="{0}")),
                chunk({}, "tool_calls"),
            ],
            [
                ToolCallStart(index=0, id="call_a", name="f"),
                ToolCallStart(index=1, id="call_b", name="g"),
                ToolCallArgs(index=1, arguments="{1}"),
                ToolCallArgs(index=0, arguments="{0}"),
                StreamEnd(finish_reason="tool_calls"),
            ],
        ),
        # upstream indexes that do not start at 0 are renumbered
        (
            [
                ROLE,
                chunk(tool(3, "call_a", "f", "{}")),
                chunk(tool(7, "call_b", "g", "{}")),
                chunk({}, "tool_calls"),
            ],
            [
                ToolCallStart(index=0, id="call_a", name="f"),
                ToolCallArgs(index=0, arguments="{}"),
                ToolCallStart(index=1, id="call_b", name="g"),
                ToolCallArgs(index=1, arguments="{}"),
                StreamEnd(finish_reason="tool_calls"),
            ],
        ),
        # a host that numbers every call 0, with distinct ids
        (
            [
                ROLE,
                chunk(tool(0, "call_a", "f", "{")),
                chunk(tool(0, args="}")),
                chunk(tool(0, "call_b", "g", "{")),
                chunk(tool(0, args="}")),
                chunk(tool(0, "call_c", "h", "{}")),
                chunk({}, "tool_calls"),
            ],
            [
                ToolCallStart(index=0, id="call_a", name="f"),
                ToolCallArgs(index=0, arguments="{"),
                ToolCallArgs(index=0, arguments="}"),
                ToolCallStart(index=1, id="call_b", name="g"),
                ToolCallArgs(index=1, arguments="{"),
                ToolCallArgs(index=1, arguments="}"),
                ToolCallStart(index=2, id="call_c", name="h"),
                ToolCallArgs(index=2, arguments="{}"),
                StreamEnd(finish_reason="tool_calls"),
            ],
        ),
        # a host that repeats the id on every fragment
        (
            [
                ROLE,
                chunk(tool(0, "call_a", "f", "{")),
                chunk(tool(0, "call_a", args="}")),
                chunk({}, "tool_calls"),
            ],
            [
                ToolCallStart(index=0, id="call_a", name="f"),
                ToolCallArgs(index=0, arguments="{"),
                ToolCallArgs(index=0, arguments="}"),
                StreamEnd(finish_reason="tool_calls"),
            ],
        ),
        # a call without an id gets one
        (
            [ROLE, chunk(tool(0, name="f", args="{}")), chunk({}, "tool_calls")],
            [
                ToolCallStart(index=0, id="call_0", name="f"),
                ToolCallArgs(index=0, arguments="{}"),
                StreamEnd(finish_reason="tool_calls"),
            ],
        ),
        # the usage-only chunk (choices: []) after the finish
        (
            [
                ROLE,
                chunk({"content": "a"}),
                chunk({}, "stop"),
                chunk(usage={"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}),
                "[DONE]",
            ],
            [
                TextDelta(text="a"),
                StreamEnd(finish_reason="stop"),
                UsageReport(usage=Usage(input_tokens=5, output_tokens=1)),
            ],
        ),
        # usage on the finish chunk, and usage: null on the others
        (
            [
                chunk({"content": "a"}, usage=None),
                chunk(
                    {},
                    "stop",
                    usage={
                        "prompt_tokens": 5,
                        "completion_tokens": 1,
                        "prompt_tokens_details": {"cached_tokens": 2},
                        "completion_tokens_details": {"reasoning_tokens": 1},
                    },
                ),
            ],
            [
                TextDelta(text="a"),
                StreamEnd(finish_reason="stop"),
                UsageReport(
                    usage=Usage(
                        input_tokens=5, output_tokens=1, cache_read_tokens=2, reasoning_tokens=1
                    )
                ),
            ],
        ),
        # a second finish reason is ignored
        ([ROLE, chunk({}, "stop"), chunk({}, "length")], [StreamEnd(finish_reason="stop")]),
        # only the first choice is read
        (
            [
                json.dumps(
                    {
                        "id": "chatcmpl-1",
                        "model": "gpt-4o",
                        "created": 1700000000,
                        "choices": [
                            {"index": 0, "delta": {"content": "a"}, "finish_reason": "stop"},
                            {"index": 1, "delta": {"content": "b"}, "finish_reason": "stop"},
                        ],
                    }
                )
            ],
            [TextDelta(text="a"), StreamEnd(finish_reason="stop")],
        ),
    ],
)
def test_decode(data: list[str], expected: list[StreamEvent]) -> None:
    check(data, expected)


def test_start_comes_from_the_first_chunk_even_a_sparse_one() -> None:
    assert decode('{"choices":[{"delta":{},"finish_reason":"stop"}]}') == [
        StreamStart(id="", model="", created=0),
        StreamEnd(finish_reason="stop"),
    ]


def test_a_first_chunk_without_choices_is_not_openai() -> None:
    check_raises(['{"type": "message_start", "message": {"id": "msg_1"}}'], "no choices")


def test_a_later_chunk_without_choices_is_tolerated() -> None:
    decoder = OpenAIStreamDecoder("openai")
    decoder.feed(SSEEvent(data=ROLE))
    usage = '{"usage": {"prompt_tokens": 1, "completion_tokens": 2}}'
    assert decoder.feed(SSEEvent(data=usage)) == [
        UsageReport(usage=Usage(input_tokens=1, output_tokens=2))
    ]


def check_raises(data: list[str], message: str) -> UpstreamError:
    with pytest.raises(UpstreamError, match=message) as info:
        decode(*data)
    assert info.value.provider == "openai"
    return info.value


def test_missing_done_is_truncation_unless_the_host_omits_it() -> None:
    data = [ROLE, chunk({"content": "a"}), chunk({}, "stop")]
    strict = OpenAIStreamDecoder("openai")
    lenient = OpenAIStreamDecoder("mistral", require_done=False)
    for d in data:
        strict.feed(SSEEvent(data=d))
        lenient.feed(SSEEvent(data=d))
    with pytest.raises(UpstreamError):
        strict.close()
    assert lenient.close() == []


@pytest.mark.parametrize(
    "data",
    [
        [],
        [ROLE],
        [ROLE, chunk({"content": "a"})],
        [ROLE, chunk({"content": "a"}), "[DONE]"],
        [ROLE, chunk(tool(0, "call_a", "f", "{"))],
    ],
)
def test_close_without_a_finish_reason_is_truncation(data: list[str]) -> None:
    err = check_raises(data, "before it was complete")
    assert err.is_retryable


@pytest.mark.parametrize(
    ("data", "etype", "code"),
    [
        (
            [
                ROLE,
                json.dumps(
                    {
                        "error": {
                            "message": "overloaded",
                            "type": "server_error",
                            "code": "overloaded",
                        }
                    }
                ),
            ],
            "server_error",
            "overloaded",
        ),
        ([json.dumps({"error": {"message": "boom", "code": 500}})], None, "500"),
        ([ROLE, json.dumps({"error": {}})], None, None),
    ],
)
def test_in_stream_error_raises(data: list[str], etype: str | None, code: str | None) -> None:
    err = check_raises(data, "mid-stream")
    assert (err.upstream_type, err.upstream_code) == (etype, code)


@pytest.mark.parametrize(
    "data", ["not json", "[1]", '{"choices": 5}', '{"choices": [{"delta": 1}]}']
)
def test_malformed_chunk_raises(data: str) -> None:
    check_raises([ROLE, data], "malformed stream chunk")


# The encoder, checked against what the official SDK accepts.


def encoder(include_usage: bool, created: int = 1) -> OpenAIStreamEncoder:
    return OpenAIStreamEncoder(
        model="openai/gpt-4o",
        response_id="chatcmpl-kr",
        include_usage=include_usage,
        created=created,
    )


def encode(events: list[StreamEvent], include_usage: bool = False) -> list[str]:
    enc = encoder(include_usage)
    raw = b"".join(enc.feed(e) for e in events) + enc.close()
    parser = SSEParser()
    data = [e.data for e in parser.feed(raw)]
    assert parser.close() == []
    for d in data[:-1]:
        ChatCompletionChunk.model_validate_json(d)
    return data


def chunks(events: list[StreamEvent], include_usage: bool = False) -> list[dict[str, Any]]:
    data = encode(events, include_usage)
    assert data[-1] == "[DONE]"
    return [json.loads(d) for d in data[:-1]]


TEXT_STREAM: list[StreamEvent] = [
    START,
    TextDelta(text="Hel"),
    TextDelta(text="lo"),
    StreamEnd(finish_reason="stop"),
    UsageReport(usage=Usage(input_tokens=5, output_tokens=2, cache_read_tokens=1)),
]
TOOL_STREAM: list[StreamEvent] = [
    START,
    ThinkingDelta(text="plan"),
    ToolCallStart(index=0, id="call_a", name="f"),
    ToolCallArgs(index=0, arguments='{"x":'),
    ToolCallArgs(index=0, arguments="1}"),
    ToolCallStart(index=1, id="call_b", name="g"),
    ToolCallArgs(index=1, arguments="{}"),
    UsageReport(usage=Usage(input_tokens=9, output_tokens=4)),
    StreamEnd(finish_reason="tool_calls"),
]


@pytest.mark.parametrize("events", [TEXT_STREAM, TOOL_STREAM])
@pytest.mark.parametrize("include_usage", [False, True])
def test_encoded_framing(events: list[StreamEvent], include_usage: bool) -> None:
    out = chunks(events, include_usage)
    assert out[0]["choices"] == [
        {
            "index": 0,
            "delta": {"role": "assistant", "content": ""},
            "logprobs": None,
            "finish_reason": None,
        }
    ]
    assert all(c["id"] == "chatcmpl-kr" and c["object"] == "chat.completion.chunk" for c in out)
    assert all(c["model"] == "openai/gpt-4o" and c["created"] == 1700000000 for c in out)
    if include_usage:
        *body, last = out
        assert last["choices"] == []
        assert last["usage"]["total_tokens"] > 0
        assert all("usage" in c and c["usage"] is None for c in body)
    else:
        body = out
        assert all("usage" not in c for c in out)
    assert all(len(c["choices"]) == 1 for c in body)
    finishes = [c["choices"][0]["finish_reason"] for c in body]
    assert finishes[:-1] == [None] * (len(finishes) - 1)
    assert finishes[-1] in ("stop", "tool_calls")


def test_usage_chunk_is_last_before_done() -> None:
    out = chunks(TEXT_STREAM, include_usage=True)
    assert out[-1] == {
        "id": "chatcmpl-kr",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "openai/gpt-4o",
        "choices": [],
        "usage": {
            "prompt_tokens": 5,
            "completion_tokens": 2,
            "total_tokens": 7,
            "prompt_tokens_details": {"cached_tokens": 1},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }


def test_no_usage_chunk_without_a_usage_report() -> None:
    data = encode([START, TextDelta(text="a"), StreamEnd(finish_reason="stop")], True)
    assert [json.loads(d)["choices"][0]["finish_reason"] for d in data[:-1]] == [None, None, "stop"]


def test_done_is_last() -> None:
    enc = encoder(include_usage=True)
    enc.feed(START)
    enc.feed(UsageReport(usage=Usage(input_tokens=1)))
    assert enc.close().endswith(b"data: [DONE]\n\n")


@pytest.mark.parametrize(
    ("event", "delta", "finish"),
    [
        (TextDelta(text="a"), {"content": "a"}, None),
        (RefusalDelta(text="no"), {"refusal": "no"}, None),
        (
            ToolCallStart(index=2, id="c", name="f"),
            {
                "tool_calls": [
                    {
                        "index": 2,
                        "id": "c",
                        "type": "function",
                        "function": {"name": "f", "arguments": ""},
                    }
                ]
            },
            None,
        ),
        (
            ToolCallArgs(index=2, arguments="{}"),
            {"tool_calls": [{"index": 2, "function": {"arguments": "{}"}}]},
            None,
        ),
        (StreamEnd(finish_reason="stop_sequence", stop_sequence="END"), {}, "stop"),
        (StreamEnd(finish_reason="refusal"), {}, "content_filter"),
        (StreamEnd(finish_reason="context_window"), {}, "length"),
        (StreamEnd(finish_reason="pause"), {}, "stop"),
    ],
)
def test_encode_one_event(event: StreamEvent, delta: dict[str, Any], finish: str | None) -> None:
    raw = encoder(include_usage=False).feed(event)
    assert raw.startswith(b"data: ") and raw.endswith(b"\n\n")
    ChatCompletionChunk.model_validate_json(raw[6:-2])
    assert json.loads(raw[6:])["choices"] == [
        {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    ]


@pytest.mark.parametrize(
    "event",
    [
        ThinkingDelta(text="t"),
        ThinkingDelta(signature="s"),
        UsageReport(usage=Usage(input_tokens=1)),
    ],
)
def test_events_without_a_chunk(event: StreamEvent) -> None:
    assert encoder(include_usage=True).feed(event) == b""


def test_created_falls_back_to_the_constructor_value() -> None:
    enc = encoder(include_usage=False, created=42)
    raw = enc.feed(StreamStart(id="x", model="m", created=0))
    assert json.loads(raw[6:])["created"] == 42


@pytest.mark.parametrize("events", [TEXT_STREAM, TOOL_STREAM])
def test_encoder_output_decodes_back(events: list[StreamEvent]) -> None:
    enc = encoder(include_usage=True)
    raw = b"".join(enc.feed(e) for e in events) + enc.close()
    parser = SSEParser()
    decoder = OpenAIStreamDecoder("keyroute")
    decoded: list[StreamEvent] = []
    for sse in parser.feed(raw) + parser.close():
        decoded.extend(decoder.feed(sse))
    decoded.extend(decoder.close())
    expected = [
        StreamStart(id="chatcmpl-kr", model="openai/gpt-4o", created=1700000000),
        *(e for e in events if not isinstance(e, StreamStart | ThinkingDelta | UsageReport)),
        *(e for e in events if isinstance(e, UsageReport)),
    ]
    assert decoded == expected
