"""Google Gemini (Developer API, ``generativelanguage.googleapis.com``): endpoint, auth, codecs.

- Chat: ``POST {base_url}/v1beta/models/{model}:generateContent``, or
  ``:streamGenerateContent?alt=sse`` when streaming (without ``alt=sse`` Gemini streams a JSON
  array, not SSE).
- Embeddings: ``POST {base_url}/v1beta/models/{model}:batchEmbedContents``.
- Explicit context caches: ``POST {base_url}/v1beta/cachedContents`` creates one
  (``ContextCacheProvider``); a request naming it sends ``cachedContent`` instead of the part
  it holds (``keyroute.wire.gemini.cache``).
- Auth: the ``x-goog-api-key`` header, never ``?key=`` (query strings end up in access logs).

``Target.base_url`` is the host root (default ``https://generativelanguage.googleapis.com``);
``Target.headers`` are added but can never replace the auth or content-type headers. The wire
mapping itself, with its documented choices, lives in ``keyroute.wire.gemini``.

Gemini's response bodies do not repeat the requested model for embeddings, and
``parse_response`` receives no ``Target``: the reported model is Gemini's ``modelVersion`` for
chat and ``""`` for embeddings (the pipeline knows the target's model).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Final
from urllib.parse import quote

import msgspec

from keyroute.core.chat import ChatRequest
from keyroute.core.context_cache import CachePrefix, CreatedCache
from keyroute.core.embeddings import EmbeddingRequest, EmbeddingResponse
from keyroute.core.errors import UpstreamError
from keyroute.core.response import ChatResponse
from keyroute.core.secret import Secret
from keyroute.providers.base import (
    Capabilities,
    StreamDecoder,
    Target,
    UpstreamRequest,
    UpstreamResponse,
)
from keyroute.wire.gemini import (
    GeminiStreamDecoder,
    cache_prefixes,
    decode_cache,
    decode_embeddings_response,
    decode_error,
    decode_response,
    encode_cache_create,
    encode_embeddings_request,
    encode_request,
)

API_VERSION: Final = "v1beta"
_OWN_HEADERS: Final = frozenset({"x-goog-api-key", "content-type"})


class GeminiProvider:
    """The Gemini adapter: ``Provider`` and ``EmbeddingsProvider``. Stateless and pure."""

    name: ClassVar[str] = "gemini"
    capabilities: ClassVar[Capabilities] = Capabilities(
        embeddings=True, parallel_tool_calls_switch=False, prompt_cache="implicit"
    )

    def build_request(self, req: ChatRequest, target: Target, key: Secret) -> UpstreamRequest:
        """Encode ``req`` for ``target``.

        Raises:
            InvalidRequest: The request is inconsistent (the ``param`` names the field).
            UnsupportedFeature: Gemini cannot honour a field of the request.
        """
        body = msgspec.json.encode(encode_request(req))
        action = "streamGenerateContent?alt=sse" if req.stream else "generateContent"
        return UpstreamRequest(
            method="POST",
            url=_model_url(target, action),
            headers=_headers(target, key),
            body=body,
            stream=req.stream,
            timeouts=target.timeouts,
        )

    def cache_prefixes(self, req: ChatRequest) -> tuple[CachePrefix, ...]:
        """The cacheable leading parts of ``req``, longest first: its system messages, tools
        and first turn (when more follows), then its system messages and tools alone."""
        return cache_prefixes(req)

    def build_cache_request(
        self, req: ChatRequest, prefix: CachePrefix, target: Target, key: Secret, ttl_seconds: int
    ) -> UpstreamRequest:
        """The ``cachedContents.create`` call holding ``prefix`` for ``ttl_seconds``."""
        body = encode_cache_create(encode_request(req), prefix, target.model, ttl_seconds)
        return UpstreamRequest(
            method="POST",
            url=f"{target.base_url}/{API_VERSION}/cachedContents",
            headers=_headers(target, key),
            body=msgspec.json.encode(body),
            timeouts=target.timeouts,
        )

    def parse_cache(self, resp: UpstreamResponse) -> CreatedCache:
        """Decode a 2xx ``cachedContents.create`` answer."""
        return decode_cache(resp.body)

    def parse_response(self, resp: UpstreamResponse) -> ChatResponse:
        """Decode a 2xx ``generateContent`` body."""
        return decode_response(resp.body, model="")

    def stream_decoder(self) -> StreamDecoder:
        """A fresh decoder for one ``streamGenerateContent?alt=sse`` body."""
        return GeminiStreamDecoder()

    def parse_error(self, resp: UpstreamResponse) -> UpstreamError:
        """Decode a non-2xx answer into a typed error."""
        return decode_error(resp.status, resp.headers, resp.body, provider=self.name)

    def build_embeddings_request(
        self, req: EmbeddingRequest, target: Target, key: Secret
    ) -> UpstreamRequest:
        """Encode ``req`` as one ``batchEmbedContents`` call.

        Raises:
            UnsupportedFeature: The request holds token-id inputs.
        """
        body = msgspec.json.encode(encode_embeddings_request(req, target.model))
        return UpstreamRequest(
            method="POST",
            url=_model_url(target, "batchEmbedContents"),
            headers=_headers(target, key),
            body=body,
            timeouts=target.timeouts,
        )

    def parse_embeddings_response(self, resp: UpstreamResponse) -> EmbeddingResponse:
        """Decode a 2xx ``batchEmbedContents`` body."""
        return decode_embeddings_response(resp.body, model="")


def _model_url(target: Target, action: str) -> str:
    model = target.model.removeprefix("models/")
    return f"{target.base_url}/{API_VERSION}/models/{quote(model, safe='')}:{action}"


def _headers(target: Target, key: Secret) -> Mapping[str, str]:
    headers = {k: v for k, v in target.headers.items() if k.lower() not in _OWN_HEADERS}
    headers["x-goog-api-key"] = key.reveal()
    headers["content-type"] = "application/json"
    return headers
