"""``AnthropicProvider``: endpoint, auth, and delegation to the Anthropic wire codecs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from keyroute.core.chat import ChatRequest, Message, TextPart
from keyroute.core.errors import (
    UnsupportedFeature,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
)
from keyroute.core.secret import Secret
from keyroute.core.stream import StreamEnd
from keyroute.providers.anthropic import DEFAULT_BASE_URL, AnthropicProvider
from keyroute.providers.base import Provider, Target, Timeouts, UpstreamResponse
from keyroute.wire.anthropic import decode_request
from keyroute.wire.sse import SSEParser
from tests.fakes.fake_anthropic import cases, transcript_bytes, transcript_json

PROVIDER: Provider = AnthropicProvider()
KEY = Secret("sk-ant-secret")
TARGET = Target(
    provider="anthropic",
    model="claude-sonnet-5-5",
    base_url=DEFAULT_BASE_URL,
    timeouts=Timeouts(total=30.0),
)
REQ = ChatRequest(
    model="anthropic/claude", messages=(Message(role="user", content=(TextPart(text="hi"),)),)
)


def test_identity() -> None:
    assert AnthropicProvider.name == "anthropic"
    assert AnthropicProvider.capabilities.embeddings is False
    assert AnthropicProvider.default_max_tokens == 4096


def test_default_max_tokens_is_configurable() -> None:
    up = AnthropicProvider(default_max_tokens=512).build_request(REQ, TARGET, KEY)
    assert json.loads(up.body)["max_tokens"] == 512
    assert json.loads(PROVIDER.build_request(REQ, TARGET, KEY).body)["max_tokens"] == 4096


@pytest.mark.parametrize("case", cases("request.json"))
def test_build_request_matches_transcript(case: str) -> None:
    expected = transcript_json(case, "request.json")
    req = decode_request(transcript_bytes(case, "request.json"))
    target = Target(
        provider="anthropic", model=expected["model"], base_url="https://api.anthropic.com"
    )
    up = PROVIDER.build_request(req, target, KEY)
    assert json.loads(up.body) == expected
    assert up.stream is bool(expected.get("stream"))


def test_build_request_endpoint_and_headers() -> None:
    up = PROVIDER.build_request(REQ, TARGET, KEY)
    assert (up.method, up.url, up.timeouts.total, up.stream) == (
        "POST",
        "https://api.anthropic.com/v1/messages",
        30.0,
        False,
    )
    assert up.headers == {
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
        "x-api-key": "sk-ant-secret",
    }
    assert json.loads(up.body) == {
        "model": "claude-sonnet-5-5",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    }
    assert "sk-ant-secret" not in repr(up)


def test_streaming_request() -> None:
    up = PROVIDER.build_request(
        ChatRequest(model="m", messages=REQ.messages, stream=True), TARGET, KEY
    )
    assert json.loads(up.body)["stream"] is True
    assert up.stream is True
    assert up.headers["accept"] == "text/event-stream"


def test_target_headers_are_sent_but_never_replace_the_key() -> None:
    target = Target(
        provider="anthropic",
        model="m",
        base_url="http://proxy.test",
        headers={
            "Anthropic-Beta": "x-2026",
            "anthropic-version": "2026-01-01",
            "X-Api-Key": "other",
        },
    )
    up = PROVIDER.build_request(REQ, target, KEY)
    assert up.url == "http://proxy.test/v1/messages"
    assert up.headers["anthropic-beta"] == "x-2026"
    assert up.headers["anthropic-version"] == "2026-01-01"
    assert up.headers["x-api-key"] == "sk-ant-secret"


def test_unsupported_fields_fail_before_sending() -> None:
    with pytest.raises(UnsupportedFeature):
        PROVIDER.build_request(ChatRequest(model="m", messages=REQ.messages, seed=1), TARGET, KEY)


def ok(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> UpstreamResponse:
    return UpstreamResponse(status=status, headers=headers or {}, body=body)


def test_parse_response() -> None:
    got = PROVIDER.parse_response(ok(transcript_bytes("tools", "response.json")))
    assert (got.finish_reason, got.tool_calls[0].arguments) == ("tool_calls", '{"city":"Paris"}')


def test_stream_decoder_is_fresh_per_stream() -> None:
    first, second = PROVIDER.stream_decoder(), PROVIDER.stream_decoder()
    assert first is not second
    events = [
        e
        for sse in SSEParser().feed(transcript_bytes("streaming_usage", "stream.sse"))
        for e in first.feed(sse)
    ]
    assert events[-1] == StreamEnd(finish_reason="stop")
    assert first.close() == []
    with pytest.raises(UpstreamError):
        second.close()


@pytest.mark.parametrize(
    ("case", "cls"),
    [
        ("bad_request", UpstreamRejected),
        ("rate_limited", UpstreamRateLimited),
        ("overloaded", UpstreamError),
        ("payload_too_large", UpstreamRejected),
    ],
)
def test_parse_error(case: str, cls: type[UpstreamError]) -> None:
    spec: dict[str, Any] = transcript_json(case, "error.json")
    body = spec["body_text"].encode() if "body_text" in spec else json.dumps(spec["body"]).encode()
    err = PROVIDER.parse_error(ok(body, spec["status"], spec["headers"]))
    assert type(err) is cls
    assert err.provider == "anthropic"
    assert err.upstream_status == spec["status"]


def test_count_tokens_request() -> None:
    req = ChatRequest(
        model="m", messages=REQ.messages, temperature=0.3, max_tokens=9, stop=("x",), user="u"
    )
    up = AnthropicProvider().build_count_tokens_request(req, TARGET, KEY)
    assert up.url == "https://api.anthropic.com/v1/messages/count_tokens"
    assert up.headers["x-api-key"] == "sk-ant-secret"
    assert json.loads(up.body) == {
        "model": "claude-sonnet-5-5",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    }


@pytest.mark.parametrize(
    ("resp", "expected"),
    [(ok(b'{"input_tokens": 2095}'), 2095)],
)
def test_parse_count_tokens(resp: UpstreamResponse, expected: int) -> None:
    assert AnthropicProvider().parse_count_tokens(resp) == expected


@pytest.mark.parametrize(
    ("resp", "cls"),
    [
        (ok(b"{}"), UpstreamError),
        (
            ok(
                b'{"type":"error","error":{"type":"rate_limit_error","message":"slow"}}',
                429,
                {"retry-after": "2"},
            ),
            UpstreamRateLimited,
        ),
    ],
)
def test_parse_count_tokens_errors(resp: UpstreamResponse, cls: type[UpstreamError]) -> None:
    with pytest.raises(cls):
        AnthropicProvider().parse_count_tokens(resp)
