"""Gateway API keys -> ``Principal``, cached in memory, with last-used times batched to storage.

Keys are ``kr-`` + 43 url-safe random characters (256 bits); storage holds only their SHA-256.
The cache is dropped whenever ``Store.revision()`` moves, so a key created or revoked by any
process (the CLI, another worker) takes effect on the next request. Last-used times are written
in the background every few seconds, never on the request path.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from keyroute.core.errors import AuthError
from keyroute.storage.base import Store

KEY_PREFIX = "kr-"
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


class PrincipalCache:
    def __init__(self, store: Store, *, clock: Callable[[], datetime] | None = None) -> None:
        self._store = store
        self._clock = clock or (lambda: datetime.now(UTC))
        self._known: dict[str, Principal | None] = {}
        self._revision = store.revision()
        self._pending: dict[str, datetime] = {}

    def _check_revision(self) -> None:
        revision = self._store.revision()
        if revision != self._revision:
            self._revision = revision
            self._known.clear()

    async def authenticate(self, key: str | None) -> Principal:
        if not key:
            raise AuthError("Missing gateway API key. Send it as 'Authorization: Bearer kr-...'.")
        self._check_revision()
        digest = hash_api_key(key)
        if digest in self._known:
            principal = self._known[digest]
        else:
            principal = await self._load(digest)
            if len(self._known) > 100_000:
                self._known.clear()
            self._known[digest] = principal
        if principal is None:
            raise AuthError("Invalid gateway API key.")
        self._pending[principal.api_key_id] = self._clock()
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
