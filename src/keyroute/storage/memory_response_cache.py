"""``MemoryResponseCacheStore``: the response cache's answers in one process, LRU by bytes.

Invariants: the values held never total more than ``max_bytes``; a value larger than
``max_entry_bytes`` is not stored; the least recently used entries go first, expired ones as
soon as they are met. Nothing here awaits, so concurrent requests see a consistent map.
"""

from __future__ import annotations

from collections import OrderedDict


class MemoryResponseCacheStore:
    def __init__(self, *, max_bytes: int, max_entry_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = min(max_entry_bytes, max_bytes)
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str, now: float) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= now:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry[1]

    async def put(self, key: str, value: bytes, expires_at: float) -> None:
        if len(value) > self.max_entry_bytes:
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (expires_at, value)
        self.bytes += len(value)
        while self.bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> None:
        _, value = self._entries.pop(key)
        self.bytes -= len(value)
