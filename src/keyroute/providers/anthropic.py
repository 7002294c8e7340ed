"""``AnthropicProvider``: the Anthropic Messages API (``POST {base_url}/v1/messages``).

Sans-IO like every adapter: it builds ``UpstreamRequest`` bytes and reads answers through
``keyroute.wire.anthropic``. ``base_url`` has no trailing slash and no ``/v1`` (the public API is
``DEFAULT_BASE_URL``). ``Target.headers`` (e.g. ``anthropic-beta``) are sent too and may override
``anthropic-version``; they never replace the key header.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

import msgspec

from keyroute.core.chat import ChatRequest
from keyroute.core.errors import UpstreamError
from keyroute.core.response import ChatResponse
from keyroute.core.secret import Secret
from keyroute.providers.base import Capabilities, Target, UpstreamRequest, UpstreamResponse
from keyroute.wire.anthropic import (
    AnthropicStreamDecoder,
    decode_error,
    decode_response,
    encode_request,
)
from keyroute.wire.anthropic.schema import TokenCount

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"

# Body fields /v1/messages/count_tokens accepts (anthropic-sdk-python message_count_tokens_params).
_COUNT_TOKENS_FIELDS = frozenset(
    {
        "model",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "thinking",
        "output_config",
        "cache_control",
        "speed",
        "user_profile_id",
        "workspace_id",
    }
)


class AnthropicProvider:
    """Adapter for Anthropic's Messages API."""

    name: ClassVar[str] = "anthropic"
    capabilities: ClassVar[Capabilities] = Capabilities(
        embeddings=False, prompt_cache="breakpoints"
    )
    default_base_url: ClassVar[str] = DEFAULT_BASE_URL
    default_max_tokens: int = 4096
    """``max_tokens`` sent when the client set none (the API requires one)."""

    def __init__(self, *, default_max_tokens: int | None = None) -> None:
        if default_max_tokens is not None:
            self.default_max_tokens = default_max_tokens

    def build_request(self, req: ChatRequest, target: Target, key: Secret) -> UpstreamRequest:
        """``POST /v1/messages``; ``stream: true`` in the body when ``req.stream``.

        Raises:
            UnsupportedFeature: A field Anthropic cannot express, named in ``param``.
            InvalidRequest: The request is inconsistent (e.g. tool-call arguments are not JSON).
        """
        body = encode_request(req, target.model, default_max_tokens=self.default_max_tokens)
        if req.stream:
            body["stream"] = True
        sent = self._post(target, key, "/v1/messages", msgspec.json.encode(body), req.stream)
        if req.source_format == "anthropic" and req.provider_headers:
            headers = {**req.provider_headers, **sent.headers}
            sent = replace(sent, headers=headers)
        return sent

    def build_count_tokens_request(
        self, req: ChatRequest, target: Target, key: Secret
    ) -> UpstreamRequest:
        """``POST /v1/messages/count_tokens`` for the prompt of ``req``.

        Fields that only steer generation (``max_tokens``, sampling, ``stop_sequences``,
        ``metadata``) do not change the count and are not sent.
        """
        body = encode_request(req, target.model, default_max_tokens=self.default_max_tokens)
        counted = {k: v for k, v in body.items() if k in _COUNT_TOKENS_FIELDS}
        path = "/v1/messages/count_tokens"
        return self._post(target, key, path, msgspec.json.encode(counted), stream=False)

    def parse_count_tokens(self, resp: UpstreamResponse) -> int:
        """The ``input_tokens`` of a count_tokens answer.

        Raises:
            UpstreamError: A non-2xx answer (typed as by ``parse_error``) or a malformed body.
        """
        if not 200 <= resp.status < 300:
            raise self.parse_error(resp)
        try:
            return msgspec.json.decode(resp.body, type=TokenCount).input_tokens
        except msgspec.MsgspecError:
            raise UpstreamError(
                "anthropic returned a malformed token count", provider=self.name
            ) from None

    def parse_response(self, resp: UpstreamResponse) -> ChatResponse:
        """A 2xx Messages body -> ``ChatResponse`` with usage."""
        return decode_response(resp.body)

    def stream_decoder(self) -> AnthropicStreamDecoder:
        """A fresh decoder for one streamed response."""
        return AnthropicStreamDecoder(self.name)

    def parse_error(self, resp: UpstreamResponse) -> UpstreamError:
        """A non-2xx answer -> typed error with status, retryability and retry-after."""
        return decode_error(resp.status, resp.headers, resp.body, provider=self.name)

    def _post(
        self, target: Target, key: Secret, path: str, body: bytes, stream: bool
    ) -> UpstreamRequest:
        headers = {
            "content-type": "application/json",
            "anthropic-version": API_VERSION,
            **{k.lower(): v for k, v in target.headers.items()},
            "x-api-key": key.reveal(),
        }
        if stream:
            headers["accept"] = "text/event-stream"
        return UpstreamRequest(
            method="POST",
            url=f"{target.base_url}{path}",
            headers=headers,
            body=body,
            stream=stream,
            timeouts=target.timeouts,
        )
