"""``keyroute.wire.gemini.response``: GenerateContentResponse -> ChatResponse."""

from __future__ import annotations

import json
import random
import string
from typing import Any, get_args

import pytest

from keyroute.core.chat import ThinkingPart, ToolCall
from keyroute.core.errors import UpstreamError, UpstreamRateLimited
from keyroute.core.response import ChatResponse, FinishReason, Usage
from keyroute.wire.gemini import decode_response, map_finish_reason

# Every value of python-genai's ``FinishReason`` enum (types.py), plus BlockedReason values.
GEMINI_FINISH_REASONS = [
    "FINISH_REASON_UNSPECIFIED",
    "STOP",
    "MAX_TOKENS",
    "SAFETY",
    "RECITATION",
    "LANGUAGE",
    "OTHER",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "MALFORMED_FUNCTION_CALL",
    "IMAGE_SAFETY",
    "UNEXPECTED_TOOL_CALL",
    "TOO_MANY_TOOL_CALLS",
    "IMAGE_PROHIBITED_CONTENT",
    "NO_IMAGE",
    "IMAGE_RECITATION",
    "IMAGE_OTHER",
    "MODEL_ARMOR",
]
FAILED_CALLS = {"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS"}


def body(*parts: dict[str, Any], finish: str | None = "STOP", **extra: Any) -> bytes:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    value = {"candidates": [candidate], "modelVersion": "gemini-x", "responseId": "r1", **extra}
    return json.dumps(value).encode()


def fcall(name: str = "f", args: Any = None, **extra: Any) -> dict[str, Any]:
    call: dict[str, Any] = {"name": name}
    if args is not None:
        call["args"] = args
    return {"functionCall": call, **extra}


def decode(raw: bytes) -> ChatResponse:
    return decode_response(raw, model="asked-model")


def check(raw: bytes, **expected: Any) -> None:
    response = decode(raw)
    for field, value in expected.items():
        assert getattr(response, field) == value, field


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (body({"text": "Hi"}), {"text": "Hi", "finish_reason": "stop", "tool_calls": ()}),
        (body({"text": "a"}, {"text": "b"}), {"text": "ab"}),
        (body(), {"text": None, "finish_reason": "stop"}),
        (body({"text": ""}), {"text": ""}),
        (body({"text": "cut"}, finish="MAX_TOKENS"), {"finish_reason": "length"}),
        (body(finish="SAFETY"), {"text": None, "finish_reason": "content_filter"}),
        (body({"text": "x"}, finish=None), {"finish_reason": "stop"}),
        (body({"text": "Hi"}), {"id": "r1", "model": "gemini-x", "created": 0, "usage": None}),
        (
            json.dumps({"candidates": [{"content": {"parts": [{"text": "x"}]}}]}).encode(),
            {"model": "asked-model"},
        ),
        (
            json.dumps({"candidates": [{"finishReason": "RECITATION"}]}).encode(),
            {"text": None, "finish_reason": "content_filter"},
        ),
        (
            body({"text": "thinking...", "thought": True}, {"text": "answer"}),
            {"text": "answer", "thinking": (ThinkingPart(text="thinking..."),)},
        ),
        (
            body({"text": "sum", "thought": True, "thoughtSignature": "S1"}, {"text": "a"}),
            {"thinking": (ThinkingPart(text="sum", signature="S1"),), "text": "a"},
        ),
        (
            body({"text": "answer", "thoughtSignature": "S2"}),
            {"text": "answer", "thinking": (ThinkingPart(text="", signature="S2"),)},
        ),
        (
            body({"functionCall": {"id": "fc_9", "name": "g", "args": {}}}),
            {"tool_calls": (ToolCall(id="fc_9", name="g", arguments="{}"),)},
        ),
        (
            json.dumps({"promptFeedback": {"blockReason": "SAFETY"}, "responseId": "b"}).encode(),
            {"text": None, "finish_reason": "content_filter", "id": "b", "tool_calls": ()},
        ),
    ],
)
def test_decode(raw, expected):
    check(raw, **expected)


def test_function_call_keeps_args_json_and_signature():
    (tool_call,) = decode(
        body(fcall("f", {"x": 1.5, "y": [1, "two"], "z": {"n": None}}, thoughtSignature="S/+="))
    ).tool_calls
    assert tool_call.name == "f"
    assert tool_call.arguments == '{"x":1.5,"y":[1,"two"],"z":{"n":null}}'
    assert tool_call.signature == "S/+="


def test_missing_args_decode_as_empty_object():
    assert decode(body(fcall("f"))).tool_calls[0].arguments == "{}"


def test_stop_with_function_call_is_tool_calls():
    response = decode(body({"text": "Let me check."}, fcall("get_weather", {"city": "Paris"})))
    assert response.finish_reason == "tool_calls"
    assert response.text == "Let me check."
    assert decode(body(fcall("f"), finish="MAX_TOKENS")).finish_reason == "length"


@pytest.mark.parametrize("raw", [*GEMINI_FINISH_REASONS, "", "SOMETHING_NEW_IN_2027", "stop"])
@pytest.mark.parametrize("has_tool_calls", [False, True])
def test_finish_reasons_never_leak_raw(raw, has_tool_calls):
    allowed = set(get_args(FinishReason))
    if raw in FAILED_CALLS:
        with pytest.raises(UpstreamError) as info:
            map_finish_reason(raw, has_tool_calls=has_tool_calls)
        assert info.value.is_retryable
        assert info.value.upstream_code == raw
        return
    assert map_finish_reason(raw, has_tool_calls=has_tool_calls) in allowed
    response = decode(body(fcall("f") if has_tool_calls else {"text": "x"}, finish=raw or None))
    assert response.finish_reason in allowed


def test_random_finish_reasons_never_leak():
    rng = random.Random(5)
    allowed = set(get_args(FinishReason))
    for _ in range(200):
        raw = "".join(rng.choice(string.ascii_uppercase + "_") for _ in range(rng.randint(1, 20)))
        if raw not in FAILED_CALLS:
            assert map_finish_reason(raw, has_tool_calls=rng.random() < 0.5) in allowed


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("IMAGE_PROHIBITED_CONTENT", "content_filter"),
        ("IMAGE_RECITATION", "content_filter"),
        ("LANGUAGE", "stop"),
        ("OTHER", "stop"),
        ("FINISH_REASON_UNSPECIFIED", "stop"),
        ("NO_IMAGE", "stop"),
        ("IMAGE_OTHER", "stop"),
    ],
)
def test_finish_reason_table(raw, expected):
    assert map_finish_reason(raw, has_tool_calls=False) == expected


def test_synthesized_tool_call_ids_are_stable():
    raw = body(fcall("f", {"a": 1}), fcall("f", {"a": 1}), fcall("g", {}))
    first, second = decode(raw), decode(raw)
    ids = [c.id for c in first.tool_calls]
    assert ids == [c.id for c in second.tool_calls]
    assert len(set(ids)) == 3
    assert all(i.startswith("call_") and len(i) == len("call_") + 24 for i in ids)
    other = decode(raw.replace(b'"r1"', b'"r2"'))
    assert not set(ids) & {c.id for c in other.tool_calls}


def test_given_ids_are_kept_and_mixed_with_synthesized():
    calls = decode(body({"functionCall": {"id": "fc_1", "name": "f"}}, fcall("g"))).tool_calls
    assert calls[0].id == "fc_1"
    assert calls[1].id.startswith("call_")


def test_response_id_is_synthesized_stably_when_absent():
    raw = json.dumps({"candidates": [{"content": {"parts": [{"text": "x"}]}}]}).encode()
    assert decode(raw).id == decode(raw).id
    assert decode(raw).id.startswith("gemini-")


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        (
            {
                "promptTokenCount": 2150,
                "cachedContentTokenCount": 1900,
                "candidatesTokenCount": 18,
                "thoughtsTokenCount": 45,
                "totalTokenCount": 2213,
            },
            Usage(input_tokens=2150, cache_read_tokens=1900, output_tokens=63, reasoning_tokens=45),
        ),
        (
            {"promptTokenCount": 100, "toolUsePromptTokenCount": 30, "candidatesTokenCount": 5},
            Usage(input_tokens=130, output_tokens=5),
        ),
        ({}, Usage()),
    ],
)
def test_usage(metadata, expected):
    usage = decode(body({"text": "x"}, usageMetadata=metadata)).usage
    assert usage == expected
    assert usage is not None
    assert usage.total_tokens == sum(
        metadata.get(k, 0)
        for k in (
            "promptTokenCount",
            "toolUsePromptTokenCount",
            "candidatesTokenCount",
            "thoughtsTokenCount",
        )
    )
    assert 0 <= usage.cache_read_tokens <= usage.input_tokens
    assert 0 <= usage.reasoning_tokens <= usage.output_tokens


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b'{"candidates": "nope"}',
        b"{}",
        json.dumps({"candidates": [], "promptFeedback": {}}).encode(),
        body({"inlineData": {"mimeType": "image/png", "data": "AA=="}}),
        body({"executableCode": {"code": "1"}}),
    ],
)
def test_bad_bodies_raise_upstream_error(raw):
    with pytest.raises(UpstreamError):
        decode(raw)


def test_foreign_part_is_refused_by_name_and_not_retryable():
    with pytest.raises(UpstreamError, match="inlineData") as info:
        decode(body({"inlineData": {"mimeType": "image/png", "data": "AA=="}}))
    assert not info.value.is_retryable


def test_error_object_in_a_200_body_raises_typed_error():
    raw = json.dumps({"error": {"code": 429, "message": "slow", "status": "RESOURCE_EXHAUSTED"}})
    with pytest.raises(UpstreamRateLimited):
        decode(raw.encode())


def test_malformed_function_call_is_a_retryable_upstream_error():
    with pytest.raises(UpstreamError, match="MALFORMED_FUNCTION_CALL") as info:
        decode(body(finish="MALFORMED_FUNCTION_CALL"))
    assert info.value.is_retryable
