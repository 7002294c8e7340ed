"""Gateway API keys -> ``Principal``, cached in memory, with last-used times batched to storage.

Keys are ``kr-`` + 43 url-safe random characters (256 bits); storage holds only their SHA-256.
Last-used times are written in the background every few seconds, never on the request path.

Invariants of the cache:

- A known key's entry remembers its workspace's revision in the store's ``ChangeFeed`` and is
  reloaded once that revision moves, so a key revoked (or a workspace deleted) by any process
  stops working as soon as the feed sees the change; other workspaces' entries stay.
- Known keys are a bounded LRU; unknown keys are remembered apart, in a smaller bounded LRU, so
  a flood of random keys evicts only other unknown keys, never a working one. An unknown entry
  holds until any configuration change (``ChangeFeed.latest``) moves.
- Concurrent misses on the same key share one storage read (``SingleFlight``).
- A check costs a hash and dictionary reads: no I/O on a hit.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, TypeVar

from keyroute.core.errors import AuthError, KeyPaused
from keyroute.single_flight import SingleFlight
from keyroute.storage.base import Store

KEY_PREFIX = "kr-"
_STALE: Final = -1  # a revision no workspace has: the entry reloads on its next use
log = logging.getLogger("keyroute.principals")


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    """The part of a key that may be shown: ``kr-`` and its next 6 characters."""
    return key[: len(KEY_PREFIX) + 6]


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """Who is calling: one gateway key of one workspace."""

    workspace_id: str
    workspace_name: str
    api_key_id: str
    api_key_name: str
    paused: bool = False  # refused with ``KeyPaused`` until ``keyroute api-key resume``


class PrincipalCache:
    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], datetime] | None = None,
        capacity: int = 100_000,
        unknown_capacity: int = 10_000,
    ) -> None:
        self._store = store
        self._changes = store.changes
        self._clock = clock or (lambda: datetime.now(UTC))
        self._capacity = capacity
        self._unknown_capacity = unknown_capacity
        # key hash -> (principal, its workspace's revision when loaded)
        self._known: OrderedDict[str, tuple[Principal, int]] = OrderedDict()
        # key hash -> ChangeFeed.latest() when found unknown
        self._unknown: OrderedDict[str, int] = OrderedDict()
        self._flights: SingleFlight[str, Principal | None] = SingleFlight()
        self._pending: dict[str, datetime] = {}

    async def authenticate(self, key: str | None) -> Principal:
        if not key:
            raise AuthError("Missing gateway API key. Send it as 'Authorization: Bearer kr-...'.")
        digest = hash_api_key(key)
        hit, principal = self._cached(digest)
        if not hit:
            principal = await self._flights.run(digest, lambda: self._lookup(digest))
        if principal is None:
            raise AuthError("Invalid gateway API key.")
        if principal.paused:
            raise KeyPaused(
                f"Gateway key '{principal.api_key_name}' ({principal.api_key_id}) is paused. "
                "An admin can resume it with `keyroute api-key resume`.",
                workspace_id=principal.workspace_id,
                api_key_id=principal.api_key_id,
            )
        self._pending[principal.api_key_id] = self._clock()
        return principal

    def _cached(self, digest: str) -> tuple[bool, Principal | None]:
        """``(hit, principal)``; on a hit, ``None`` is a key known not to exist."""
        known = self._known.get(digest)
        if known is not None:
            principal, revision = known
            if self._changes.revision(principal.workspace_id) == revision:
                self._known.move_to_end(digest)
                return True, principal
            return False, None
        if self._unknown.get(digest) == self._changes.latest():
            self._unknown.move_to_end(digest)
            return True, None
        return False, None

    async def _lookup(self, digest: str) -> Principal | None:
        latest = self._changes.latest()
        principal = await self._load(digest)
        # A change seen while loading may postdate what was read: keep the entry, but stale.
        settled = self._changes.latest() == latest
        if principal is None:
            self._known.pop(digest, None)
            _remember(self._unknown, digest, latest if settled else _STALE, self._unknown_capacity)
        else:
            self._unknown.pop(digest, None)
            revision = self._changes.revision(principal.workspace_id) if settled else _STALE
            _remember(self._known, digest, (principal, revision), self._capacity)
        return principal

    async def _load(self, digest: str) -> Principal | None:
        record = await self._store.find_api_key(digest)
        if record is None or record.revoked_at is not None:
            return None
        workspace = await self._store.get_workspace(record.workspace_id)
        if workspace is None:
            return None
        return Principal(
            workspace_id=workspace.id,
            workspace_name=workspace.name,
            api_key_id=record.id,
            api_key_name=record.name,
            paused=record.paused_at is not None,
        )

    async def flush(self) -> None:
        """Write the batched last-used times."""
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        await self._store.record_api_key_use(batch)

    async def run_flusher(self, interval: float = 2.0) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.flush()
            except Exception:  # keep flushing after a transient storage error
                log.exception("could not record gateway key use")


_V = TypeVar("_V")


def _remember(cache: OrderedDict[str, _V], key: str, value: _V, capacity: int) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > capacity:
        cache.popitem(last=False)
