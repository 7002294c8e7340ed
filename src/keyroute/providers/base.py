"""The provider interface: what every adapter implements, and the values that cross it.

Adapters are sans-IO. ``build_request`` makes bytes, ``parse_response`` / ``stream_decoder`` /
``parse_error`` read bytes; the one upstream sender in ``keyroute.upstream`` does everything in
between (pooling, timeouts, size limits, cancellation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from keyroute.core.chat import ChatRequest
from keyroute.core.context_cache import CachePrefix, CreatedCache
from keyroute.core.embeddings import EmbeddingRequest, EmbeddingResponse
from keyroute.core.errors import UpstreamError
from keyroute.core.response import ChatResponse
from keyroute.core.secret import REDACTED, Secret
from keyroute.core.stream import StreamEvent
from keyroute.core.timeouts import Timeouts
from keyroute.wire.headers import retry_after_seconds
from keyroute.wire.sse import SSEEvent

__all__ = [
    "REDACTED",
    "CachePrefix",
    "Capabilities",
    "ContextCacheProvider",
    "CreatedCache",
    "EmbeddingsProvider",
    "ModelListingProvider",
    "Provider",
    "Secret",
    "StreamDecoder",
    "TokenCountingProvider",
    "Target",
    "Timeouts",
    "UpstreamRequest",
    "UpstreamResponse",
    "retry_after_seconds",
]

_SECRET_HEADERS = frozenset({"authorization", "x-api-key", "x-goog-api-key", "api-key"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Capabilities:
    """What a provider's adapter can do as a whole.

    What each model can do (tools, vision, JSON schema, caching...) is data in
    ``keyroute.catalogue``; the wire codecs refuse what a format cannot express.
    """

    streaming: bool = True
    embeddings: bool = False
    requires_key: bool = True
    parallel_tool_calls_switch: bool = True
    """False: the API cannot be told to make at most one tool call per answer; keyroute then
    keeps the first call of each answer (``keyroute.providers.single_call``)."""
    prompt_cache: Literal["none", "breakpoints", "key", "implicit"] = "none"
    """How the API caches prompt prefixes: ``breakpoints`` placed in the request (Anthropic
    ``cache_control``), a routing ``key`` (OpenAI ``prompt_cache_key``), ``implicit`` (by itself,
    Gemini), or ``none`` known; ``keyroute.caching`` prepares requests accordingly."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """A resolved deployment: where to send, which model name the provider expects.

    ``provider`` is the provider id (``openai``, ``mistral``...), ``base_url`` has no trailing
    slash, ``timeouts`` are the connect, first-byte, idle-gap and total limits of a call to it.
    """

    provider: str
    model: str
    base_url: str
    timeouts: Timeouts = Timeouts()
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamRequest:
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    stream: bool = False
    timeouts: Timeouts = Timeouts()

    def __repr__(self) -> str:
        shown = {
            k: (REDACTED if k.lower() in _SECRET_HEADERS else v) for k, v in self.headers.items()
        }
        url = self.url.split("?", 1)[0]
        return f"UpstreamRequest({self.method} {url} headers={shown} body={len(self.body)}B)"


@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamResponse:
    """A complete (non-streamed) upstream answer, or the head and body of a failed stream."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class StreamDecoder(Protocol):
    """Turns one streamed response's SSE events into canonical events. Stateful, one per stream."""

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        """Decode one SSE event. Raises ``UpstreamError`` for an in-stream error event."""
        ...

    def close(self) -> list[StreamEvent]:
        """The stream ended. Flush; raise ``UpstreamError`` if it ended before it was complete."""
        ...


class Provider(Protocol):
    """A sans-IO adapter for one provider API.

    ``name`` is the stable provider id (config, audit rows, metrics); a class attribute for most
    adapters, an instance attribute where one class serves several presets.
    """

    @property
    def name(self) -> str: ...

    @property
    def capabilities(self) -> Capabilities: ...

    def build_request(self, req: ChatRequest, target: Target, key: Secret) -> UpstreamRequest:
        """Canonical request -> bytes to send. Raises ``UnsupportedFeature`` naming the field."""
        ...

    def parse_response(self, resp: UpstreamResponse) -> ChatResponse:
        """A 2xx body -> canonical response, with usage."""
        ...

    def stream_decoder(self) -> StreamDecoder:
        """A fresh decoder for one streamed response."""
        ...

    def parse_error(self, resp: UpstreamResponse) -> UpstreamError:
        """A non-2xx answer -> typed error, with the provider's status and retry-after."""
        ...


@runtime_checkable
class EmbeddingsProvider(Protocol):
    """The optional embeddings half of a provider (``Capabilities.embeddings``)."""

    def build_embeddings_request(
        self, req: EmbeddingRequest, target: Target, key: Secret
    ) -> UpstreamRequest: ...

    def parse_embeddings_response(self, resp: UpstreamResponse) -> EmbeddingResponse: ...


@runtime_checkable
class TokenCountingProvider(Protocol):
    """A provider with a token-counting endpoint (Anthropic's ``/v1/messages/count_tokens``)."""

    def build_count_tokens_request(
        self, req: ChatRequest, target: Target, key: Secret
    ) -> UpstreamRequest: ...

    def parse_count_tokens(self, resp: UpstreamResponse) -> int: ...

    def parse_error(self, resp: UpstreamResponse) -> UpstreamError: ...


@runtime_checkable
class ContextCacheProvider(Protocol):
    """A provider with explicit context caches that keyroute may create (Gemini
    ``cachedContents``); ``keyroute.caching.explicit`` decides when, the pipeline sends."""

    def cache_prefixes(self, req: ChatRequest) -> tuple[CachePrefix, ...]:
        """The leading parts of ``req`` a cache could hold, longest first (may be empty).
        Raises what ``build_request`` raises for a request it cannot encode."""
        ...

    def build_cache_request(
        self, req: ChatRequest, prefix: CachePrefix, target: Target, key: Secret, ttl_seconds: int
    ) -> UpstreamRequest:
        """The request creating a cache of ``prefix`` that lives ``ttl_seconds``."""
        ...

    def parse_cache(self, resp: UpstreamResponse) -> CreatedCache:
        """A 2xx answer to ``build_cache_request``. Raises ``UpstreamError`` if unreadable."""
        ...


@runtime_checkable
class ModelListingProvider(Protocol):
    """A provider that can say which models it serves (OpenAI-format ``GET /models``)."""

    def build_models_request(self, target: Target, key: Secret) -> UpstreamRequest: ...

    def parse_models(self, resp: UpstreamResponse) -> list[str]: ...
