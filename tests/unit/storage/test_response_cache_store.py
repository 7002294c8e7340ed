"""``MemoryResponseCacheStore``: LRU by bytes, entry size limit, expiry."""

from __future__ import annotations

import pytest

from keyroute.storage.memory_response_cache import MemoryResponseCacheStore

pytestmark = pytest.mark.anyio


async def test_lru_by_bytes_and_expiry() -> None:
    store = MemoryResponseCacheStore(max_bytes=10, max_entry_bytes=6)
    await store.put("a", b"aaaa", 100)
    await store.put("b", b"bbbb", 100)
    assert await store.get("a", 0) == b"aaaa"  # a is now the most recently used
    await store.put("c", b"cccc", 100)  # 12 bytes: b, the least recently used, goes
    assert await store.get("b", 0) is None and store.bytes == 8 and len(store) == 2
    await store.put("big", b"x" * 7, 100)  # over the entry limit: not kept
    assert await store.get("big", 0) is None
    await store.put("a", b"a", 100)  # a replacement frees the old value
    assert store.bytes == 5
    assert await store.get("c", 100) is None and len(store) == 1  # expired at 100
