"""OpenAI-format endpoints: ``/v1/chat/completions``, ``/v1/embeddings``, ``/v1/models``."""

from __future__ import annotations

import time
from typing import Any, ClassVar

import msgspec

from keyroute.api.asgi import Receive, Scope, Send, send_bytes
from keyroute.api.endpoint import Endpoint
from keyroute.core.errors import ModelNotFound
from keyroute.pipeline import RequestContext
from keyroute.providers import registry
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


class Models(Endpoint):
    """``GET /v1/models`` and ``GET /v1/models/{provider}/{model}``."""

    methods: ClassVar[frozenset[str]] = frozenset({"GET"})

    async def handle(self, ctx: RequestContext, scope: Scope, receive: Receive, send: Send) -> None:
        state = await self.services.directory.get(ctx.principal.workspace_id)
        created = int(state.workspace.created_at.timestamp())
        models: dict[str, dict[str, Any]] = {}
        seen_providers: set[str] = set()
        for key in state.provider_keys:
            prefix = key.provider if key.provider not in seen_providers else key.name
            seen_providers.add(key.provider)
            for name in registry.spec(key.provider).models:
                model_id = f"{prefix}/{name}"
                models[model_id] = {
                    "id": model_id,
                    "object": "model",
                    "created": created,
                    "owned_by": key.provider,
                }
        for alias, target in state.aliases.items():
            models[alias] = {
                "id": alias,
                "object": "model",
                "created": created,
                "owned_by": f"alias of {target}",
            }
        wanted = scope["path_params"].get("model") if "path_params" in scope else None
        if wanted:
            if wanted not in models:
                raise ModelNotFound(f"The model '{wanted}' does not exist.", param="model")
            body = msgspec.json.encode(models[wanted])
        else:
            body = msgspec.json.encode({"object": "list", "data": list(models.values())})
        await send_bytes(send, 200, body, self.headers(ctx))
