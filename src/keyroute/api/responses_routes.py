"""The OpenAI Responses API: ``POST /v1/responses`` (and ``/responses``).

A Responses request is one more inbound codec into the same lifecycle as chat completions: it is
decoded into a canonical request and run as ``Chat`` or ``ChatStream`` through
``Pipeline.run``, so routing, budgets, metering and usage work the same; the answer is encoded as
a ``Response`` object or the typed event stream. Errors before a stream starts are OpenAI error
JSON (the Responses API's own); after, an ``error`` event and ``response.failed``.
"""

from __future__ import annotations

import secrets
import time

import msgspec

from keyroute.api.asgi import Receive, Scope, Send
from keyroute.api.endpoint import Endpoint
from keyroute.core.errors import UnsupportedFeature
from keyroute.pipeline import Chat, ChatStream, Meter, RequestContext
from keyroute.wire.openai_responses import (
    ResponsesStreamEncoder,
    decode_request,
    encode_response,
)


def new_response_id(now: float) -> str:
    """``resp_``, the creation time in milliseconds (12 hex digits) and 20 random hex digits."""
    return f"resp_{int(now * 1000):012x}{secrets.token_hex(10)}"


class Responses(Endpoint):
    async def handle(
        self, ctx: RequestContext, meter: Meter, scope: Scope, receive: Receive, send: Send
    ) -> None:
        req = decode_request(await self.body(scope, receive))
        if req.previous_response_id is not None:
            raise UnsupportedFeature(
                "'previous_response_id' needs stored responses, which this gateway does not keep.",
                param="previous_response_id",
            )
        now = time.time()
        response_id, created = new_response_id(now), int(now)
        if not req.chat.stream:
            resp = await self.run(ctx, meter, receive, Chat(req.chat))
            body = encode_response(
                resp, req, response_id=response_id, model=ctx.model_id, created_at=created
            )
            await self.reply(ctx, send, msgspec.json.encode(body))
            return
        await self.stream(
            ctx,
            meter,
            scope,
            receive,
            send,
            ChatStream(req.chat),
            lambda: ResponsesStreamEncoder(
                req, response_id=response_id, model=ctx.model_id, created_at=created
            ),
        )
