"""``keyroute.wire.openai.response``: upstream completions -> ``ChatResponse`` and back."""

from __future__ import annotations

import json
from typing import Any, get_args

import msgspec
import pytest
from openai.types.chat import ChatCompletion

from keyroute.core.chat import ToolCall
from keyroute.core.errors import UpstreamError
from keyroute.core.response import ChatResponse, FinishReason, Usage
from keyroute.wire.openai.response import (
    UsageS,
    decode_response,
    encode_response,
    finish_from_openai,
    finish_to_openai,
    usage_from_openai,
    usage_to_openai,
)

OPENAI_FINISH = {"stop", "length", "tool_calls", "content_filter", "function_call"}


def completion(
    message: dict[str, Any] | None = None, finish: str | None = "stop", **fields: Any
) -> bytes:
    msg = {"role": "assistant", "content": "hi", **(message or {})}
    return json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "gpt-4o",
            "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
            **fields,
        }
    ).encode()


def check(body: bytes, **expected: Any) -> None:
    resp = decode_response(body, "openai")
    assert {k: getattr(resp, k) for k in expected} == expected


CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            completion(),
            {
                "id": "chatcmpl-1",
                "model": "gpt-4o",
                "created": 1700000000,
                "text": "hi",
                "tool_calls": (),
                "refusal": None,
                "finish_reason": "stop",
                "usage": None,
            },
        ),
        (completion(finish="length"), {"finish_reason": "length"}),
        (completion(finish="content_filter"), {"finish_reason": "content_filter"}),
        (completion(finish="tool_calls"), {"finish_reason": "tool_calls"}),
        (completion(finish="function_call"), {"finish_reason": "tool_calls"}),
        (completion(finish=None), {"finish_reason": "stop"}),
        (completion(finish="eos"), {"finish_reason": "stop"}),  # never passed through raw
        (completion(finish="insufficient_system_resource"), {"finish_reason": "stop"}),
        (
            completion({"content": None, "tool_calls": [CALL]}, finish="tool_calls"),
            {
                "text": None,
                "tool_calls": (ToolCall(id="call_1", name="f", arguments="{}"),),
                "finish_reason": "tool_calls",
            },
        ),
        # Some hosts say "stop" when the model called tools.
        (
            completion({"content": None, "tool_calls": [CALL]}, finish="stop"),
            {"finish_reason": "tool_calls"},
        ),
        (
            completion({"content": None, "tool_calls": [CALL]}, finish="length"),
            {"finish_reason": "length"},
        ),
        (completion({"content": None, "refusal": "no"}), {"text": None, "refusal": "no"}),
        (
            completion(system_fingerprint="fp_1", service_tier="default"),
            {"system_fingerprint": "fp_1", "service_tier": "default"},
        ),
        (
            completion(usage={"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}),
            {"usage": Usage(input_tokens=10, output_tokens=5)},
        ),
        (completion(usage=None), {"usage": None}),
        (
            json.dumps({"choices": [{"message": {"content": "x"}}]}).encode(),
            {"id": "", "model": "", "created": 0, "text": "x", "finish_reason": "stop"},
        ),
        (completion({"content": "a", "annotations": [], "audio": None, "extra": 1}), {"text": "a"}),
    ],
)
def test_decode(body: bytes, expected: dict[str, Any]) -> None:
    check(body, **expected)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"choices": []}',
        b'{"id": "x"}',
        b'{"choices": [{"finish_reason": "stop"}]}',
        b'{"choices": [{"message": {"content": 5}}]}',
        b'{"choices": [{"message": {"tool_calls": [{"function": {}}]}}]}',
    ],
)
def test_decode_malformed(body: bytes) -> None:
    with pytest.raises(UpstreamError) as info:
        decode_response(body, "groq")
    assert info.value.provider == "groq"
    assert "groq" in info.value.message
    assert info.value.status_code() == 502


def usage(**fields: Any) -> Usage:
    return usage_from_openai(msgspec.convert(fields, UsageS))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({}, Usage()),
        ({"prompt_tokens": 10, "completion_tokens": 2}, Usage(input_tokens=10, output_tokens=2)),
        (
            {"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": 60}},
            Usage(input_tokens=100, cache_read_tokens=60),
        ),
        (
            {"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": None}},
            Usage(input_tokens=100),
        ),
        (
            {
                "prompt_tokens": 100,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            },
            Usage(input_tokens=100),
        ),
        (
            {
                "prompt_tokens": 100,
                "prompt_tokens_details": {"cached_tokens": 10, "cache_write_tokens": 30},
            },
            Usage(input_tokens=100, cache_read_tokens=10, cache_write_tokens=30),
        ),
        ({"prompt_tokens": 100, "prompt_tokens_details": None}, Usage(input_tokens=100)),
        (
            {"completion_tokens": 50, "completion_tokens_details": {"reasoning_tokens": 40}},
            Usage(output_tokens=50, reasoning_tokens=40),
        ),
        (
            {
                "completion_tokens": 50,
                "completion_tokens_details": {"reasoning_tokens": None, "audio_tokens": 0},
            },
            Usage(output_tokens=50),
        ),
        # DeepSeek reports cache hits under its own name.
        (
            {"prompt_tokens": 100, "prompt_cache_hit_tokens": 64, "prompt_cache_miss_tokens": 36},
            Usage(input_tokens=100, cache_read_tokens=64),
        ),
        (
            {
                "prompt_tokens": 100,
                "prompt_cache_hit_tokens": 64,
                "prompt_tokens_details": {"cached_tokens": 64},
            },
            Usage(input_tokens=100, cache_read_tokens=64),
        ),
    ],
)
def test_usage_from_openai(raw: dict[str, Any], expected: Usage) -> None:
    assert usage(**raw) == expected


@pytest.mark.parametrize(
    ("u", "expected"),
    [
        (
            Usage(),
            {
                "prompt_tokens": 0,
                "completion_tokens": 0,
                "total_tokens": 0,
                "prompt_tokens_details": {"cached_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0},
            },
        ),
        (
            Usage(
                input_tokens=100,
                output_tokens=20,
                cache_read_tokens=60,
                cache_write_tokens=10,
                reasoning_tokens=5,
            ),
            {
                "prompt_tokens": 100,
                "completion_tokens": 20,
                "total_tokens": 120,
                "prompt_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 10},
                "completion_tokens_details": {"reasoning_tokens": 5},
            },
        ),
    ],
)
def test_usage_to_openai(u: Usage, expected: dict[str, Any]) -> None:
    assert usage_to_openai(u) == expected


@pytest.mark.parametrize(
    "u",
    [
        Usage(input_tokens=7, output_tokens=3),
        Usage(input_tokens=100, output_tokens=20, cache_read_tokens=60, reasoning_tokens=5),
        Usage(input_tokens=100, cache_read_tokens=10, cache_write_tokens=30),
    ],
)
def test_usage_round_trip(u: Usage) -> None:
    assert usage(**usage_to_openai(u)) == u


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("tool_calls", "tool_calls"),
        ("function_call", "tool_calls"),
        ("content_filter", "content_filter"),
        (None, "stop"),
        ("", "stop"),
        ("something_new", "stop"),
    ],
)
def test_finish_from_openai(raw: str | None, expected: FinishReason) -> None:
    assert finish_from_openai(raw) == expected


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("stop", "stop"),
        ("stop_sequence", "stop"),
        ("length", "length"),
        ("tool_calls", "tool_calls"),
        ("content_filter", "content_filter"),
        ("refusal", "content_filter"),
        ("pause", "stop"),
        ("context_window", "length"),
    ],
)
def test_finish_to_openai(reason: FinishReason, expected: str) -> None:
    assert finish_to_openai(reason) == expected


def test_every_canonical_finish_reason_maps_to_an_openai_one() -> None:
    for reason in get_args(FinishReason):
        assert finish_to_openai(reason) in OPENAI_FINISH - {"function_call"}


def response(**fields: Any) -> ChatResponse:
    base: dict[str, Any] = {
        "id": "up-1",
        "model": "gpt-4o-2024",
        "created": 1700000000,
        "text": "hello",
        "finish_reason": "stop",
    }
    return ChatResponse(**{**base, **fields})


def encode(resp: ChatResponse) -> dict[str, Any]:
    raw = encode_response(resp, model="openai/gpt-4o", response_id="chatcmpl-kr")
    ChatCompletion.model_validate_json(raw)  # what the official SDK accepts
    result: dict[str, Any] = json.loads(raw)
    return result


def test_encode_response_shape() -> None:
    assert encode(response()) == {
        "id": "chatcmpl-kr",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "openai/gpt-4o",
        "choices": [
            {
                "index": 0,
                "logprobs": None,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "hello", "refusal": None},
            }
        ],
    }


@pytest.mark.parametrize(
    ("resp", "path", "expected"),
    [
        (
            response(finish_reason="stop_sequence", stop_sequence="END"),
            ("choices", 0, "finish_reason"),
            "stop",
        ),
        (
            response(finish_reason="refusal", text=None, refusal="no"),
            ("choices", 0, "finish_reason"),
            "content_filter",
        ),
        (
            response(finish_reason="refusal", text=None, refusal="no"),
            ("choices", 0, "message", "refusal"),
            "no",
        ),
        (response(finish_reason="context_window"), ("choices", 0, "finish_reason"), "length"),
        (
            response(
                text=None,
                finish_reason="tool_calls",
                tool_calls=(ToolCall(id="c1", name="f", arguments='{"x":1}', signature="s"),),
            ),
            ("choices", 0, "message", "tool_calls"),
            [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x":1}'}}],
        ),
        (response(usage=Usage(input_tokens=3, output_tokens=4)), ("usage", "total_tokens"), 7),
        (response(system_fingerprint="fp"), ("system_fingerprint",), "fp"),
        (response(service_tier="flex"), ("service_tier",), "flex"),
        (response(created=0), ("created",), 0),
    ],
)
def test_encode_response_fields(resp: ChatResponse, path: tuple[Any, ...], expected: Any) -> None:
    node: Any = encode(resp)
    for step in path:
        node = node[step]
    assert node == expected


def test_decode_encode_round_trip() -> None:
    body = completion(
        {"content": None, "tool_calls": [CALL]},
        finish="tool_calls",
        usage={
            "prompt_tokens": 9,
            "completion_tokens": 1,
            "prompt_tokens_details": {"cached_tokens": 4},
        },
        system_fingerprint="fp_x",
    )
    first = decode_response(body, "openai")
    again = decode_response(
        encode_response(first, model=first.model, response_id=first.id), "openai"
    )
    assert again == first
