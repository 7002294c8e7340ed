"""OpenAI-format endpoints: ``/v1/chat/completions`` and ``/v1/embeddings``."""

from __future__ import annotations

import time

from keyroute.api.asgi import Receive, Scope, Send
from keyroute.api.endpoint import Endpoint
from keyroute.pipeline import Chat, ChatStream, Embed, Meter, RequestContext
from keyroute.wire.openai.embeddings import (
    decode_embeddings_request,
    encode_embeddings_response,
)
from keyroute.wire.openai.request import decode_request
from keyroute.wire.openai.response import encode_response
from keyroute.wire.openai.stream import OpenAIStreamEncoder


def completion_id(ctx: RequestContext) -> str:
    return "chatcmpl-" + ctx.request_id.removeprefix("req_")


class ChatCompletions(Endpoint):
    async def handle(
        self, ctx: RequestContext, meter: Meter, scope: Scope, receive: Receive, send: Send
    ) -> None:
        req = decode_request(await self.body(scope, receive))
        if not req.stream:
            resp = await self.run(ctx, meter, receive, Chat(req), scope)
            body = encode_response(resp, model=ctx.model_id, response_id=completion_id(ctx))
            await self.reply(ctx, send, body)
            return
        await self.stream(
            ctx,
            meter,
            scope,
            receive,
            send,
            ChatStream(req),
            lambda: OpenAIStreamEncoder(
                model=ctx.model_id,
                response_id=completion_id(ctx),
                include_usage=req.include_usage,
                created=int(time.time()),
            ),
        )


class Embeddings(Endpoint):
    async def handle(
        self, ctx: RequestContext, meter: Meter, scope: Scope, receive: Receive, send: Send
    ) -> None:
        req = decode_embeddings_request(await self.body(scope, receive))
        resp = await self.run(ctx, meter, receive, Embed(req), scope)
        body = encode_embeddings_response(
            resp, model=ctx.model_id, encoding_format=req.encoding_format
        )
        await self.reply(ctx, send, body)
