"""``keyroute.providers.openai.OpenAIProvider``: the sans-IO OpenAI adapter."""

from __future__ import annotations

import json

import pytest

from keyroute.core.chat import ChatRequest, Message, TextPart
from keyroute.core.embeddings import EmbeddingRequest, EmbeddingResponse
from keyroute.core.errors import (
    UnsupportedFeature,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
)
from keyroute.core.secret import Secret
from keyroute.core.stream import StreamEnd, StreamStart, TextDelta
from keyroute.core.timeouts import Timeouts
from keyroute.providers.base import (
    Capabilities,
    EmbeddingsProvider,
    Target,
    TokenCountingProvider,
    UpstreamResponse,
)
from keyroute.providers.openai import OpenAIProvider
from keyroute.wire.sse import SSEEvent

TIMEOUTS = Timeouts(total=30.0)
TARGET = Target(
    provider="openai", model="gpt-4o", base_url="https://api.openai.com/v1", timeouts=TIMEOUTS
)
KEY = Secret("sk-test")


def chat(**fields: object) -> ChatRequest:
    return ChatRequest(
        model="openai/gpt-4o",
        messages=(Message(role="user", content=(TextPart(text="hi"),)),),
        **fields,  # type: ignore[arg-type]
    )


def test_build_request() -> None:
    request = OpenAIProvider().build_request(chat(max_tokens=5), TARGET, KEY)
    assert (request.method, request.url, request.stream, request.timeouts) == (
        "POST",
        "https://api.openai.com/v1/chat/completions",
        False,
        TIMEOUTS,
    )
    assert dict(request.headers) == {
        "content-type": "application/json",
        "accept": "application/json",
        "authorization": "Bearer sk-test",
    }
    assert json.loads(request.body) == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "hi"}],
        "max_completion_tokens": 5,
    }
    assert "sk-test" not in repr(request)


def test_build_streaming_request() -> None:
    request = OpenAIProvider().build_request(chat(stream=True, include_usage=True), TARGET, KEY)
    assert request.stream is True
    assert request.headers["accept"] == "text/event-stream"
    assert json.loads(request.body)["stream_options"] == {"include_usage": True}


def test_keyless_host_gets_no_authorization() -> None:
    request = OpenAIProvider(name="ollama").build_request(chat(), TARGET, Secret(""))
    assert "authorization" not in request.headers


def test_target_headers_are_added() -> None:
    target = Target(
        provider="openai",
        model="m",
        base_url="https://h/v1",
        headers={"OpenAI-Organization": "org-1"},
    )
    request = OpenAIProvider().build_request(chat(), target, KEY)
    assert request.headers["OpenAI-Organization"] == "org-1"


def test_max_tokens_field_is_configurable() -> None:
    provider = OpenAIProvider(max_tokens_field="max_tokens")
    assert (
        json.loads(provider.build_request(chat(max_tokens=3), TARGET, KEY).body)["max_tokens"] == 3
    )


def test_streaming_refused_when_not_capable() -> None:
    provider = OpenAIProvider(name="batchy", capabilities=Capabilities(streaming=False))
    with pytest.raises(UnsupportedFeature) as info:
        provider.build_request(chat(stream=True), TARGET, KEY)
    assert info.value.param == "stream"
    provider.build_request(chat(), TARGET, KEY)  # non-streamed is fine


def test_unsupported_field_names_the_provider() -> None:
    with pytest.raises(UnsupportedFeature, match="'groq'"):
        OpenAIProvider(name="groq").build_request(chat(top_k=3), TARGET, KEY)


def test_parse_response() -> None:
    body = json.dumps(
        {
            "id": "c1",
            "model": "gpt-4o",
            "created": 1,
            "choices": [{"message": {"content": "hello"}, "finish_reason": "stop"}],
        }
    ).encode()
    resp = OpenAIProvider().parse_response(UpstreamResponse(status=200, headers={}, body=body))
    assert (resp.text, resp.finish_reason) == ("hello", "stop")


def test_stream_decoder_is_fresh_each_time() -> None:
    provider = OpenAIProvider()
    first, second = provider.stream_decoder(), provider.stream_decoder()
    assert first is not second
    event = SSEEvent(
        data=json.dumps(
            {
                "id": "c",
                "model": "m",
                "created": 1,
                "choices": [{"delta": {"content": "x"}, "finish_reason": "stop"}],
            }
        )
    )
    expected = [
        StreamStart(id="c", model="m", created=1),
        TextDelta(text="x"),
        StreamEnd(finish_reason="stop"),
    ]
    assert first.feed(event) == expected
    assert second.feed(event) == expected


@pytest.mark.parametrize(
    ("status", "headers", "cls", "retry_after"),
    [
        (401, {}, UpstreamRejected, None),
        (429, {"retry-after": "7"}, UpstreamRateLimited, 7.0),
    ],
)
def test_parse_error(
    status: int, headers: dict[str, str], cls: type[Exception], retry_after: float | None
) -> None:
    body = b'{"error": {"message": "m", "type": "t"}}'
    err = OpenAIProvider(name="mistral").parse_error(
        UpstreamResponse(status=status, headers=headers, body=body)
    )
    assert type(err) is cls
    assert (err.provider, err.upstream_status, err.retry_after) == ("mistral", status, retry_after)


def test_embeddings() -> None:
    provider = OpenAIProvider()
    assert isinstance(provider, EmbeddingsProvider)
    assert not isinstance(provider, TokenCountingProvider)
    request = provider.build_embeddings_request(
        EmbeddingRequest(model="openai/text-embedding-3-small", inputs=("a",)),
        Target(
            provider="openai", model="text-embedding-3-small", base_url="https://api.openai.com/v1"
        ),
        KEY,
    )
    assert request.url == "https://api.openai.com/v1/embeddings"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert json.loads(request.body) == {
        "model": "text-embedding-3-small",
        "encoding_format": "float",
        "input": ["a"],
    }
    body = (
        b'{"data": [{"embedding": [1.0], "index": 0}], "model": "e", "usage": {"prompt_tokens": 1}}'
    )
    assert provider.parse_embeddings_response(
        UpstreamResponse(status=200, headers={}, body=body)
    ) == EmbeddingResponse(model="e", vectors=((1.0,),), input_tokens=1)


def test_defaults() -> None:
    provider = OpenAIProvider()
    assert (provider.name, provider.max_tokens_field) == ("openai", "max_completion_tokens")
    assert provider.capabilities == Capabilities(embeddings=True, prompt_cache="key")


def test_responses_requests_go_to_openais_responses_api() -> None:
    openai_ = OpenAIProvider(responses_api=True)
    responses = ChatRequest(
        model="openai/gpt-4o",
        messages=(Message(role="user", content=(TextPart(text="hi"),)),),
        source_format="openai_responses",
        stream=True,
    )
    sent = openai_.build_request(responses, TARGET, KEY)
    assert sent.url == "https://api.openai.com/v1/responses" and sent.stream
    assert json.loads(sent.body)["store"] is False
    assert openai_.build_request(chat(), TARGET, KEY).url.endswith("/chat/completions")
    # Other OpenAI-format hosts keep chat completions for every request.
    assert OpenAIProvider().build_request(responses, TARGET, KEY).url.endswith("/chat/completions")


def test_answers_are_told_apart_by_their_object() -> None:
    openai_ = OpenAIProvider(responses_api=True)
    response = {
        "id": "r",
        "object": "response",
        "model": "gpt-4o",
        "status": "completed",
        "output": [{"type": "message", "content": [{"type": "output_text", "text": "yo"}]}],
    }
    got = openai_.parse_response(
        UpstreamResponse(status=200, headers={}, body=json.dumps(response).encode())
    )
    assert got.text == "yo"
    completion = {
        "id": "c",
        "object": "chat.completion",
        "model": "gpt-4o",
        "choices": [{"message": {"content": "hey"}, "finish_reason": "stop"}],
    }
    got = openai_.parse_response(
        UpstreamResponse(status=200, headers={}, body=json.dumps(completion).encode())
    )
    assert got.text == "hey"


def test_streams_are_told_apart_by_their_first_event() -> None:
    openai_ = OpenAIProvider(responses_api=True)
    created = json.dumps({"type": "response.created", "response": {"id": "r", "model": "m"}})
    decoder = openai_.stream_decoder()
    assert decoder.feed(SSEEvent(event="response.created", data=created)) == [
        StreamStart(id="r", model="m", created=0)
    ]
    decoder = openai_.stream_decoder()
    assert decoder.feed(SSEEvent(data=created.replace(" ", ""))) == [
        StreamStart(id="r", model="m", created=0)
    ]
    decoder = openai_.stream_decoder()
    chunk = {"id": "c", "model": "m", "created": 1, "choices": [{"delta": {"content": "x"}}]}
    assert decoder.feed(SSEEvent(data=json.dumps(chunk)))[1] == TextDelta(text="x")
    with pytest.raises(UpstreamError):  # ended before it was complete
        openai_.stream_decoder().close()
