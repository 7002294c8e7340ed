"""``keyroute.providers.gemini.GeminiProvider``: endpoints, auth and the codec wiring."""

from __future__ import annotations

import json
from typing import Any

import pytest

from keyroute.core.chat import ChatRequest, Message, TextPart
from keyroute.core.embeddings import EmbeddingRequest
from keyroute.core.errors import UnsupportedFeature, UpstreamRateLimited
from keyroute.core.secret import Secret
from keyroute.core.stream import StreamStart
from keyroute.providers.base import (
    EmbeddingsProvider,
    Provider,
    Target,
    Timeouts,
    UpstreamRequest,
    UpstreamResponse,
)
from keyroute.providers.gemini import GeminiProvider
from keyroute.wire.gemini import GeminiStreamDecoder, encode_request
from keyroute.wire.sse import SSEEvent

BASE = "https://generativelanguage.googleapis.com"
KEY = Secret("AIza-secret-key")
HELLO = ChatRequest(
    model="gemini/g", messages=(Message(role="user", content=(TextPart(text="Hi"),)),)
)


def target(model: str = "gemini-3-flash-preview", **kw: Any) -> Target:
    return Target(provider="gemini", model=model, base_url=BASE, **kw)


def build(req: ChatRequest = HELLO, **kw: Any) -> UpstreamRequest:
    return GeminiProvider().build_request(req, target(**kw), KEY)


def check_url(req: ChatRequest, model: str, expected: str) -> None:
    assert GeminiProvider().build_request(req, target(model), KEY).url == expected


@pytest.mark.parametrize(
    ("req", "model", "expected"),
    [
        (
            HELLO,
            "gemini-3-flash-preview",
            f"{BASE}/v1beta/models/gemini-3-flash-preview:generateContent",
        ),
        (HELLO, "models/gemini-2.5-pro", f"{BASE}/v1beta/models/gemini-2.5-pro:generateContent"),
        (HELLO, "tuned/../x y", f"{BASE}/v1beta/models/tuned%2F..%2Fx%20y:generateContent"),
        (
            ChatRequest(model="g", messages=HELLO.messages, stream=True),
            "gemini-3-flash-preview",
            f"{BASE}/v1beta/models/gemini-3-flash-preview:streamGenerateContent?alt=sse",
        ),
    ],
)
def test_urls(req, model, expected):
    check_url(req, model, expected)


def test_request_shape():
    sent = build(timeouts=Timeouts(total=30.0))
    assert sent.method == "POST"
    assert sent.headers["x-goog-api-key"] == "AIza-secret-key"
    assert sent.headers["content-type"] == "application/json"
    assert json.loads(sent.body) == encode_request(HELLO)
    assert sent.stream is False
    assert sent.timeouts == Timeouts(total=30.0)


def test_streaming_request_is_flagged():
    assert build(ChatRequest(model="g", messages=HELLO.messages, stream=True)).stream is True


def test_key_never_in_url_nor_repr():
    sent = build()
    assert "AIza" not in sent.url
    assert "key=" not in sent.url
    assert "AIza" not in repr(sent)


def test_target_headers_are_added_but_cannot_replace_auth():
    sent = build(headers={"X-Goog-Api-Key": "other", "Content-Type": "text/plain", "x-extra": "1"})
    assert sent.headers == {
        "x-extra": "1",
        "x-goog-api-key": "AIza-secret-key",
        "content-type": "application/json",
    }


def test_unsupported_features_surface_from_build_request():
    with pytest.raises(UnsupportedFeature):
        build(ChatRequest(model="g", messages=HELLO.messages, reasoning_effort="xhigh"))


def test_parse_response():
    body = json.dumps(
        {
            "candidates": [{"content": {"parts": [{"text": "Yo"}]}, "finishReason": "STOP"}],
            "modelVersion": "gemini-x",
        }
    ).encode()
    response = GeminiProvider().parse_response(UpstreamResponse(status=200, headers={}, body=body))
    assert (response.text, response.model, response.finish_reason) == ("Yo", "gemini-x", "stop")


def test_parse_error():
    retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "20s"}
    error_json = {"code": 429, "message": "q", "status": "RESOURCE_EXHAUSTED", "details": [retry]}
    body = json.dumps({"error": error_json}).encode()
    error = GeminiProvider().parse_error(UpstreamResponse(status=429, headers={}, body=body))
    assert isinstance(error, UpstreamRateLimited)
    assert error.retry_after == 20.0
    assert error.provider == "gemini"


def test_stream_decoders_are_fresh():
    provider = GeminiProvider()
    first, second = provider.stream_decoder(), provider.stream_decoder()
    assert isinstance(first, GeminiStreamDecoder)
    assert first is not second
    events = first.feed(SSEEvent(data='{"candidates":[],"responseId":"r"}'))
    assert isinstance(events[0], StreamStart)


def test_embeddings_request():
    req = EmbeddingRequest(model="gemini/e", inputs=("a",), dimensions=8)
    sent = GeminiProvider().build_embeddings_request(req, target("gemini-embedding-001"), KEY)
    assert sent.url == f"{BASE}/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert sent.headers["x-goog-api-key"] == "AIza-secret-key"
    assert json.loads(sent.body) == {
        "requests": [
            {
                "model": "models/gemini-embedding-001",
                "content": {"parts": [{"text": "a"}]},
                "outputDimensionality": 8,
            }
        ]
    }
    assert sent.stream is False


def test_embeddings_response():
    resp = UpstreamResponse(status=200, headers={}, body=b'{"embeddings":[{"values":[0.5, 1]}]}')
    assert GeminiProvider().parse_embeddings_response(resp).vectors == ((0.5, 1.0),)


def test_identity_and_protocols():
    provider = GeminiProvider()
    assert provider.name == "gemini"
    assert provider.capabilities.embeddings is True
    assert provider.capabilities.streaming is True
    assert isinstance(provider, EmbeddingsProvider)
    typed: Provider = provider
    assert typed.name == "gemini"


def test_explicit_cache_prefixes_and_the_create_call():
    from keyroute.core.chat import ContextCacheRef
    from keyroute.providers.base import ContextCacheProvider

    provider = GeminiProvider()
    assert isinstance(provider, ContextCacheProvider)
    system = Message(role="system", content=(TextPart(text="rules"),))
    turn = ChatRequest(model="gemini/g", messages=(system, *HELLO.messages))
    [system_only] = provider.cache_prefixes(turn)  # the first turn is the last: not cached
    assert system_only.messages == 1 and system_only.contents == 0
    longer = ChatRequest(model="gemini/g", messages=(*turn.messages, *HELLO.messages))
    assert [p.messages for p in provider.cache_prefixes(longer)] == [2, 1]
    cached = ChatRequest(
        model="gemini/g",
        messages=longer.messages,
        context_cache=ContextCacheRef(name="cachedContents/x", messages=1),
    )
    assert provider.cache_prefixes(cached) == ()  # already sent through a cache
    call = provider.build_cache_request(
        longer, system_only, target(timeouts=Timeouts(total=9.0)), KEY, 3600
    )
    assert call.url == f"{BASE}/v1beta/cachedContents" and call.method == "POST"
    assert call.headers["x-goog-api-key"] == "AIza-secret-key" and call.timeouts.total == 9.0
    assert json.loads(call.body) == {
        "model": "models/gemini-3-flash-preview",
        "systemInstruction": {"parts": [{"text": "rules"}]},
        "ttl": "3600s",
    }
    body = b'{"name": "cachedContents/x", "expireTime": "2026-12-03T16:00:00Z"}'
    parsed = provider.parse_cache(UpstreamResponse(status=200, headers={}, body=body))
    assert parsed.name == "cachedContents/x" and parsed.tokens == 0
