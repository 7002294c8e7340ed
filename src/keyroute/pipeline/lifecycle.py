"""``Pipeline.run``: the request lifecycle, and nothing else.

    workspace -> plan (candidates) -> admission -> response cache -> attempts, each one:
    signatures -> fit to the model -> prompt-cache preparation -> explicit context cache
    (``pipeline.context_caching``) -> upstream

Each stage lives in its own package or module behind a narrow protocol; stages never call each
other and only this module sequences them. The attempt loop (``resilience.attempts``) walks
the plan's candidates: retries, failover, circuit breakers; a stream fails over until its first
content event. Usage, cost and the hand-off of the request record happen in the ``Meter``
(``pipeline/meter.py``) when the frame finishes the request, whatever its outcome; admission's
hold on the ledger settles there too. Admission comes after the plan because a budget reserves
the worst case of the candidates it may be sent to, and a ``downgrade`` budget re-plans with the
workspace's cheaper model. Slots marked "issue" are where the coming stages go; until then the
request passes through.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar, overload

from keyroute.admission.stage import Admission, Demand
from keyroute.caching.explicit import ExplicitCaches
from keyroute.caching.prompt import PromptCaching
from keyroute.caching.response_cache import Lookup, ReplayStream, ResponseCache, cache_directive
from keyroute.caching.status import HEADER as CACHE_HEADER
from keyroute.caching.status import cache_status
from keyroute.caching.warmth import WarmPrefixes
from keyroute.catalogue import Catalogue, builtin
from keyroute.catalogue.limits import lower_output_limit, without_reasoning
from keyroute.core.chat import ChatRequest
from keyroute.core.errors import GatewayError, InvalidRequest, UpstreamError
from keyroute.core.response import ChatResponse, Usage
from keyroute.pipeline.context import RequestContext
from keyroute.pipeline.context_caching import ContextCaching
from keyroute.pipeline.decoding import PrefetchedStream, first_content
from keyroute.pipeline.exchange import Exchange
from keyroute.pipeline.fallbacks import Fallbacks, take_models
from keyroute.pipeline.listing import HostedModels, catalogue
from keyroute.pipeline.meter import EventStream, Meter, MeteredStream, Pricer
from keyroute.pipeline.operations import (
    Chat,
    ChatStream,
    CountTokens,
    Estimate,
    ListModels,
    WholeOperation,
)
from keyroute.pipeline.signing import Signing
from keyroute.providers.single_call import needs_single_call
from keyroute.resilience.attempts import AttemptPolicy, run_attempts
from keyroute.resilience.breakers import HealthBoard
from keyroute.resilience.budget import RetryBudget
from keyroute.resilience.classify import REFUSAL, Decision
from keyroute.routing.policy import routed_models
from keyroute.routing.resolver import ModelResolver, Route
from keyroute.routing.selection import AutoRouter
from keyroute.signatures import SignatureCache
from keyroute.storage.base import WorkspaceRecord
from keyroute.upstream import UpstreamSender
from keyroute.workspace_state import WorkspaceDirectory, WorkspaceState

R = TypeVar("R")
T = TypeVar("T")


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
        admission: Admission | None = None,
        catalogue: Catalogue | None = None,
        health: HealthBoard | None = None,
        attempts: AttemptPolicy | None = None,
        router: AutoRouter | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        retry_budget: RetryBudget | None = None,
        answers: ResponseCache | None = None,
        warmth: WarmPrefixes | None = None,
        explicit_caches: ExplicitCaches | None = None,
    ) -> None:
        self._directory = directory
        self._resolver = resolver
        self._exchange = Exchange(sender)
        self._signing = Signing(signatures)
        self._hosted = hosted
        self._prices = prices
        self._admission = admission
        self._catalogue = catalogue or builtin()
        self._prompt_cache = PromptCaching(self._catalogue)
        self._context_caching = ContextCaching(
            sender, explicit_caches or ExplicitCaches(self._catalogue)
        )
        self._answers = answers
        self.warmth = warmth
        self.health = health or HealthBoard()
        self._attempts = attempts or AttemptPolicy()
        self._router = router
        self._sleep = sleep
        self._retry_budget = retry_budget
        self._fallbacks = Fallbacks(resolver, self._catalogue, rand=rand)

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
            routed = (
                routed_models(state.routing, (k.provider for k in state.provider_keys))
                if self._router is not None
                else {}
            )
            return ModelList(
                workspace=state.workspace,
                models={**routed, **catalogue(state), **await self._hosted.models(state)},
            )
        if isinstance(op, Chat | ChatStream) and "models" in op.request.passthrough:
            op = _own_chain(ctx, op)
        # admission (quota, rate limit, budget hold) for the plan's candidates
        plan = self._plan(ctx, state, op, state.alert_downgrade)
        routes = await self._admit(ctx, state, op, meter, plan)
        lookup = await self._lookup(ctx, state, op)
        if lookup is not None and lookup.answer is not None:
            return self._from_cache(ctx, op, lookup.answer, meter)  # type: ignore[no-any-return]
        answers = self._answers if lookup is not None else None
        try:
            if isinstance(op, ChatStream):
                stream_op = op
                final = routes[-1]
                events: EventStream = await self._walk(
                    ctx,
                    routes,
                    lambda route: self._stream(ctx, state, route, stream_op, route is final),
                )
                if answers is not None and lookup is not None:
                    events = answers.recording(lookup, events)  # which now ends the lookup
                    answers = None
                request = op.request
                meter.late_usage = lambda usage: self._note_warmth(ctx, usage, request)
                return meter.stream(events, estimated_input=op.estimate().input_tokens)
            whole_op = op
            last = routes[-1]
            result = await self._walk(
                ctx, routes, lambda route: self._whole(ctx, state, route, whole_op, route is last)
            )
            usage = op.usage(result)
            meter.whole(usage)
            if isinstance(result, ChatResponse) and usage is not None and isinstance(op, Chat):
                self._tell_cache(ctx, usage, op.request)
            if answers is not None and lookup is not None and isinstance(result, ChatResponse):
                await answers.remember(lookup, result)
            return result
        finally:
            if answers is not None:
                answers.done(lookup)

    async def _lookup(
        self, ctx: RequestContext, state: WorkspaceState, op: WholeOperation[R] | ChatStream
    ) -> Lookup | None:
        """The response cache's look-up, for a chat request it may answer."""
        if self._answers is None or not isinstance(op, Chat | ChatStream):
            return None
        directive = cache_directive(ctx.cache_control)
        return await self._answers.lookup(state.workspace.id, state.caching, op.request, directive)

    def _from_cache(
        self,
        ctx: RequestContext,
        op: WholeOperation[R] | ChatStream,
        answer: ChatResponse,
        meter: Meter,
    ) -> Any:
        """A stored answer, whole or replayed as a stream: nothing sent, nothing billed."""
        ctx.model_id = op.model
        ctx.record.served_model = op.model
        ctx.record.cache = "response-hit"
        ctx.response_headers.append((CACHE_HEADER, "response-hit"))
        if isinstance(op, ChatStream):
            return meter.stream(ReplayStream(answer), estimated_input=0, free=True)
        meter.whole(Usage())
        return answer

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
        state = await self._directory.get(workspace_id)
        record.body_capture = state.body_capture  # the workspace logs bodies (``audit.bodies``)
        return state

    def _plan(
        self,
        ctx: RequestContext,
        state: WorkspaceState,
        op: WholeOperation[Any] | ChatStream,
        forced: str | None = None,
    ) -> list[Route]:
        """The candidates for this request, in order: for ``auto``, as the router ranks them
        (``routing.selection``); otherwise the model and its other keys. The fallback chain
        follows (the request's own, else the workspace's policy: ``pipeline.fallbacks``); each
        candidate gets the workspace's timeouts, the keys of one model are balanced by weight,
        and those too small for the request are left out. ``forced``: an alert's downgrade in
        force (``WorkspaceState.alert_downgrade``), whose model serves a chat request instead."""
        req = op.request if isinstance(op, Chat | ChatStream | CountTokens) else None
        model = op.model
        if forced is not None and forced != model and isinstance(op, Chat | ChatStream):
            ctx.downgrade_to = model = forced  # ``auto`` keeps its candidates up to it
            ctx.response_headers.append(("x-keyroute-downgraded-from", op.model))
        fallbacks = self._fallbacks.chain(ctx, state, model, req)
        router = self._router
        if router is not None and router.routes(op.model):
            if not isinstance(req, ChatRequest):
                raise InvalidRequest("'auto' routes chat requests only.", param="model")
            plan = router.plan(
                state,
                op.model,
                req,
                fallbacks=fallbacks,
                circuits=self.health,
                downgrade_to=ctx.downgrade_to,
            )
            ctx.record.route = plan.decision.record()
            ctx.response_headers.append(("x-keyroute-route", plan.decision.header()))
            routes = plan.routes
        else:
            routes = self._resolver.candidates(state, model, fallbacks)
        routes = self._fallbacks.shape(state, routes, req)
        self._serve(ctx, routes[0])
        return routes

    async def _admit(
        self,
        ctx: RequestContext,
        state: WorkspaceState,
        op: WholeOperation[Any] | ChatStream,
        meter: Meter,
        routes: list[Route],
    ) -> list[Route]:
        """Admission: the request's worst case reserved against the workspace's quota, rate
        limits and budgets, settled by the meter; the routes to try (re-planned when a budget
        downgrades the request)."""
        limits = state.limits
        ctx.limits_told = True
        forced = ctx.downgrade_to  # an alert's downgrade in force, applied by the plan
        if self._admission is None or limits.unlimited:
            return routes
        record = ctx.record
        principal = ctx.principal
        estimate = op.estimate()
        plans = {op.model: routes}

        async def downgrade(model: str) -> int | None:
            ctx.downgrade_to = model
            if self._router is not None and self._router.routes(op.model):
                # ``auto``: the router keeps its candidates up to the downgrade model
                headers = ctx.response_headers
                headers[:] = [h for h in headers if h[0] != "x-keyroute-route"]
                plans[model] = self._plan(ctx, state, op)
            else:
                plans[model] = self._resolver.candidates(state, model, ctx.fallbacks)
            return self._worst_case(principal.workspace_id, plans[model], estimate)

        demand = Demand(
            workspace_id=principal.workspace_id,
            key_id=principal.api_key_id,
            user=record.end_user,
            tokens=estimate.input_tokens,
            cost=self._worst_case(principal.workspace_id, routes, estimate)
            if limits.budgets
            else None,
        )
        try:
            ticket = await self._admission.admit(limits, demand, ctx.response_headers, downgrade)
        except GatewayError as refused:
            record.admission = refused.code
            raise
        meter.settlement = ticket.settle
        if ticket.downgraded_to is None:
            record.admission = "admitted" if forced is None else "downgraded"
            return routes
        record.admission = "downgraded"
        if forced is None:
            ctx.response_headers.append(("x-keyroute-downgraded-from", op.model))
        ctx.model_id = ""
        routes = plans[ticket.downgraded_to]
        self._serve(ctx, routes[0])
        return routes

    async def limit_headers(self, workspace_id: str, key_id: str) -> list[tuple[str, str]]:
        """The quota and rate-limit headers of an answer that admission did not see (an error
        before it, a model list, feedback): from the workspace's cached state and this
        process's ledger, with no database round trip on a warm cache."""
        if self._admission is None:
            return []
        limits = (await self._directory.get(workspace_id)).limits
        return await self._admission.state_headers(limits, workspace_id, key_id)

    def _worst_case(self, workspace_id: str, routes: list[Route], estimate: Estimate) -> int | None:
        """The most the request may cost on any of ``routes``: the input estimate plus the most
        output it allows (the model's maximum when it names none), at the workspace's price;
        None when no route has a known price."""
        if self._prices is None:
            return None
        worst: int | None = None
        for route in routes:
            target = route.target
            entry = self._catalogue.get(target.provider, target.model)
            ceiling = entry.max_output_tokens if entry is not None else None
            output = estimate.max_output_tokens
            if output is None or (ceiling is not None and output > ceiling):
                output = ceiling
            if output is None:
                continue  # neither the request nor the catalogue bounds its output
            usage = Usage(input_tokens=estimate.input_tokens, output_tokens=output)
            paid = self._prices.cost(workspace_id, target.provider, target.model, usage).paid_pico
            if paid is not None and (worst is None or paid > worst):
                worst = paid
        return worst

    async def _walk(
        self, ctx: RequestContext, routes: list[Route], call: Callable[[Route], Awaitable[T]]
    ) -> T:
        """The attempts: ``call`` over the candidates, as ``resilience.attempts`` decides."""

        def failed(route: Route, error: GatewayError, decision: Decision) -> None:
            attempts = ctx.record.attempts
            if attempts and attempts[-1].provider_key_id == route.key.id:
                attempts[-1] = replace(
                    attempts[-1], error_code=error.code, error_class=decision.value
                )

        try:
            return await run_attempts(
                routes,
                call,
                policy=self._attempts,
                board=self.health,
                sleep=self._sleep,
                on_failure=failed,
                budget=self._retry_budget,
            )
        finally:
            ctx.response_headers.append(("x-keyroute-attempts", str(len(ctx.record.attempts))))

    async def _whole(
        self,
        ctx: RequestContext,
        state: WorkspaceState,
        route: Route,
        op: WholeOperation[R],
        last: bool = True,
    ) -> R:
        """One attempt of a whole operation on ``route``; a content refusal fails over when
        the fallback policy says so and another candidate follows."""
        op = await self._prepare(ctx, state, route, op)
        secret = self._directory.secret(state, route.key)
        if isinstance(op, Chat):
            op = await self._context_caching.prepare(ctx, state.caching, route, op, secret)
        request = op.build(route, secret)
        if request is None:  # answered without the provider (a local token estimate)
            self._serve(ctx, route)
            return op.local(route)
        try:
            answer = await self._exchange.send(ctx, route, request, secret)
        except GatewayError as error:
            plain = self._context_caching.lost(op, error) if isinstance(op, Chat) else None
            if plain is None:
                raise
            op = plain  # the provider lost its cache: once without it
            answer = await self._exchange.send(ctx, route, plain.build(route, secret), secret)
        result = op.parse(route, answer)
        if isinstance(result, ChatResponse):
            if ctx.refusal_fallback and not last and result.finish_reason == "refusal":
                raise UpstreamError(
                    f"{route.model_id} refused to answer; the fallback policy tries the next "
                    "model.",
                    provider=route.target.provider,
                    upstream_status=200,
                    upstream_code=REFUSAL,
                )
            self._signing.capture(ctx, route, result.tool_calls)
        self._serve(ctx, route)
        return result

    async def _stream(
        self,
        ctx: RequestContext,
        state: WorkspaceState,
        route: Route,
        op: ChatStream,
        last: bool = True,
    ) -> PrefetchedStream:
        """One attempt of a stream on ``route``: open, and read up to its first content, so a
        failure before anything reached the client can still fail over (a content refusal
        too, when the fallback policy says so and another candidate follows)."""
        op = await self._prepare(ctx, state, route, op)
        secret = self._directory.secret(state, route.key)
        op = await self._context_caching.prepare(ctx, state.caching, route, op, secret)
        decoder = op.decoder(route)
        request = op.build(route, secret)
        on_event = self._signing.on_event(ctx, route)
        try:
            events = await self._exchange.open(ctx, route, request, decoder, secret, on_event)
        except GatewayError as error:
            plain = self._context_caching.lost(op, error)
            if plain is None:
                raise
            op = plain  # the provider lost its cache: once without it
            request = op.build(route, secret)
            events = await self._exchange.open(
                ctx, route, request, op.decoder(route), secret, on_event
            )
        prefetched = await first_content(events)
        if ctx.refusal_fallback and not last and prefetched.refused():
            await prefetched.aclose()
            raise UpstreamError(
                f"{route.model_id} refused to answer; the fallback policy tries the next model.",
                provider=route.target.provider,
                upstream_status=200,
                upstream_code=REFUSAL,
            )
        self._serve(ctx, route)
        usage = prefetched.usage()  # known before the content when the provider says it first
        if usage is not None:
            self._tell_cache(ctx, usage, op.request)
        return prefetched

    async def _prepare(
        self, ctx: RequestContext, state: WorkspaceState, route: Route, op: _Op
    ) -> _Op:
        """The request as ``route``'s model takes it: signatures, fitted to the model, then
        prepared for the provider's prompt cache."""
        op = await self._signing.prepare(ctx, route, op)
        target = route.target
        return op.rewrite(  # type: ignore[return-value]
            lambda req: self._prompt_cache.prepare(
                self._fit(ctx, route, req),
                style=route.provider.capabilities.prompt_cache,
                provider=target.provider,
                model=target.model,
                workspace_id=state.workspace.id,
                settings=state.caching,
            )
        )

    def _tell_cache(self, ctx: RequestContext, usage: Usage, request: ChatRequest) -> None:
        """How the answer used the provider's prompt cache: the header, the record, and the
        warm-prefix tracker (which models hold this conversation's prefix)."""
        status = cache_status(usage, created=ctx.record.cache_upkeep is not None)
        record = ctx.record
        record.cache = status
        ctx.response_headers.append((CACHE_HEADER, status))
        self._note_warmth(ctx, usage, request)

    def _note_warmth(self, ctx: RequestContext, usage: Usage, request: ChatRequest) -> None:
        """Tell the warm-prefix tracker how the answer used its model's prompt cache (the
        router reads it for the conversation's next turn)."""
        record = ctx.record
        if self.warmth is not None and record.provider and record.upstream_model:
            workspace = ctx.principal.workspace_id
            self.warmth.note(workspace, record.provider, record.upstream_model, request, usage)

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

    @staticmethod
    def _serve(ctx: RequestContext, route: Route) -> None:
        """``route`` answers this request (or, before the attempts, is the first to try)."""
        first = ctx.model_id
        ctx.model_id = route.model_id
        record = ctx.record
        if first and first != route.model_id:
            ctx.response_headers.append(("x-keyroute-fallback-from", first))
        record.served_model = route.model_id
        record.provider = route.target.provider
        record.upstream_model = route.target.model
        record.provider_key_id = route.key.id


_Op = TypeVar("_Op", bound=WholeOperation[Any] | ChatStream)
_ChatOp = TypeVar("_ChatOp", Chat, ChatStream)


def _own_chain(ctx: RequestContext, op: _ChatOp) -> _ChatOp:
    """``op`` without its body's ``models``, which become the request's fallbacks."""
    req, models = take_models(op.request)
    if models is None:
        return op
    if ctx.fallbacks:
        raise InvalidRequest(
            "Name the fallback models either in the body's 'models' or in the "
            "x-keyroute-fallback header, not both.",
            param="models",
        )
    ctx.fallbacks = models
    return type(op)(req)
