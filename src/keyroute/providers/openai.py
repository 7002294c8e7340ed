"""Provider ``openai``: OpenAI's chat-completions API, and the base of every OpenAI-format host.

With ``responses_api`` (OpenAI itself), a request that arrived in the Responses format goes to
OpenAI's own ``/responses`` (``wire.openai_responses.upstream``); its answer is told apart from a
chat completion by its ``object`` (whole) or its first event (stream).
"""

from __future__ import annotations

import re

import msgspec

from keyroute.core.chat import ChatRequest
from keyroute.core.embeddings import EmbeddingRequest, EmbeddingResponse
from keyroute.core.errors import UnsupportedFeature, UpstreamError
from keyroute.core.response import ChatResponse
from keyroute.core.secret import Secret
from keyroute.core.stream import StreamEvent
from keyroute.providers.base import (
    Capabilities,
    StreamDecoder,
    Target,
    UpstreamRequest,
    UpstreamResponse,
)
from keyroute.wire.openai.embeddings import decode_embeddings_response, encode_embeddings_request
from keyroute.wire.openai.encode import encode_request
from keyroute.wire.openai.errors import decode_error
from keyroute.wire.openai.models import decode_models
from keyroute.wire.openai.response import decode_response
from keyroute.wire.openai.stream import OpenAIStreamDecoder
from keyroute.wire.openai_responses.upstream import encode_upstream_request
from keyroute.wire.openai_responses.upstream_decode import (
    ResponsesUpstreamDecoder,
    decode_upstream_response,
)
from keyroute.wire.sse import SSEEvent

_JSON = "application/json"
_OPENAI_CAPABILITIES = Capabilities(embeddings=True, prompt_cache="key")


class OpenAIProvider:
    """Speaks ``POST {base_url}/chat/completions`` with ``Authorization: Bearer`` (and, with
    ``responses_api``, ``POST {base_url}/responses`` for Responses-format requests)."""

    def __init__(
        self,
        *,
        name: str = "openai",
        capabilities: Capabilities = _OPENAI_CAPABILITIES,
        max_tokens_field: str = "max_completion_tokens",
        require_done: bool = True,
        responses_api: bool = False,
    ) -> None:
        self.name = name
        self.capabilities = capabilities
        self.max_tokens_field = max_tokens_field
        self.require_done = require_done
        self.responses_api = responses_api

    def _headers(self, target: Target, key: Secret, stream: bool) -> dict[str, str]:
        headers = {"content-type": _JSON, "accept": "text/event-stream" if stream else _JSON}
        if key:
            headers["authorization"] = f"Bearer {key.reveal()}"
        headers.update(target.headers)
        return headers

    def build_request(self, req: ChatRequest, target: Target, key: Secret) -> UpstreamRequest:
        if req.stream and not self.capabilities.streaming:
            raise UnsupportedFeature(f"Provider '{self.name}' cannot stream.", param="stream")
        if self.responses_api and req.source_format == "openai_responses":
            body = encode_upstream_request(req, target.model)
            path = "responses"
        else:
            body = encode_request(
                req, target.model, provider=self.name, max_tokens_field=self.max_tokens_field
            )
            path = "chat/completions"
        return UpstreamRequest(
            method="POST",
            url=f"{target.base_url}/{path}",
            headers=self._headers(target, key, req.stream),
            body=msgspec.json.encode(body),
            stream=req.stream,
            timeouts=target.timeouts,
        )

    def parse_response(self, resp: UpstreamResponse) -> ChatResponse:
        if self.responses_api and _RESPONSE_OBJECT.search(resp.body[:4096]):
            return decode_upstream_response(resp.body)
        return decode_response(resp.body, self.name)

    def stream_decoder(self) -> StreamDecoder:
        chat = OpenAIStreamDecoder(self.name, require_done=self.require_done)
        return _EitherDecoder(chat) if self.responses_api else chat

    def parse_error(self, resp: UpstreamResponse) -> UpstreamError:
        return decode_error(resp.status, resp.headers, resp.body, self.name)

    def build_models_request(self, target: Target, key: Secret) -> UpstreamRequest:
        headers = self._headers(target, key, False)
        headers.pop("content-type", None)
        return UpstreamRequest(
            method="GET",
            url=f"{target.base_url}/models",
            headers=headers,
            body=b"",
            timeouts=target.timeouts.capped(10.0),
        )

    def parse_models(self, resp: UpstreamResponse) -> list[str]:
        return decode_models(resp.body, self.name)

    def build_embeddings_request(
        self, req: EmbeddingRequest, target: Target, key: Secret
    ) -> UpstreamRequest:
        return UpstreamRequest(
            method="POST",
            url=f"{target.base_url}/embeddings",
            headers=self._headers(target, key, False),
            body=msgspec.json.encode(encode_embeddings_request(req, target.model)),
            timeouts=target.timeouts,
        )

    def parse_embeddings_response(self, resp: UpstreamResponse) -> EmbeddingResponse:
        return decode_embeddings_response(resp.body, self.name)


_RESPONSE_OBJECT = re.compile(rb'"object"\s*:\s*"response"')


class _EitherDecoder:
    """A chat-completions or a Responses stream, told apart by its first event."""

    def __init__(self, chat: OpenAIStreamDecoder) -> None:
        self._decoder: StreamDecoder | None = None
        self._chat = chat

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        if self._decoder is None:
            responses = (event.event or "").startswith("response.") or event.data.startswith(
                '{"type":"response.'
            )
            self._decoder = ResponsesUpstreamDecoder() if responses else self._chat
        return self._decoder.feed(event)

    def close(self) -> list[StreamEvent]:
        return (self._decoder or self._chat).close()
