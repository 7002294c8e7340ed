"""OpenAI-format endpoints: ``/v1/chat/completions`` and ``/v1/embeddings``."""

from __future__ import annotations

import time

from keyroute.api.asgi import Receive, Scope, Send, send_bytes
from keyroute.api.endpoint import Endpoint
from keyroute.pipeline import RequestContext
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
    async def handle(self, ctx: RequestContext, scope: Scope, receive: Receive, send: Send) -> None:
        req = decode_request(await self.body(scope, receive))
        pipeline = self.services.pipeline
        if not req.stream:
            resp = await pipeline.complete(ctx, req)
            body = encode_response(resp, model=ctx.model_id, response_id=completion_id(ctx))
            await send_bytes(send, 200, body, self.headers(ctx))
            return
        await self.stream(
            ctx,
            scope,
            receive,
            send,
            pipeline.stream(ctx, req),
            lambda: OpenAIStreamEncoder(
                model=ctx.model_id,
                response_id=completion_id(ctx),
                include_usage=req.include_usage,
                created=int(time.time()),
            ),
        )


class Embeddings(Endpoint):
    async def handle(self, ctx: RequestContext, scope: Scope, receive: Receive, send: Send) -> None:
        req = decode_embeddings_request(await self.body(scope, receive))
        resp = await self.services.pipeline.embed(ctx, req)
        body = encode_embeddings_response(
            resp, model=ctx.model_id, encoding_format=req.encoding_format
        )
        await send_bytes(send, 200, body, self.headers(ctx))
