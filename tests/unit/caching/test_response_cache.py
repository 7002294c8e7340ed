"""``keyroute.caching.response_cache``: who may use the cache, what is kept, identical requests
arriving together, and the client's Cache-Control."""

from __future__ import annotations

import asyncio

import pytest

from keyroute.caching.response_cache import ResponseCache, cache_directive
from keyroute.core.chat import ChatRequest, Message, TextPart
from keyroute.core.response import ChatResponse
from keyroute.storage.base import CachingSettingsRecord
from keyroute.storage.memory_response_cache import MemoryResponseCacheStore

pytestmark = pytest.mark.anyio

ON = CachingSettingsRecord(response_cache=True, response_cache_ttl_seconds=60)
REQ = ChatRequest(
    model="m", messages=(Message(role="user", content=(TextPart(text="q"),)),), temperature=0
)
ANSWER = ChatResponse(id="r1", model="m", created=1, text="a", finish_reason="stop")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def cache(clock: Clock | None = None) -> ResponseCache:
    store = MemoryResponseCacheStore(max_bytes=10_000, max_entry_bytes=5_000)
    return ResponseCache(store, clock or Clock(), wait_seconds=5)


async def test_off_by_default_and_for_sampled_requests() -> None:
    c = cache()
    assert await c.lookup("w", CachingSettingsRecord(), REQ, None) is None
    sampled = ChatRequest(model="m", messages=REQ.messages, temperature=0.7)
    assert await c.lookup("w", ON, sampled, None) is None
    allowed = CachingSettingsRecord(response_cache=True, response_cache_nondeterministic=True)
    assert await c.lookup("w", allowed, sampled, None) is not None


async def test_a_remembered_answer_is_served_until_its_ttl() -> None:
    clock = Clock()
    c = cache(clock)
    first = await c.lookup("w", ON, REQ, None)
    assert first is not None and first.answer is None and first.leader
    await c.remember(first, ANSWER)
    c.done(first)
    hit = await c.lookup("w", ON, REQ, None)
    assert hit is not None and hit.answer == ANSWER
    other = await c.lookup("w2", ON, REQ, None)
    assert other is not None and other.answer is None  # never across workspaces
    clock.now += 61
    expired = await c.lookup("w", ON, REQ, None)
    assert expired is not None and expired.answer is None


async def test_unfinished_answers_are_not_kept() -> None:
    c = cache()
    for ending in ("content_filter", "refusal", "pause"):
        lookup = await c.lookup("w", ON, REQ, None)
        assert lookup is not None
        await c.remember(
            lookup, ChatResponse(id="x", model="m", created=1, text="", finish_reason=ending)
        )  # type: ignore[arg-type]
        c.done(lookup)
        again = await c.lookup("w", ON, REQ, None)
        assert again is not None and again.answer is None
        c.done(again)


async def test_cache_control_from_the_client() -> None:
    c = cache()
    lookup = await c.lookup("w", ON, REQ, None)
    assert lookup is not None
    await c.remember(lookup, ANSWER)
    c.done(lookup)
    fresh = await c.lookup("w", ON, REQ, "no-cache")
    assert fresh is not None and fresh.answer is None and fresh.store
    assert await c.lookup("w", ON, REQ, "no-store") is None


async def test_identical_requests_wait_for_the_first_answer() -> None:
    c = cache()
    leader = await c.lookup("w", ON, REQ, None)
    assert leader is not None and leader.leader
    follower = asyncio.ensure_future(c.lookup("w", ON, REQ, None))
    await asyncio.sleep(0)
    assert not follower.done()
    await c.remember(leader, ANSWER)
    c.done(leader)
    served = await follower
    assert served is not None and served.answer == ANSWER and not served.leader


async def test_a_failed_leader_lets_the_waiters_go_upstream() -> None:
    c = cache()
    leader = await c.lookup("w", ON, REQ, None)
    follower = asyncio.ensure_future(c.lookup("w", ON, REQ, None))
    await asyncio.sleep(0)
    c.done(leader)
    after = await follower
    assert after is not None and after.answer is None and after.leader


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("no-cache", "no-cache"),
        ("No-Cache, max-age=10", "no-cache"),
        ("max-age=0", "no-cache"),
        ("no-store", "no-store"),
        ("private", None),
    ],
)
def test_cache_directive(header: str | None, expected: str | None) -> None:
    assert cache_directive(header) == expected
