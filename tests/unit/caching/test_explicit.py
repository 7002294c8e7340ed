"""``keyroute.caching.explicit.ExplicitCaches``: a cache is created only when it pays for its
storage, used while it lives, never across workspaces or keys, and forgotten when lost."""

from __future__ import annotations

from datetime import UTC, datetime

from keyroute.caching.explicit import EXPIRY_MARGIN, MAX_SIGHTINGS, ExplicitCaches
from keyroute.catalogue import builtin
from keyroute.core.context_cache import CachePrefix
from keyroute.core.money import Cost

BIG = CachePrefix(messages=1, contents=0, digest="a" * 64, chars=4 * 6000)
BIGGER = CachePrefix(messages=2, contents=1, digest="b" * 64, chars=4 * 6100)
SMALL = CachePrefix(messages=1, contents=0, digest="c" * 64, chars=4 * 1000)


class Clock:
    now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def caches(clock: Clock | None = None) -> ExplicitCaches:
    return ExplicitCaches(builtin(), clock=clock or Clock())


def plan(
    c: ExplicitCaches,
    *prefixes: CachePrefix,
    ws: str = "w",
    key: str = "k",
    model: str = "gemini-3.5-flash",
    ttl: int = 300,
):  # type: ignore[no-untyped-def]
    return c.plan(
        workspace_id=ws,
        key_id=key,
        provider="gemini",
        model=model,
        prefixes=prefixes,
        ttl_seconds=ttl,
    )


def sightings_before_create(model: str, ttl: int) -> int | None:
    c = caches()
    for n in range(1, 20):
        if plan(c, BIG, model=model, ttl=ttl) is not None:
            return n
    return None


def test_a_cache_is_created_once_its_prefix_pays_for_its_storage() -> None:
    # 3.5 Flash: $1.50 input, $0.15 cached, $1.00 storage an hour: for 5 minutes a cache costs
    # 1.50 + 0.0833 a token-million; each read saves 1.35: two sightings pay.
    assert sightings_before_create("gemini-3.5-flash", 300) == 2
    # For an hour: 1.50 + 1.00 = 2.50, still below 2 * 1.35 = 2.70: two sightings pay.
    assert sightings_before_create("gemini-3.5-flash", 3600) == 2
    # 3.1 Pro for an hour: 2.00 + 4.50 = 6.50; a read saves 1.80: four sightings.
    assert sightings_before_create("gemini-3.1-pro-preview", 3600) == 4
    # Implicit caching only (no storage price), or a model the catalogue does not know: never.
    assert sightings_before_create("gemini-4-argon", 300) is None
    assert sightings_before_create("gemini-unknown", 300) is None


def test_a_prefix_below_the_model_minimum_is_never_cached() -> None:
    c = caches()
    assert [plan(c, SMALL) for _ in range(5)] == [None] * 5


def test_created_then_used_until_shortly_before_it_expires() -> None:
    clock = Clock()
    c = caches(clock)
    assert plan(c, BIG) is None
    decision = plan(c, BIG)
    assert decision is not None and decision.action == "create" and decision.prefix == BIG
    assert plan(c, BIG) is None  # under way: nobody else creates it meanwhile
    expires = datetime.fromtimestamp(clock.now + 300, UTC)
    c.created(decision.slot, "cachedContents/x", expires)
    used = plan(c, BIGGER, BIG)  # a longer prefix first: not cached, the shorter one is
    assert used is not None and used.action == "use" and used.name == "cachedContents/x"
    assert used.prefix == BIG
    clock.now += 300 - EXPIRY_MARGIN
    again = plan(c, BIG)
    assert again is not None and again.action == "create"  # about to expire: a successor


def test_never_shared_across_workspaces_or_keys() -> None:
    c = caches()
    plan(c, BIG)
    decision = plan(c, BIG)
    assert decision is not None
    c.created(decision.slot, "cachedContents/x", datetime.fromtimestamp(Clock.now + 300, UTC))
    assert plan(c, BIG, ws="other") is None
    assert plan(c, BIG, key="other") is None
    assert plan(c, BIG, model="gemini-3.5-flash-lite") is None
    used = plan(c, BIG)
    assert used is not None and used.name == "cachedContents/x"


def test_a_lost_cache_is_forgotten_and_a_failed_one_waits_a_lifetime() -> None:
    clock = Clock()
    c = caches(clock)
    plan(c, BIG)
    decision = plan(c, BIG)
    assert decision is not None
    c.created(decision.slot, "cachedContents/x", datetime.fromtimestamp(clock.now + 300, UTC))
    c.forget_name("cachedContents/x")
    c.forget_name("cachedContents/unknown")  # nothing to forget
    again = plan(c, BIG)
    assert again is not None and again.action == "create"  # seen often enough: at once
    c.failed(again.slot)
    assert plan(c, BIG) is None
    clock.now += 301
    plan(c, BIG)
    assert plan(c, BIG) is not None  # one lifetime later it is tried again


def test_upkeep_is_the_creation_at_the_input_price_and_the_storage() -> None:
    c = caches()
    # 6,000 tokens: $1.50 a million to create, $1.00 a million an hour for 5 minutes.
    expected = 6000 * 1_500_000 + 6000 * 1_000_000 * 300 // 3600
    assert c.upkeep("gemini", "gemini-3.5-flash", 6000, 300) == Cost(
        list_pico=expected, paid_pico=expected
    )
    assert c.upkeep("gemini", "gemini-4-argon", 6000, 300) is None


def test_bounded() -> None:
    c = ExplicitCaches(builtin(), clock=Clock(), capacity=1)
    plan(c, BIG)
    plan(c, SMALL)  # pushes BIG out: its first sighting is forgotten
    assert plan(c, BIG) is None


def test_sightings_are_bounded_per_prefix() -> None:
    c = caches()
    for _ in range(MAX_SIGHTINGS * 3):
        plan(c, SMALL)  # never cached, always counted
    [entry] = c._entries.values()
    assert len(entry.sightings) == MAX_SIGHTINGS
