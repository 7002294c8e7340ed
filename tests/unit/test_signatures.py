"""``keyroute.signatures.SignatureCache``: bounded, per-workspace tool-call signatures."""

from __future__ import annotations

from keyroute.signatures import SignatureCache


def filled(capacity: int, *calls: str) -> SignatureCache:
    cache = SignatureCache(capacity)
    for call in calls:
        cache.put("ws", call, f"sig-{call}")
    return cache


def kept(cache: SignatureCache, *calls: str) -> list[str]:
    return [c for c in calls if cache.get("ws", c) is not None]


def test_put_and_get() -> None:
    cache = filled(10, "a")
    assert cache.get("ws", "a") == "sig-a"
    assert cache.get("ws", "b") is None
    assert len(cache) == 1


def test_workspaces_do_not_share_entries() -> None:
    cache = filled(10, "a")
    assert cache.get("other", "a") is None
    cache.put("other", "a", "theirs")
    assert (cache.get("ws", "a"), cache.get("other", "a")) == ("sig-a", "theirs")
    assert len(cache) == 2


def test_capacity_drops_the_oldest_first() -> None:
    cache = filled(2, "a", "b", "c")
    assert len(cache) == 2
    assert kept(cache, "a", "b", "c") == ["b", "c"]


def test_put_again_refreshes_and_replaces() -> None:
    cache = filled(2, "a", "b")
    cache.put("ws", "a", "new")
    cache.put("ws", "c", "sig-c")
    assert kept(cache, "a", "b", "c") == ["a", "c"]
    assert cache.get("ws", "a") == "new"


def test_capacity_one() -> None:
    cache = filled(1, "a", "b")
    assert kept(cache, "a", "b") == ["b"]


def test_default_capacity_is_large() -> None:
    cache = SignatureCache()
    for i in range(1000):
        cache.put("ws", str(i), "s")
    assert len(cache) == 1000


def test_reading_counts_as_use() -> None:
    # The module docstring promises "least recently used entries go first": a signature that was
    # just replayed should outlive one that was written later but never read.
    cache = filled(2, "a", "b")
    assert cache.get("ws", "a") == "sig-a"
    cache.put("ws", "c", "sig-c")
    assert kept(cache, "a", "b", "c") == ["a", "c"]
