"""Golden wire files in ``tests/transcripts/gemini``: every case checked in one line.

- ``<case>.request.json``: the body ``encode_request`` must build from ``REQUESTS[case]``;
- ``<case>.response.json``: what ``decode_response`` must make of it;
- ``<case>.stream.sse``: the events ``GeminiStreamDecoder`` must yield (or the error it raises);
- ``<case>.error.json``: the ``UpstreamError`` class ``decode_error`` must pick (status from
  the body's ``error.code``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from keyroute.core.chat import (
    ChatRequest,
    Message,
    TextPart,
    ThinkingPart,
    ToolCall,
    ToolSpec,
)
from keyroute.core.embeddings import EmbeddingRequest
from keyroute.core.errors import (
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
)
from keyroute.core.response import Usage
from keyroute.core.stream import (
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    ToolCallArgs,
    ToolCallStart,
    UsageReport,
)
from keyroute.wire.gemini import (
    GeminiStreamDecoder,
    decode_embeddings_response,
    decode_error,
    decode_response,
    encode_embeddings_request,
    encode_request,
)
from keyroute.wire.sse import SSEParser
from tests.contract.cases import REQUESTS as CONTRACT_REQUESTS

GEMINI_REQUEST_CASES = (
    "simple",
    "system_prompt",
    "multi_turn",
    "tools",
    "tool_result",
    "json_schema",
    "stop_sequence",
    "max_tokens",
    "thought_signatures",
)
CASES = Path(__file__).resolve().parents[2] / "transcripts" / "gemini"
MODEL = "gemini-3-flash-preview"
SIG_A = "CiQBjz1rX8mKuT0xQ2Pp7bJc4aQ9hXnYw6oM1LrVZ3fKp0sTgEiQBjz1rXwq+Zc/8UJ5h0N2r1dA=="
SIG_B = "EpwCCpkCAdHtim9Kq3vX1oM8cP0nR4sT7uV2wY5zA6bC9dE1fG3hI8jK0lL2mN4oP6qR8sT0uV=="
WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather for a city",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string", "description": "City name"}},
        "required": ["city"],
    },
)


def msg(role: Any, text: str, **kw: Any) -> Message:
    return Message(role=role, content=(TextPart(text=text),), **kw)


def req(*messages: Message, **kw: Any) -> ChatRequest:
    return ChatRequest(model=f"gemini/{MODEL}", messages=messages, **kw)


ASK = msg("user", "What's the weather in Paris?")
PARIS = ToolCall(id="call_abc123", name="get_weather", arguments='{"city": "Paris"}')

# The canonical requests are the contract suite's, shared by every provider's goldens;
# Gemini's body does not carry the model, so their model id does not matter here.
REQUESTS: dict[str, ChatRequest] = {k: CONTRACT_REQUESTS[k] for k in GEMINI_REQUEST_CASES}


def load(name: str) -> bytes:
    return (CASES / name).read_bytes()


def usage(i: int, o: int, cache: int = 0, reasoning: int = 0) -> Usage:
    return Usage(
        input_tokens=i, output_tokens=o, cache_read_tokens=cache, reasoning_tokens=reasoning
    )


@pytest.mark.parametrize("case", sorted(REQUESTS))
def test_request(case):
    assert encode_request(REQUESTS[case]) == json.loads(load(f"{case}.request.json"))


def test_every_request_transcript_has_a_case():
    files = {p.name.removesuffix(".request.json") for p in CASES.glob("*.request.json")}
    assert files == set(REQUESTS) | {"embeddings"}


def test_embeddings_request():
    embedding = EmbeddingRequest(model="gemini/e", inputs=("hello world", "goodbye"), dimensions=4)
    assert encode_embeddings_request(embedding, "gemini-embedding-001") == json.loads(
        load("embeddings.request.json")
    )


def check_response(case: str, **expected: Any) -> None:
    response = decode_response(load(f"{case}.response.json"), model="asked")
    assert response.model == MODEL
    for field, value in expected.items():
        assert getattr(response, field) == value, field


def call_ids(case: str) -> list[str]:
    return [c.id for c in decode_response(load(f"{case}.response.json"), model="").tool_calls]


RESPONSES: dict[str, dict[str, Any]] = {
    "simple": {
        "text": "Hello! How can I help you today?",
        "finish_reason": "stop",
        "usage": usage(2, 9),
    },
    "system_prompt": {"text": "Rome.", "finish_reason": "stop", "usage": usage(21, 2)},
    "multi_turn": {"text": "Your name is Ada.", "id": "Yx0aZ-multi"},
    "tool_result": {"text": "It is 18 °C and clear in Paris.", "finish_reason": "stop"},
    "json_schema": {"text": '{"name": "Ada", "age": 36}'},
    "stop_sequence": {"text": "1\n2\n3\n4\n", "finish_reason": "stop", "stop_sequence": None},
    "max_tokens": {"finish_reason": "length", "usage": usage(9, 20, reasoning=12)},
    "blocked_prompt": {"text": None, "finish_reason": "content_filter", "usage": usage(14, 0)},
}


@pytest.mark.parametrize("case", sorted(RESPONSES))
def test_response(case):
    check_response(case, **RESPONSES[case])


def test_tools_response():
    (call_id,) = call_ids("tools")
    check_response(
        "tools",
        text=None,
        finish_reason="tool_calls",
        tool_calls=(ToolCall(id=call_id, name="get_weather", arguments='{"city":"Paris"}'),),
    )
    assert call_id.startswith("call_")


def test_parallel_tool_calls_response():
    first, second = call_ids("parallel_tool_calls")
    check_response(
        "parallel_tool_calls",
        finish_reason="tool_calls",
        tool_calls=(
            ToolCall(id=first, name="get_weather", arguments='{"city":"Paris"}', signature=SIG_A),
            ToolCall(id=second, name="get_weather", arguments='{"city":"London"}'),
        ),
        usage=usage(60, 71, reasoning=41),
    )
    assert first != second


def test_thought_signatures_response():
    check_response(
        "thought_signatures",
        text=None,
        finish_reason="tool_calls",
        thinking=(
            ThinkingPart(text="**Comparing temperatures**\nI need the weather in both cities."),
        ),
        tool_calls=(
            ToolCall(id="fc_7", name="get_weather", arguments='{"city":"Tokyo"}', signature=SIG_B),
            ToolCall(id="fc_8", name="get_weather", arguments='{"city":"Paris"}'),
        ),
    )


def test_embeddings_response():
    response = decode_embeddings_response(load("embeddings.response.json"), "gemini-embedding-001")
    assert response.vectors == (
        (0.0123, -0.0456, 0.0789, -0.1011),
        (-0.0213, 0.0546, -0.0879, 0.1112),
    )
    assert response.input_tokens == 0


def stream(case: str) -> tuple[list[StreamEvent], GeminiStreamDecoder]:
    parser, decoder = SSEParser(), GeminiStreamDecoder()
    events: list[StreamEvent] = []
    for sse in [*parser.feed(load(f"{case}.stream.sse")), *parser.close()]:
        events.extend(decoder.feed(sse))
    return events, decoder


def test_streaming_usage():
    events, decoder = stream("streaming_usage")
    assert decoder.close() == []
    assert events == [
        StreamStart(id="Yx0aZ-stream", model=MODEL, created=0),
        TextDelta(text="The quick"),
        UsageReport(usage=usage(2150, 0)),
        TextDelta(text=" brown fox"),
        UsageReport(usage=usage(2150, 4, cache=1900)),
        TextDelta(text=" jumps."),
        UsageReport(usage=usage(2150, 51, cache=1900, reasoning=45)),
        StreamEnd(finish_reason="stop"),
    ]


def test_streaming_parallel_tool_calls():
    events, decoder = stream("streaming_parallel_tool_calls")
    assert decoder.close() == []
    starts = [e for e in events if isinstance(e, ToolCallStart)]
    assert [(s.index, s.name, s.signature) for s in starts] == [
        (0, "get_weather", SIG_A),
        (1, "get_weather", None),
        (2, "get_time", None),
    ]
    assert [e for e in events if isinstance(e, ToolCallArgs)] == [
        ToolCallArgs(index=0, arguments='{"city":"Paris"}'),
        ToolCallArgs(index=1, arguments='{"city":"London"}'),
        ToolCallArgs(index=2, arguments='{"tz":"Europe/Berlin"}'),
    ]
    assert events[-1] == StreamEnd(finish_reason="tool_calls")
    assert [e for e in events if isinstance(e, UsageReport)][-1].usage == usage(
        80, 65, reasoning=25
    )


def test_truncated_stream():
    events, decoder = stream("truncated")
    assert [e.kind for e in events] == ["start", "text", "usage", "text", "usage"]
    with pytest.raises(UpstreamError, match="truncated"):
        decoder.close()


def test_stream_error():
    with pytest.raises(UpstreamError) as info:
        stream("stream_error")
    assert info.value.upstream_status == 503
    assert info.value.is_retryable


ERRORS: dict[str, tuple[type[UpstreamError], bool, float | None, str | None]] = {
    "error_400": (UpstreamRejected, False, None, None),
    "error_api_key_invalid": (UpstreamRejected, False, None, "API_KEY_INVALID"),
    "error_403": (UpstreamRejected, False, None, "SERVICE_DISABLED"),
    "error_404": (UpstreamRejected, False, None, None),
    "error_429": (UpstreamRateLimited, True, 19.0, None),
    "error_429_daily": (UpstreamRateLimited, False, 52075.0, None),
    "error_500": (UpstreamError, True, None, None),
    "error_503": (UpstreamError, True, None, None),
    "error_504": (UpstreamTimeout, True, None, None),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_error(case):
    cls, retryable, retry_after, code = ERRORS[case]
    raw = load(f"{case}.error.json")
    status = json.loads(raw)["error"]["code"]
    error = decode_error(status, {"content-type": "application/json; charset=UTF-8"}, raw)
    assert (type(error), error.is_retryable, error.retry_after, error.upstream_code) == (
        cls,
        retryable,
        retry_after,
        code,
    )
    assert error.status_code() == (502 if status == 500 else status)


def test_every_transcript_file_is_covered():
    covered = (
        {f"{c}.request.json" for c in REQUESTS}
        | {f"{c}.response.json" for c in RESPONSES}
        | {f"{c}.error.json" for c in ERRORS}
        | {
            f"{c}.response.json"
            for c in ("tools", "parallel_tool_calls", "thought_signatures", "embeddings")
        }
        | {
            f"{c}.stream.sse"
            for c in (
                "streaming_usage",
                "streaming_parallel_tool_calls",
                "truncated",
                "stream_error",
            )
        }
        | {"embeddings.request.json"}
    )
    assert {p.name for p in CASES.iterdir()} == covered
