"""``keyroute.pipeline.operations``: estimates, and what each operation refuses before sending."""

from __future__ import annotations

import pytest

from keyroute.core.chat import ChatRequest, Message, TextPart
from keyroute.core.embeddings import EmbeddingRequest, EmbeddingResponse
from keyroute.core.errors import UnsupportedFeature
from keyroute.core.response import Usage
from keyroute.core.secret import Secret
from keyroute.pipeline import Chat, ChatStream, CountTokens, Embed
from keyroute.providers.base import Target
from keyroute.routing.resolver import ModelResolver, Route
from keyroute.storage.base import ProviderKeyRecord

HELLO = (Message(role="user", content=(TextPart(text="hello " * 20),)),)


def route(provider: str, model: str = "m") -> Route:
    resolver = ModelResolver()
    key = ProviderKeyRecord(
        id="pk",
        workspace_id="ws",
        provider=provider,
        name=provider,
        base_url="http://127.0.0.1:1",
        ciphertext=b"",
        nonce=b"",
        fingerprint="",
        last4="",
        created_at=None,  # type: ignore[arg-type]
    )
    target = Target(provider=provider, model=model, base_url="http://127.0.0.1:1")
    return Route(provider=resolver.provider(provider), target=target, key=key, model_id=model)


def test_chat_estimate_uses_the_requests_limit() -> None:
    estimate = Chat(ChatRequest(model="m", messages=HELLO, max_tokens=50)).estimate()
    assert estimate.max_output_tokens == 50 and estimate.input_tokens > 20


def test_rewrite_changes_chat_requests_only() -> None:
    req = ChatRequest(model="m", messages=HELLO)
    other = ChatRequest(model="n", messages=HELLO)
    assert Chat(req).rewrite(lambda _: other) == Chat(other)
    assert ChatStream(req).rewrite(lambda _: other) == ChatStream(other)
    assert CountTokens(req).rewrite(lambda _: other) == CountTokens(req)
    embed = Embed(EmbeddingRequest(model="m", inputs=("a",)))
    assert embed.rewrite(lambda _: other) is embed


def test_embeddings_estimate_counts_texts_and_token_ids() -> None:
    req = EmbeddingRequest(model="m", inputs=("abcdefgh",), token_inputs=((1, 2, 3),))
    assert Embed(req).estimate().input_tokens == 5


def test_embeddings_are_refused_by_a_chat_only_provider() -> None:
    op = Embed(EmbeddingRequest(model="m", inputs=("a",)))
    with pytest.raises(UnsupportedFeature, match="no embeddings endpoint"):
        op.build(route("anthropic"), Secret("k"))


def test_embeddings_usage_is_their_input() -> None:
    op = Embed(EmbeddingRequest(model="m", inputs=("a",)))
    result = EmbeddingResponse(model="m", vectors=((0.0,),), input_tokens=3)
    assert op.usage(result) == Usage(input_tokens=3)


def test_count_tokens_goes_upstream_only_where_the_provider_counts() -> None:
    op = CountTokens(ChatRequest(model="m", messages=HELLO))
    assert op.build(route("openai"), Secret("k")) is None
    local = op.local(route("openai"))
    assert local.exact is False and local.input_tokens > 20
    assert op.build(route("anthropic"), Secret("k")) is not None
    assert op.usage(local) is None


def test_chat_builds_the_providers_request() -> None:
    req = Chat(ChatRequest(model="m", messages=HELLO)).build(route("openai", "gpt-x"), Secret("k"))
    assert req.url.endswith("/chat/completions") and b'"gpt-x"' in req.body
