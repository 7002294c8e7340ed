"""Anthropic Message <-> ChatResponse (``keyroute.wire.anthropic.response``)."""

from __future__ import annotations

import json
from typing import Any, get_args

import anthropic
import pytest

from keyroute.core.chat import ThinkingPart, ToolCall
from keyroute.core.errors import UpstreamError
from keyroute.core.response import ChatResponse, FinishReason, Usage
from keyroute.wire.anthropic import decode_response, encode_response
from keyroute.wire.anthropic.response import FINISH_REASONS, STOP_REASONS
from tests.fakes.fake_anthropic import transcript_bytes

WEATHER = ToolCall(id="toolu_01A", name="get_weather", arguments='{"city":"Paris"}')


def check(case: str, **expected: Any) -> None:
    """Decoding ``<case>.response.json`` gives a response with the ``expected`` attributes."""
    got = decode_response(transcript_bytes(case, "response.json"))
    for name, value in expected.items():
        assert getattr(got, name) == value, name


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (
            "simple",
            {
                "id": "msg_01SimpleA1",
                "model": "claude-sonnet-5-5",
                "created": 0,
                "text": "Hello! How can I help you today?",
                "finish_reason": "stop",
                "usage": Usage(input_tokens=11, output_tokens=12),
                "service_tier": "standard",
            },
        ),
        ("system_prompt", {"text": "Rome.", "finish_reason": "stop"}),
        ("multi_turn", {"text": "Your name is Ada."}),
        (
            "tools",
            {
                "text": "Let me check the weather.",
                "tool_calls": (WEATHER,),
                "finish_reason": "tool_calls",
            },
        ),
        ("tool_result", {"finish_reason": "stop", "tool_calls": ()}),
        (
            "parallel_tool_calls",
            {
                "text": None,
                "finish_reason": "tool_calls",
                "tool_calls": (
                    ToolCall(id="toolu_01P", name="get_weather", arguments='{"city":"Paris"}'),
                    ToolCall(id="toolu_01R", name="get_weather", arguments='{"city":"Rome"}'),
                ),
            },
        ),
        ("json_schema", {"text": '{"name":"Ada","age":36}'}),
        ("stop_sequence", {"finish_reason": "stop_sequence", "stop_sequence": "END"}),
        ("max_tokens", {"finish_reason": "length", "stop_sequence": None}),
    ],
)
def test_decode_transcripts(case: str, expected: dict[str, Any]) -> None:
    check(case, **expected)


def message(**fields: Any) -> bytes:
    base = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    return json.dumps({**base, **fields}).encode()


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({"input_tokens": 10, "output_tokens": 5}, Usage(input_tokens=10, output_tokens=5)),
        (
            {
                "input_tokens": 230,
                "cache_creation_input_tokens": 1200,
                "cache_read_input_tokens": 1920,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 200,
                    "ephemeral_1h_input_tokens": 1000,
                },
                "output_tokens": 58,
                "output_tokens_details": {"thinking_tokens": 20},
            },
            Usage(
                input_tokens=3350,
                output_tokens=58,
                cache_read_tokens=1920,
                cache_write_tokens=1200,
                cache_write_1h_tokens=1000,
                reasoning_tokens=20,
            ),
        ),
        (
            {"input_tokens": 5, "cache_creation_input_tokens": 7, "output_tokens": 1},
            Usage(input_tokens=12, output_tokens=1, cache_write_tokens=7),
        ),
    ],
)
def test_usage_counts_every_prompt_token_once(usage: dict[str, Any], expected: Usage) -> None:
    got = decode_response(message(usage=usage)).usage
    assert got == expected
    assert got is not None
    assert got.uncached_input_tokens == usage["input_tokens"]


def test_thinking_blocks_are_kept_and_unknown_blocks_skipped() -> None:
    got = decode_response(
        message(
            stop_reason="tool_use",
            content=[
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "redacted_thinking", "data": "xyz"},
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
                {"type": "text", "text": "a"},
                {"type": "text", "text": "b"},
                {"type": "tool_use", "id": "t", "name": "f", "input": {}},
            ],
        )
    )
    assert got.thinking == (
        ThinkingPart(text="hmm", signature="sig"),
        ThinkingPart(text="xyz", redacted=True),
    )
    assert got.text == "ab"
    assert got.tool_calls == (ToolCall(id="t", name="f", arguments="{}"),)


@pytest.mark.parametrize(
    "body",
    [b"not json", b"{}", message(content=[{"type": "text"}]), message(usage={"input_tokens": "x"})],
)
def test_malformed_bodies_are_upstream_errors(body: bytes) -> None:
    with pytest.raises(UpstreamError) as info:
        decode_response(body)
    assert info.value.provider == "anthropic"


@pytest.mark.parametrize("raw", [*FINISH_REASONS, None, "a_reason_from_2027"])
def test_finish_reasons_never_leak_raw(raw: str | None) -> None:
    got = decode_response(message(stop_reason=raw))
    assert got.finish_reason in get_args(FinishReason)
    assert got.finish_reason != raw or raw in ("stop_sequence", "refusal")


def response(**fields: Any) -> ChatResponse:
    base: dict[str, Any] = {
        "id": "msg_x",
        "model": "gpt-x",
        "created": 1,
        "text": "hi",
        "finish_reason": "stop",
    }
    return ChatResponse(**{**base, **fields})


def encode(resp: ChatResponse) -> dict[str, Any]:
    raw = encode_response(resp, "claude-client")
    anthropic.types.Message.model_validate_json(raw)  # the official SDK accepts it
    out: dict[str, Any] = json.loads(raw)
    return out


@pytest.mark.parametrize(("finish", "stop_reason"), list(STOP_REASONS.items()))
def test_encode_finish_reason(finish: FinishReason, stop_reason: str) -> None:
    assert encode(response(finish_reason=finish))["stop_reason"] == stop_reason


def test_every_canonical_finish_reason_has_a_stop_reason() -> None:
    assert set(STOP_REASONS) == set(get_args(FinishReason))


def test_encode_response_shape() -> None:
    got = encode(
        response(
            text="Checking.",
            tool_calls=(WEATHER,),
            thinking=(
                ThinkingPart(text="t", signature="s"),
                ThinkingPart(text="r", redacted=True),
                ThinkingPart(text="u"),
            ),
            finish_reason="tool_calls",
            usage=Usage(
                input_tokens=3350,
                output_tokens=58,
                cache_read_tokens=1920,
                cache_write_tokens=1200,
                cache_write_1h_tokens=1000,
                reasoning_tokens=9,
            ),
            service_tier="standard",
        )
    )
    assert got == {
        "id": "msg_x",
        "type": "message",
        "role": "assistant",
        "model": "claude-client",
        "content": [
            {"type": "thinking", "thinking": "t", "signature": "s"},
            {"type": "redacted_thinking", "data": "r"},
            {"type": "thinking", "thinking": "u", "signature": ""},
            {"type": "text", "text": "Checking."},
            {
                "type": "tool_use",
                "id": "toolu_01A",
                "name": "get_weather",
                "input": {"city": "Paris"},
            },
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 230,
            "cache_creation_input_tokens": 1200,
            "cache_read_input_tokens": 1920,
            "cache_creation": {"ephemeral_5m_input_tokens": 200, "ephemeral_1h_input_tokens": 1000},
            "output_tokens": 58,
            "output_tokens_details": {"thinking_tokens": 9},
            "service_tier": "standard",
        },
    }


@pytest.mark.parametrize(
    ("fields", "key", "expected"),
    [
        ({"finish_reason": "stop_sequence", "stop_sequence": "END"}, "stop_sequence", "END"),
        ({"finish_reason": "stop", "stop_sequence": "END"}, "stop_sequence", None),
        (
            {"text": None, "refusal": "I can't help with that.", "finish_reason": "content_filter"},
            "content",
            [{"type": "text", "text": "I can't help with that."}],
        ),
        ({"text": ""}, "content", []),
        (
            {"service_tier": "flex"},
            "usage",
            {
                "input_tokens": 0,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                "output_tokens": 0,
            },
        ),
    ],
)
def test_encode_fields(fields: dict[str, Any], key: str, expected: Any) -> None:
    assert encode(response(**fields))[key] == expected


def test_encode_rejects_tool_arguments_that_are_not_an_object() -> None:
    with pytest.raises(UpstreamError):
        encode_response(response(tool_calls=(ToolCall(id="t", name="f", arguments="[1"),)), "m")


@pytest.mark.parametrize(
    "case", ["simple", "tools", "parallel_tool_calls", "stop_sequence", "max_tokens"]
)
def test_transcripts_round_trip_through_encode(case: str) -> None:
    original = json.loads(transcript_bytes(case, "response.json"))
    again = json.loads(
        encode_response(decode_response(transcript_bytes(case, "response.json")), original["model"])
    )
    for key in ("id", "content", "stop_reason", "stop_sequence"):
        assert again[key] == original[key]
    assert {
        k: again["usage"][k] for k in ("input_tokens", "output_tokens", "cache_read_input_tokens")
    } == {
        k: original["usage"][k]
        for k in ("input_tokens", "output_tokens", "cache_read_input_tokens")
    }
