"""Anthropic-format endpoints: ``POST /v1/messages`` and ``POST /v1/messages/count_tokens``.

Authentication takes the gateway key from ``x-api-key`` or ``Authorization: Bearer``; the
``anthropic-version`` header is accepted and not required; ``anthropic-beta`` is forwarded to
Anthropic models (other providers have no such features). Any model the workspace can reach
serves these endpoints: the canonical model translates in both directions.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

import msgspec

from keyroute.api.asgi import Receive, Scope, Send, header
from keyroute.api.endpoint import Endpoint
from keyroute.api.errors import ErrorFormat
from keyroute.core.chat import ChatRequest
from keyroute.core.errors import InvalidRequest
from keyroute.pipeline import Chat, ChatStream, Meter, RequestContext
from keyroute.pipeline import CountTokens as CountTokensOp
from keyroute.wire.anthropic import AnthropicStreamEncoder, decode_request, encode_response


def _with_beta(req: ChatRequest, scope: Scope) -> ChatRequest:
    beta = header(scope, b"anthropic-beta")
    return replace(req, provider_headers={"anthropic-beta": beta}) if beta else req


class Messages(Endpoint):
    fmt: ClassVar[ErrorFormat] = "anthropic"

    async def handle(
        self, ctx: RequestContext, meter: Meter, scope: Scope, receive: Receive, send: Send
    ) -> None:
        req = _with_beta(decode_request(await self.body(scope, receive)), scope)
        if req.max_tokens is None:  # required by the Messages API (count_tokens has none)
            raise InvalidRequest("max_tokens: Field required", param="max_tokens")
        if not req.stream:
            resp = await self.run(ctx, meter, receive, Chat(req), scope)
            await self.reply(ctx, send, encode_response(resp, ctx.model_id))
            return
        await self.stream(
            ctx,
            meter,
            scope,
            receive,
            send,
            ChatStream(req),
            lambda: AnthropicStreamEncoder(ctx.model_id),
        )


class CountTokens(Endpoint):
    fmt: ClassVar[ErrorFormat] = "anthropic"

    async def handle(
        self, ctx: RequestContext, meter: Meter, scope: Scope, receive: Receive, send: Send
    ) -> None:
        req = decode_request(await self.body(scope, receive))
        count = await self.run(ctx, meter, receive, CountTokensOp(req), scope)
        label = ("x-keyroute-token-count", "exact" if count.exact else "estimate")
        body = msgspec.json.encode({"input_tokens": count.input_tokens})
        await self.reply(ctx, send, body, [label])
