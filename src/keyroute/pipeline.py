"""One request's way through the gateway: authenticate -> resolve -> upstream -> respond.

``Pipeline`` is the only caller of the router, the provider adapters and the upstream sender.
The HTTP layer hands it a canonical request and a ``RequestContext`` and gets back a canonical
response or stream of events, whatever wire format the client speaks. Later stages (budget
reservation, caching, fallback, settlement, audit) slot in here without changing either side.

``RequestContext.upstream_seconds`` accumulates time spent waiting on providers so the HTTP
layer can report keyroute's own overhead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace

from keyroute.core.chat import ChatRequest, Message
from keyroute.core.embeddings import EmbeddingRequest, EmbeddingResponse
from keyroute.core.errors import GatewayError, UnsupportedFeature, UpstreamError
from keyroute.core.response import ChatResponse
from keyroute.core.secret import REDACTED, Secret
from keyroute.core.stream import StreamEvent, ToolCallStart
from keyroute.core.tokens import estimate_tokens
from keyroute.principals import Principal
from keyroute.providers import registry
from keyroute.providers.base import (
    EmbeddingsProvider,
    ModelListingProvider,
    TokenCountingProvider,
    UpstreamRequest,
    UpstreamResponse,
)
from keyroute.routing.resolver import ModelResolver, Route, model_prefixes
from keyroute.signatures import SignatureCache
from keyroute.storage.base import ProviderKeyRecord
from keyroute.upstream import UpstreamSender
from keyroute.wire.sse import SSEParser
from keyroute.workspace_state import WorkspaceDirectory, WorkspaceState

log = logging.getLogger("keyroute.pipeline")
_LISTING_TTL = 300.0


@dataclass(slots=True)
class RequestContext:
    request_id: str
    principal: Principal
    started: float = field(default_factory=time.perf_counter)
    upstream_seconds: float = 0.0
    model_id: str = ""

    def overhead_ms(self) -> float:
        return max(0.0, (time.perf_counter() - self.started - self.upstream_seconds) * 1000.0)


class Pipeline:
    def __init__(
        self,
        *,
        directory: WorkspaceDirectory,
        resolver: ModelResolver,
        sender: UpstreamSender,
        signatures: SignatureCache,
    ) -> None:
        self._directory = directory
        self._resolver = resolver
        self._sender = sender
        self._signatures = signatures
        self._listings: dict[str, tuple[float, list[str]]] = {}  # key id -> (when, models)

    async def _route(self, ctx: RequestContext, model: str) -> tuple[Route, Secret]:
        state = await self._directory.get(ctx.principal.workspace_id)
        route = self._resolver.resolve(state, model)
        ctx.model_id = route.model_id
        return route, self._directory.secret(state, route.key)

    async def _send(
        self, ctx: RequestContext, route: Route, request: UpstreamRequest, secret: Secret
    ) -> UpstreamResponse:
        """Send a whole request; time spent counts as upstream time; non-2xx raises the
        provider's typed error, scrubbed of the key."""
        t0 = time.perf_counter()
        try:
            resp = await self._sender.send(request, provider=route.target.provider)
        finally:
            ctx.upstream_seconds += time.perf_counter() - t0
        if not 200 <= resp.status < 300:
            raise _scrub(route.provider.parse_error(resp), secret)
        return resp

    def _with_signatures(self, ctx: RequestContext, req: ChatRequest) -> ChatRequest:
        if not any(m.tool_calls for m in req.messages):
            return req
        ws = ctx.principal.workspace_id
        messages: list[Message] = []
        for m in req.messages:
            if m.tool_calls and any(c.signature is None for c in m.tool_calls):
                calls = tuple(
                    c
                    if c.signature is not None
                    else replace(c, signature=self._signatures.get(ws, c.id))
                    for c in m.tool_calls
                )
                m = replace(m, tool_calls=calls)
            messages.append(m)
        return replace(req, messages=tuple(messages))

    async def complete(self, ctx: RequestContext, req: ChatRequest) -> ChatResponse:
        route, secret = await self._route(ctx, req.model)
        req = self._with_signatures(ctx, req)
        upstream_req = route.provider.build_request(req, route.target, secret)
        resp = await self._send(ctx, route, upstream_req, secret)
        result = route.provider.parse_response(resp)
        if not result.created:  # providers that report no time (Gemini)
            result = replace(result, created=int(time.time()))
        for call in result.tool_calls:
            if call.signature:
                self._signatures.put(ctx.principal.workspace_id, call.id, call.signature)
        return result

    @asynccontextmanager
    async def stream(
        self, ctx: RequestContext, req: ChatRequest
    ) -> AsyncIterator[AsyncIterator[StreamEvent]]:
        """Open the upstream stream; raises before yielding if the provider refuses it."""
        route, secret = await self._route(ctx, req.model)
        if not route.provider.capabilities.streaming:
            raise UnsupportedFeature(
                f"Provider '{route.target.provider}' cannot stream.", param="stream"
            )
        req = self._with_signatures(ctx, req)
        upstream_req = route.provider.build_request(req, route.target, secret)
        t0 = time.perf_counter()
        async with self._sender.stream(upstream_req, provider=route.target.provider) as up:
            if not 200 <= up.status < 300:
                body = await up.read_all()
                ctx.upstream_seconds += time.perf_counter() - t0
                error = route.provider.parse_error(
                    UpstreamResponse(status=up.status, headers=up.headers, body=body)
                )
                raise _scrub(error, secret)
            ctx.upstream_seconds += time.perf_counter() - t0
            yield self._events(ctx, route, secret, up.chunks())

    async def _events(
        self, ctx: RequestContext, route: Route, secret: Secret, chunks: AsyncIterator[bytes]
    ) -> AsyncIterator[StreamEvent]:
        parser = SSEParser()
        decoder = route.provider.stream_decoder()
        ws = ctx.principal.workspace_id
        try:
            async for chunk in chunks:
                for sse in parser.feed(chunk):
                    for event in decoder.feed(sse):
                        if isinstance(event, ToolCallStart) and event.signature:
                            self._signatures.put(ws, event.id, event.signature)
                        yield event
            for sse in parser.close():
                for event in decoder.feed(sse):
                    yield event
            for event in decoder.close():
                yield event
        except UpstreamError as exc:
            raise _scrub(exc, secret) from None

    async def count_tokens(self, ctx: RequestContext, req: ChatRequest) -> tuple[int, bool]:
        """Input tokens of ``req`` for its model: (count, exact). Exact when the provider counts."""
        route, secret = await self._route(ctx, req.model)
        provider = route.provider
        if not isinstance(provider, TokenCountingProvider):
            return estimate_tokens(req), False
        upstream_req = provider.build_count_tokens_request(req, route.target, secret)
        resp = await self._send(ctx, route, upstream_req, secret)
        return provider.parse_count_tokens(resp), True

    async def hosted_models(self, ctx: RequestContext) -> dict[str, str]:
        """Models of the workspace's keys that have no built-in catalogue (an OpenAI-compatible
        host, Ollama, vLLM), asked of the host itself: ``model id -> provider``.

        Answers are kept for a few minutes per key; a host that cannot answer lists nothing
        (and is logged), so one broken host never breaks the whole listing.
        """
        state = await self._directory.get(ctx.principal.workspace_id)
        found: dict[str, str] = {}
        for prefix, key in model_prefixes(state.provider_keys):
            if registry.spec(key.provider).models:
                continue
            for model in await self._listing(state, key):
                found[f"{prefix}/{model}"] = key.provider
        return found

    async def _listing(self, state: WorkspaceState, key: ProviderKeyRecord) -> list[str]:
        cached = self._listings.get(key.id)
        if cached is not None and time.monotonic() - cached[0] < _LISTING_TTL:
            return cached[1]
        provider = self._resolver.provider(key.provider)
        models: list[str] = []
        if isinstance(provider, ModelListingProvider):
            request = provider.build_models_request(
                self._resolver.target(key, ""), self._directory.secret(state, key)
            )
            try:
                resp = await self._sender.send(request, provider=key.provider)
                if 200 <= resp.status < 300:
                    models = provider.parse_models(resp)
                else:
                    log.warning("%s answered HTTP %s to its model list", key.name, resp.status)
            except GatewayError as exc:
                log.warning("no model list from %s: %s", key.name, exc.message)
        self._listings[key.id] = (time.monotonic(), models)
        return models

    async def embed(self, ctx: RequestContext, req: EmbeddingRequest) -> EmbeddingResponse:
        route, secret = await self._route(ctx, req.model)
        provider = route.provider
        if not provider.capabilities.embeddings or not isinstance(provider, EmbeddingsProvider):
            raise UnsupportedFeature(
                f"Provider '{route.target.provider}' has no embeddings endpoint.", param="model"
            )
        upstream_req = provider.build_embeddings_request(req, route.target, secret)
        resp = await self._send(ctx, route, upstream_req, secret)
        return provider.parse_embeddings_response(resp)


def _scrub(error: GatewayError, secret: Secret) -> GatewayError:
    """Remove the provider key from a provider's error text (some echo it back)."""
    value = secret.reveal()
    if value and len(value) >= 8 and value in error.message:
        error.message = error.message.replace(value, REDACTED)
        error.args = (error.message,)
    return error
