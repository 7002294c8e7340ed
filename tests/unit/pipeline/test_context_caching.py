"""``keyroute.pipeline.context_caching.ContextCaching``: the cache is created through the one
sender when it pays, used afterwards, its cost put on the record; a failed creation changes
nothing; a cache the provider lost is dropped from the request."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from keyroute.caching.explicit import ExplicitCaches
from keyroute.catalogue import builtin
from keyroute.core.chat import ChatRequest, Message, TextPart
from keyroute.core.errors import UpstreamError
from keyroute.core.secret import Secret
from keyroute.pipeline.context_caching import ContextCaching
from keyroute.pipeline.operations import Chat, ChatStream
from keyroute.providers.base import UpstreamRequest
from keyroute.providers.gemini import GeminiProvider
from keyroute.storage.base import CachingSettingsRecord
from keyroute.upstream import UpstreamSender
from keyroute.upstream.function import FunctionTransport, Reply
from tests.unit.pipeline.test_operations import route

pytestmark = pytest.mark.anyio
ON = CachingSettingsRecord(gemini_explicit=True)
SYSTEM = Message(role="system", content=(TextPart(text="rule " * 6000),))
REQUEST = ChatRequest(
    model="gemini/gemini-3.5-flash",
    messages=(SYSTEM, Message(role="user", content=(TextPart(text="hi"),))),
)
GEMINI = route("gemini", "gemini-3.5-flash")


def created(request: UpstreamRequest) -> Reply:
    expires = datetime.now(UTC) + timedelta(seconds=300)
    body = {
        "name": "cachedContents/abc",
        "expireTime": expires.isoformat().replace("+00:00", "Z"),
        "usageMetadata": {"totalTokenCount": 6000},
    }
    return Reply(body=msgspec.json.encode(body))


def caching(handler=created) -> tuple[ContextCaching, FunctionTransport]:  # type: ignore[no-untyped-def]
    transport = FunctionTransport(handler)
    sender = UpstreamSender(mounts={"http://": transport})
    return ContextCaching(sender, ExplicitCaches(builtin())), transport


async def test_created_on_the_second_sighting_then_used(ctx_factory) -> None:  # type: ignore[no-untyped-def]
    cc, transport = caching()
    ctx = ctx_factory()
    first = await cc.prepare(ctx, ON, GEMINI, Chat(REQUEST), Secret("k"))
    assert first.request.context_cache is None and transport.requests == []
    second = await cc.prepare(ctx, ON, GEMINI, ChatStream(REQUEST), Secret("k"))
    ref = second.request.context_cache
    assert ref is not None and ref.name == "cachedContents/abc" and ref.messages == 1
    [call] = transport.requests
    assert call.url.endswith("/v1beta/cachedContents") and call.headers["x-goog-api-key"] == "k"
    assert msgspec.json.decode(call.body)["ttl"] == "300s"
    upkeep = ctx.record.cache_upkeep
    assert upkeep is not None and upkeep.paid_pico == 6000 * 1_500_000 + 6000 * 1_000_000 // 12
    third = await cc.prepare(ctx_factory(), ON, GEMINI, Chat(REQUEST), Secret("k"))
    assert third.request.context_cache == ref and len(transport.requests) == 1


async def test_nothing_without_the_option_or_on_another_provider(ctx_factory) -> None:  # type: ignore[no-untyped-def]
    cc, transport = caching()
    for _ in range(3):
        off = await cc.prepare(
            ctx_factory(), CachingSettingsRecord(), GEMINI, Chat(REQUEST), Secret("k")
        )
        assert off.request.context_cache is None
        other = await cc.prepare(ctx_factory(), ON, route("openai"), Chat(REQUEST), Secret("k"))
        assert other.request.context_cache is None
    assert transport.requests == []


async def test_a_failed_creation_sends_the_request_as_it_came(ctx_factory) -> None:  # type: ignore[no-untyped-def]
    refusal = msgspec.json.encode(
        {
            "error": {
                "code": 400,
                "message": "Cached content is too small.",
                "status": "INVALID_ARGUMENT",
            }
        }
    )
    cc, transport = caching(lambda r: Reply(status=400, body=refusal))
    ctx = ctx_factory()
    for _ in range(3):
        op = await cc.prepare(ctx, ON, GEMINI, Chat(REQUEST), Secret("k"))
        assert op.request.context_cache is None
    assert len(transport.requests) == 1 and ctx.record.cache_upkeep is None


async def test_a_lost_cache_is_dropped(ctx_factory) -> None:  # type: ignore[no-untyped-def]
    cc, _ = caching()
    await cc.prepare(ctx_factory(), ON, GEMINI, Chat(REQUEST), Secret("k"))
    used = await cc.prepare(ctx_factory(), ON, GEMINI, Chat(REQUEST), Secret("k"))
    other = UpstreamError("boom", provider="gemini", upstream_status=500)
    assert cc.lost(used, other) is None
    assert cc.lost(Chat(REQUEST), other) is None
    gone = UpstreamError("CachedContent not found", provider="gemini", upstream_status=403)
    plain = cc.lost(used, gone)
    assert plain is not None and plain.request.context_cache is None
    again = await cc.prepare(ctx_factory(), ON, GEMINI, Chat(REQUEST), Secret("k"))
    assert again.request.context_cache is not None  # forgotten, then created anew


async def test_a_client_leaving_during_the_creation_still_pays_its_estimate(ctx_factory) -> None:  # type: ignore[no-untyped-def]
    never, asked = asyncio.Event(), asyncio.Event()

    async def stall(request: UpstreamRequest) -> Reply:
        asked.set()
        await never.wait()
        return Reply()

    cc, _ = caching(stall)
    ctx = ctx_factory()
    await cc.prepare(ctx, ON, GEMINI, Chat(REQUEST), Secret("k"))
    task = asyncio.ensure_future(cc.prepare(ctx, ON, GEMINI, Chat(REQUEST), Secret("k")))
    await asked.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    upkeep = ctx.record.cache_upkeep
    assert upkeep is not None and upkeep.paid_pico is not None and upkeep.paid_pico > 0
    # its estimate: the prefix's characters over four, created at the input price and stored
    assert upkeep == cc.caches.upkeep("gemini", "gemini-3.5-flash", upkeep_tokens(), 300)


def upkeep_tokens() -> int:
    return (GeminiProvider().cache_prefixes(REQUEST)[0].chars + 3) // 4
