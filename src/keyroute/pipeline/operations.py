"""What a request asks the gateway to do: one ``Operation`` per kind of request.

An operation knows its model, how to estimate itself (input tokens and worst-case output, for
admission and pre-flight fit), how to build its upstream request for a route, and how to read
the answer. It does no I/O: the pipeline sends what it builds and hands back what it reads.

- ``Chat``: one whole chat completion (``ChatResponse``).
- ``ChatStream``: a streamed chat completion; the pipeline opens the stream and decodes it with
  ``decoder(route)``.
- ``Embed``: embeddings (``EmbeddingResponse``).
- ``CountTokens``: the prompt's input tokens, exact where the provider counts (``TokenCount``),
  estimated locally where it cannot (``build`` returns ``None``).
- ``ListModels``: the workspace's models; it has no single route (``model`` is ``None``).

Whole operations satisfy ``WholeOperation[R]``; ``ChatStream`` has ``decoder`` instead of
``parse``. ``rewrite`` lets pure request transforms (signature replay, prompt-cache
preparation) change a chat request without knowing the operation kind. A chat answer of a
provider that cannot forbid parallel tool calls keeps only its first call when the client asked
for one call (``keyroute.providers.single_call``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import ClassVar, Protocol, TypeVar

from keyroute.core.chat import ChatRequest
from keyroute.core.embeddings import EmbeddingRequest, EmbeddingResponse
from keyroute.core.errors import UnsupportedFeature
from keyroute.core.record import Operation as OperationKind
from keyroute.core.response import ChatResponse, Usage
from keyroute.core.secret import Secret
from keyroute.core.tokens import estimate_tokens
from keyroute.providers.base import (
    EmbeddingsProvider,
    StreamDecoder,
    TokenCountingProvider,
    UpstreamRequest,
    UpstreamResponse,
)
from keyroute.providers.single_call import FirstCallDecoder, first_call_only, needs_single_call
from keyroute.routing.resolver import Route

R = TypeVar("R")
Rewrite = Callable[[ChatRequest], ChatRequest]


@dataclass(frozen=True, slots=True, kw_only=True)
class Estimate:
    """What a request may cost before it is sent: prompt tokens (estimated) and the most output
    it allows (``None``: the model's own maximum)."""

    input_tokens: int
    max_output_tokens: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenCount:
    input_tokens: int
    exact: bool


class WholeOperation(Protocol[R]):
    """An operation answered by one whole upstream response (or locally)."""

    kind: ClassVar[OperationKind]

    @property
    def model(self) -> str: ...
    @property
    def end_user(self) -> str | None: ...
    def estimate(self) -> Estimate: ...
    def rewrite(self, change: Rewrite) -> WholeOperation[R]: ...
    def build(self, route: Route, key: Secret) -> UpstreamRequest | None: ...
    def local(self, route: Route) -> R: ...
    def parse(self, route: Route, resp: UpstreamResponse) -> R: ...
    def usage(self, result: R) -> Usage | None: ...


@dataclass(frozen=True, slots=True)
class _ChatBase:
    request: ChatRequest

    @property
    def model(self) -> str:
        return self.request.model

    @property
    def end_user(self) -> str | None:
        return self.request.user

    def estimate(self) -> Estimate:
        return Estimate(
            input_tokens=estimate_tokens(self.request), max_output_tokens=self.request.max_tokens
        )


@dataclass(frozen=True, slots=True)
class Chat(_ChatBase):
    kind: ClassVar[OperationKind] = "chat"

    def rewrite(self, change: Rewrite) -> Chat:
        return Chat(change(self.request))

    def build(self, route: Route, key: Secret) -> UpstreamRequest:
        return route.provider.build_request(self.request, route.target, key)

    def local(self, route: Route) -> ChatResponse:
        raise AssertionError("a chat completion is always sent upstream")

    def parse(self, route: Route, resp: UpstreamResponse) -> ChatResponse:
        result = route.provider.parse_response(resp)
        if needs_single_call(self.request, route.provider):
            result = first_call_only(result)
        if not result.created:  # providers that report no creation time
            result = replace(result, created=int(time.time()))
        return result

    def usage(self, result: ChatResponse) -> Usage | None:
        return result.usage


@dataclass(frozen=True, slots=True)
class ChatStream(_ChatBase):
    kind: ClassVar[OperationKind] = "chat_stream"

    def rewrite(self, change: Rewrite) -> ChatStream:
        return ChatStream(change(self.request))

    def build(self, route: Route, key: Secret) -> UpstreamRequest:
        return route.provider.build_request(self.request, route.target, key)

    def decoder(self, route: Route) -> StreamDecoder:
        if not route.provider.capabilities.streaming:
            raise UnsupportedFeature(
                f"Provider '{route.target.provider}' cannot stream.", param="stream"
            )
        decoder = route.provider.stream_decoder()
        if needs_single_call(self.request, route.provider):
            return FirstCallDecoder(decoder)
        return decoder


@dataclass(frozen=True, slots=True)
class Embed:
    request: EmbeddingRequest
    kind: ClassVar[OperationKind] = "embeddings"

    @property
    def model(self) -> str:
        return self.request.model

    @property
    def end_user(self) -> str | None:
        return self.request.user

    def estimate(self) -> Estimate:
        chars = sum(len(text) for text in self.request.inputs)
        tokens = (chars + 3) // 4 + sum(len(ids) for ids in self.request.token_inputs)
        return Estimate(input_tokens=tokens, max_output_tokens=0)

    def rewrite(self, change: Rewrite) -> Embed:
        return self

    def build(self, route: Route, key: Secret) -> UpstreamRequest:
        provider = route.provider
        if not provider.capabilities.embeddings or not isinstance(provider, EmbeddingsProvider):
            raise UnsupportedFeature(
                f"Provider '{route.target.provider}' has no embeddings endpoint.", param="model"
            )
        return provider.build_embeddings_request(self.request, route.target, key)

    def local(self, route: Route) -> EmbeddingResponse:
        raise AssertionError("embeddings are always computed upstream")

    def parse(self, route: Route, resp: UpstreamResponse) -> EmbeddingResponse:
        provider = route.provider
        assert isinstance(provider, EmbeddingsProvider)  # noqa: S101 - checked by build
        return provider.parse_embeddings_response(resp)

    def usage(self, result: EmbeddingResponse) -> Usage | None:
        return Usage(input_tokens=result.input_tokens)


@dataclass(frozen=True, slots=True)
class CountTokens(_ChatBase):
    kind: ClassVar[OperationKind] = "count_tokens"

    def estimate(self) -> Estimate:
        return Estimate(input_tokens=0, max_output_tokens=0)

    def rewrite(self, change: Rewrite) -> CountTokens:
        return self

    def build(self, route: Route, key: Secret) -> UpstreamRequest | None:
        provider = route.provider
        if not isinstance(provider, TokenCountingProvider):
            return None
        return provider.build_count_tokens_request(self.request, route.target, key)

    def local(self, route: Route) -> TokenCount:
        return TokenCount(input_tokens=estimate_tokens(self.request), exact=False)

    def parse(self, route: Route, resp: UpstreamResponse) -> TokenCount:
        provider = route.provider
        assert isinstance(provider, TokenCountingProvider)  # noqa: S101 - checked by build
        return TokenCount(input_tokens=provider.parse_count_tokens(resp), exact=True)

    def usage(self, result: TokenCount) -> Usage | None:
        return None  # counting is free at every provider that offers it


@dataclass(frozen=True, slots=True)
class ListModels:
    """The workspace's models; ``only`` asks for one id (``GET /v1/models/{id}``)."""

    only: str | None = None
    kind: ClassVar[OperationKind] = "models"
