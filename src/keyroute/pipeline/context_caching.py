"""``ContextCaching``: explicit provider context caches on the request path.

For a workspace with ``gemini_explicit`` on and an attempt on a provider that has explicit
caches (``providers.base.ContextCacheProvider``), the request's cacheable prefixes are
computed by the adapter, ``caching.explicit.ExplicitCaches`` decides, and this module does the
one thing the decision needs I/O for: it creates the cache through the process's one
``UpstreamSender`` (the adapter builds the call), before the request is sent, so the request
that creates a cache already reads from it. A failed creation never fails the request: it goes
as it came. The cache's own cost (its tokens at the input price, its storage for its lifetime)
goes on the request record (``cache_upkeep``), which the ``Meter`` adds to the request's cost;
while the creation is under way the record carries its estimate, so a client that leaves
meanwhile still pays for a cache the provider may have created.

A request sent through a cache that the provider no longer has (404, or Gemini's 403 for a
cache it cannot find) is sent again without it, once, and the cache is forgotten (``lost``).
"""

from __future__ import annotations

import logging
import time
from typing import TypeVar

from keyroute.caching.breakpoints import amended
from keyroute.caching.explicit import TTL_SECONDS, Decision, ExplicitCaches
from keyroute.core.chat import ContextCacheRef
from keyroute.core.context_cache import CreatedCache
from keyroute.core.errors import GatewayError, UpstreamError
from keyroute.core.money import Cost
from keyroute.core.secret import Secret
from keyroute.pipeline.context import RequestContext
from keyroute.pipeline.decoding import scrub
from keyroute.pipeline.operations import Chat, ChatStream
from keyroute.providers.base import ContextCacheProvider
from keyroute.routing.resolver import Route
from keyroute.storage.base import CachingSettingsRecord
from keyroute.upstream import UpstreamSender

log = logging.getLogger("keyroute.pipeline")
_LOST = frozenset({403, 404})

_ChatOp = TypeVar("_ChatOp", Chat, ChatStream)


class ContextCaching:
    def __init__(self, sender: UpstreamSender, caches: ExplicitCaches) -> None:
        self._sender = sender
        self.caches = caches

    async def prepare(
        self,
        ctx: RequestContext,
        settings: CachingSettingsRecord,
        route: Route,
        op: _ChatOp,
        secret: Secret,
    ) -> _ChatOp:
        """``op`` sent through an explicit cache when one is live or pays to create now."""
        provider = route.provider
        if not settings.gemini_explicit or settings.prompt_cache == "off":
            return op
        if not isinstance(provider, ContextCacheProvider):
            return op
        try:
            prefixes = provider.cache_prefixes(op.request)
        except GatewayError:
            return op  # building the request itself raises it, in the client's terms
        if not prefixes:
            return op
        ttl = TTL_SECONDS[settings.prompt_cache_ttl]
        target = route.target
        decision = self.caches.plan(
            workspace_id=ctx.principal.workspace_id,
            key_id=route.key.id,
            provider=target.provider,
            model=target.model,
            prefixes=prefixes,
            ttl_seconds=ttl,
        )
        if decision is None:
            return op
        name = decision.name
        if decision.action == "create":
            created = await self._create(ctx, route, op, decision, secret, ttl)
            if created is None:
                return op
            name = created.name
        ref = ContextCacheRef(name=name, messages=decision.prefix.messages)
        return op.rewrite(lambda req: amended(req, context_cache=ref))

    def lost(self, op: _ChatOp, error: GatewayError) -> _ChatOp | None:
        """``op`` without its cache when ``error`` says the provider no longer has it (the
        cache is forgotten); None when the error has nothing to do with a cache."""
        ref = op.request.context_cache
        if ref is None or not isinstance(error, UpstreamError):
            return None
        if error.upstream_status not in _LOST:
            return None
        self.caches.forget_name(ref.name)
        return op.rewrite(lambda req: amended(req, context_cache=None))

    async def _create(
        self,
        ctx: RequestContext,
        route: Route,
        op: Chat | ChatStream,
        decision: Decision,
        secret: Secret,
        ttl: int,
    ) -> CreatedCache | None:
        provider = route.provider
        assert isinstance(provider, ContextCacheProvider)  # noqa: S101 - checked by prepare
        target = route.target
        record = ctx.record
        before = record.cache_upkeep
        # Until the provider answers, the request carries the cache's estimated cost: a client
        # that leaves meanwhile may leave a cache behind, and it is paid for all the same.
        estimated = (decision.prefix.chars + 3) // 4
        record.cache_upkeep = _plus(
            before, self.caches.upkeep(target.provider, target.model, estimated, ttl)
        )
        t0 = time.perf_counter()
        try:
            call = provider.build_cache_request(op.request, decision.prefix, target, secret, ttl)
            resp = await self._sender.send(call, provider=target.provider)
            if not 200 <= resp.status < 300:
                raise scrub(route.provider.parse_error(resp), secret)
            created = provider.parse_cache(resp)
        except GatewayError as exc:
            log.info(
                "request %s: no %s context cache (%s); sent without one",
                ctx.request_id,
                target.provider,
                exc.code,
            )
            self.caches.failed(decision.slot)
            record.cache_upkeep = before
            return None
        finally:
            ctx.upstream_seconds += time.perf_counter() - t0
        self.caches.created(decision.slot, created.name, created.expire_time)
        upkeep = self.caches.upkeep(target.provider, target.model, created.tokens, ttl)
        record.cache_upkeep = _plus(before, upkeep)
        return created


def _plus(a: Cost | None, b: Cost | None) -> Cost | None:
    if a is None or b is None:
        return b if a is None else a
    return Cost(list_pico=_sum(a.list_pico, b.list_pico), paid_pico=_sum(a.paid_pico, b.paid_pico))


def _sum(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a + b
