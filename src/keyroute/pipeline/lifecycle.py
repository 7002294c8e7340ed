"""``Pipeline.run``: the request lifecycle, and nothing else.

    workspace -> admission -> response cache -> plan -> fit to the model -> prompt-cache
    preparation -> attempts

Each stage lives in its own package behind a narrow protocol; stages never call each other and
only this module sequences them. Usage, cost and the hand-off of the request record happen in
the ``Meter`` (``pipeline/meter.py``) when the frame finishes the request, whatever its outcome.
Slots marked "issue" are where the coming stages go; until then the request passes through.
"""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from typing import TypeVar, overload

from keyroute.catalogue import Catalogue, builtin
from keyroute.catalogue.limits import lower_output_limit, without_reasoning
from keyroute.core.chat import ChatRequest, Message, ToolCall
from keyroute.core.errors import GatewayError
from keyroute.core.record import Attempt
from keyroute.core.response import ChatResponse
from keyroute.core.secret import Secret
from keyroute.core.stream import StreamEvent, ToolCallStart
from keyroute.pipeline.context import RequestContext
from keyroute.pipeline.decoding import DecodedStream, scrub
from keyroute.pipeline.listing import HostedModels, catalogue
from keyroute.pipeline.meter import Meter, MeteredStream, Pricer
from keyroute.pipeline.operations import ChatStream, ListModels, WholeOperation
from keyroute.providers.base import UpstreamRequest, UpstreamResponse
from keyroute.providers.single_call import needs_single_call
from keyroute.routing.resolver import ModelResolver, Route
from keyroute.signatures import SignatureCache, signature_model
from keyroute.storage.base import WorkspaceRecord
from keyroute.upstream import UpstreamSender
from keyroute.workspace_state import WorkspaceDirectory, WorkspaceState

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class ModelList:
    """The models a workspace can reach: ``model id -> owner`` (a provider, or an alias)."""

    workspace: WorkspaceRecord
    models: dict[str, str]


class Pipeline:
    def __init__(
        self,
        *,
        directory: WorkspaceDirectory,
        resolver: ModelResolver,
        sender: UpstreamSender,
        signatures: SignatureCache,
        hosted: HostedModels,
        prices: Pricer | None = None,
        catalogue: Catalogue | None = None,
    ) -> None:
        self._directory = directory
        self._resolver = resolver
        self._sender = sender
        self._signatures = signatures
        self._hosted = hosted
        self._prices = prices
        self._catalogue = catalogue or builtin()

    @overload
    async def run(self, ctx: RequestContext, op: ListModels, meter: Meter) -> ModelList: ...
    @overload
    async def run(self, ctx: RequestContext, op: ChatStream, meter: Meter) -> MeteredStream: ...
    @overload
    async def run(self, ctx: RequestContext, op: WholeOperation[R], meter: Meter) -> R: ...

    async def run(
        self, ctx: RequestContext, op: WholeOperation[R] | ChatStream | ListModels, meter: Meter
    ) -> R | MeteredStream | ModelList:
        """Run one request. A stream comes back open: the caller must ``aclose`` it."""
        state = await self._start(ctx, op)
        if isinstance(op, ListModels):
            return ModelList(
                workspace=state.workspace,
                models={**catalogue(state), **await self._hosted.models(state)},
            )
        # admission (quota, rate limit, budget hold): the plans issue
        # response cache lookup: the caching issue
        route = self._plan(ctx, state, op.model)
        await self._load_signatures(ctx, route, op)
        op = op.rewrite(lambda req: self._with_signatures(ctx, route, req))
        op = op.rewrite(lambda req: self._fit(ctx, route, req))
        # prompt-cache preparation: the caching issue
        # attempts (retries, failover across candidates): the fallback issue
        secret = self._directory.secret(state, route.key)
        if isinstance(op, ChatStream):
            events = await self._open(ctx, route, op, secret)
            return meter.stream(events, estimated_input=op.estimate().input_tokens)
        request = op.build(route, secret)
        if request is None:  # answered without the provider (a local token estimate)
            return op.local(route)
        result = op.parse(route, await self._send(ctx, route, request, secret))
        if isinstance(result, ChatResponse):
            self._capture(ctx, route, result.tool_calls)
        meter.whole(op.usage(result))
        return result

    async def _start(
        self, ctx: RequestContext, op: WholeOperation[R] | ChatStream | ListModels
    ) -> WorkspaceState:
        record = ctx.record
        record.operation = op.kind
        if isinstance(op, ListModels):
            record.requested_model = op.only
        else:
            record.requested_model = op.model
            record.end_user = op.end_user
        workspace_id = ctx.principal.workspace_id
        if self._prices is not None:
            await self._prices.prepare(workspace_id)  # so that settlement prices without waiting
        return await self._directory.get(workspace_id)

    def _plan(self, ctx: RequestContext, state: WorkspaceState, model: str) -> Route:
        """The route for this request (the router chooses among candidates: the routing issue)."""
        route = self._resolver.resolve(state, model)
        ctx.model_id = route.model_id
        record = ctx.record
        record.served_model = route.model_id
        record.provider = route.target.provider
        record.upstream_model = route.target.model
        record.provider_key_id = route.key.id
        return route

    async def _send(
        self, ctx: RequestContext, route: Route, request: UpstreamRequest, secret: Secret
    ) -> UpstreamResponse:
        """Send a whole request; non-2xx raises the provider's typed error, scrubbed."""
        t0 = time.perf_counter()
        status = 0
        error: GatewayError | None = None
        try:
            resp = await self._sender.send(request, provider=route.target.provider)
            status = resp.status
            if not 200 <= status < 300:
                error = scrub(route.provider.parse_error(resp), secret)
                raise error
            return resp
        except GatewayError as exc:
            error = exc
            raise
        finally:
            self._attempted(ctx, route, t0, status, error)

    async def _open(
        self, ctx: RequestContext, route: Route, op: ChatStream, secret: Secret
    ) -> DecodedStream:
        """Open the upstream stream; a refusal (non-2xx) raises before any event."""
        decoder = op.decoder(route)
        request = op.build(route, secret)
        t0 = time.perf_counter()
        status = 0
        error: GatewayError | None = None
        stack = AsyncExitStack()
        try:
            up = await stack.enter_async_context(
                self._sender.stream(request, provider=route.target.provider)
            )
            status = up.status
            if not 200 <= status < 300:
                body = await up.read_all()
                error = scrub(
                    route.provider.parse_error(
                        UpstreamResponse(status=up.status, headers=up.headers, body=body)
                    ),
                    secret,
                )
                raise error
        except BaseException as exc:
            if isinstance(exc, GatewayError):
                error = exc
            await stack.aclose()
            self._attempted(ctx, route, t0, status, error)
            raise
        self._attempted(ctx, route, t0, status, None)
        ws = ctx.principal.workspace_id
        model = signature_model(route.target.provider, route.target.model)

        def capture(event: StreamEvent) -> None:
            if isinstance(event, ToolCallStart) and event.signature:
                self._signatures.put(ws, event.id, model, event.signature)

        return DecodedStream(
            stack=stack, chunks=up.chunks(), decoder=decoder, secret=secret, on_event=capture
        )

    def _capture(self, ctx: RequestContext, route: Route, calls: tuple[ToolCall, ...]) -> None:
        ws = ctx.principal.workspace_id
        model = signature_model(route.target.provider, route.target.model)
        for call in calls:
            if call.signature:
                self._signatures.put(ws, call.id, model, call.signature)

    @staticmethod
    def _attempted(
        ctx: RequestContext, route: Route, t0: float, status: int, error: GatewayError | None
    ) -> None:
        elapsed = time.perf_counter() - t0
        ctx.upstream_seconds += elapsed
        ctx.record.attempts.append(
            Attempt(
                provider=route.target.provider,
                model=route.model_id,
                provider_key_id=route.key.id,
                status=status,
                error_code=error.code if error is not None else None,
                duration_ms=elapsed * 1000.0,
            )
        )

    def _fit(self, ctx: RequestContext, route: Route, req: ChatRequest) -> ChatRequest:
        """The request fitted to the routed model (``catalogue.limits``, ``single_call``); what
        keyroute changes for the client is said in a response header."""
        if needs_single_call(req, route.provider):
            ctx.response_headers.append(("x-keyroute-parallel-tool-calls", "first-only"))
        entry = self._catalogue.get(route.target.provider, route.target.model)
        fitted = lower_output_limit(req, entry.max_output_tokens if entry else None)
        if fitted is not req:
            lowered = f"{req.max_tokens} -> {fitted.max_tokens}"
            ctx.response_headers.append(("x-keyroute-max-tokens-lowered", lowered))
        if entry is not None and not entry.capabilities.reasoning:
            plain = without_reasoning(fitted)
            if plain is not fitted:
                ctx.response_headers.append(
                    ("x-keyroute-reasoning-ignored", "model-does-not-reason")
                )
            fitted = plain
        return fitted

    async def _load_signatures(
        self, ctx: RequestContext, route: Route, op: WholeOperation[R] | ChatStream
    ) -> None:
        """Bring the signatures this request replays into the local cache: a storage read only
        for calls this process has not seen (turn 2 on another worker, or after a restart)."""
        unsigned: list[str] = []
        op.rewrite(lambda req: _collect_unsigned(req, unsigned))
        if unsigned:
            model = signature_model(route.target.provider, route.target.model)
            await self._signatures.load(ctx.principal.workspace_id, model, unsigned)

    def _with_signatures(self, ctx: RequestContext, route: Route, req: ChatRequest) -> ChatRequest:
        """Put back the tool-call signatures a client dropped (see ``signatures.py``), only
        those recorded for the model this request goes to."""
        if not any(m.tool_calls for m in req.messages):
            return req
        ws = ctx.principal.workspace_id
        model = signature_model(route.target.provider, route.target.model)
        messages: list[Message] = []
        for m in req.messages:
            if m.tool_calls and any(c.signature is None for c in m.tool_calls):
                calls = tuple(
                    c
                    if c.signature is not None
                    else replace(c, signature=self._signatures.get(ws, c.id, model))
                    for c in m.tool_calls
                )
                m = replace(m, tool_calls=calls)
            messages.append(m)
        return replace(req, messages=tuple(messages))


def _collect_unsigned(req: ChatRequest, into: list[str]) -> ChatRequest:
    """Note the ids of the replayed tool calls that carry no signature; ``req`` unchanged."""
    for m in req.messages:
        into.extend(c.id for c in m.tool_calls if c.signature is None)
    return req
