"""Every Anthropic transcript is valid for the official SDK types: our goldens are real shapes."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pydantic
import pytest

from keyroute.wire.sse import SSEParser
from tests.fakes.fake_anthropic import (
    cases,
    transcript_bytes,
    transcript_json,
    validate_messages_body,
)

EVENT = pydantic.TypeAdapter[Any](anthropic.types.RawMessageStreamEvent)


def test_every_required_case_exists() -> None:
    required = {
        "request.json": {
            "simple",
            "system_prompt",
            "multi_turn",
            "tools",
            "tool_result",
            "parallel_tool_calls",
            "json_schema",
            "stop_sequence",
            "max_tokens",
        },
        "response.json": {
            "simple",
            "system_prompt",
            "multi_turn",
            "tools",
            "tool_result",
            "parallel_tool_calls",
            "json_schema",
            "stop_sequence",
            "max_tokens",
        },
        "stream.sse": {
            "streaming_usage",
            "streaming_tool_use",
            "thinking_tool_use",
            "truncated_stream",
            "stream_error",
        },
        "error.json": {
            "bad_request",
            "unauthorized",
            "payload_too_large",
            "rate_limited",
            "server_error",
            "overloaded",
        },
    }
    for kind, names in required.items():
        assert names <= set(cases(kind)), kind


@pytest.mark.parametrize("case", cases("request.json"))
def test_requests_validate(case: str) -> None:
    assert validate_messages_body(transcript_json(case, "request.json")) is None


@pytest.mark.parametrize("case", cases("response.json"))
def test_responses_validate(case: str) -> None:
    anthropic.types.Message.model_validate_json(transcript_bytes(case, "response.json"))


@pytest.mark.parametrize("case", cases("stream.sse"))
def test_streams_validate(case: str) -> None:
    raw = transcript_bytes(case, "stream.sse")
    assert raw.endswith(b"\n\n")
    events = SSEParser().feed(raw)
    assert events[0].event == "message_start"
    for event in events:
        payload = json.loads(event.data)
        assert event.event == payload["type"]
        if payload["type"] == "error":
            anthropic.types.ErrorResponse.model_validate(payload)
        elif payload["type"] != "ping":
            EVENT.validate_python(payload)
    complete = events[-1].event == "message_stop"
    assert complete == (case not in ("truncated_stream", "stream_error"))


@pytest.mark.parametrize("case", cases("error.json"))
def test_errors_validate(case: str) -> None:
    spec = transcript_json(case, "error.json")
    assert 400 <= spec["status"] < 600
    if "body" in spec:
        anthropic.types.ErrorResponse.model_validate(spec["body"])
    else:
        assert not spec["body_text"].lstrip().startswith("{")
