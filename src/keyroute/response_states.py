"""Responses API conversation state: what ``previous_response_id`` and ``GET /v1/responses/{id}``
read, kept per workspace so a follow-up turn works whichever provider served the one before.

A state is one JSON object per response: the ``Response`` as the client got it, this turn's
input items, and the conversation items before them (``history``), all in the Responses item
shapes (provider-neutral: ``wire.openai_responses.items`` replays them to any provider).

Invariants:

- Keyed by (workspace, response id): no workspace ever reads, lists or deletes another's turn.
- Sealed at rest with the workspace's data key, bound to the workspace and the response id
  (a row moved to another id or workspace does not decrypt and is treated as absent).
- The request path does not wait on storage for a write: ``save`` is synchronous (a local LRU
  and a queue); a background writer (``run_writer``) seals and stores queued turns in batches.
  A read is answered from the LRU first (read-your-writes within a process). Across processes
  (``serve --workers N``) a turn may still be queued in the process that made it: ``get`` with
  ``wait`` (for an id minted moments ago) polls storage for up to ``fresh_wait`` seconds before
  answering "not found".
- A turn past its retention is never served, and the writer prunes it from storage.
- ``delete`` removes the turn from the LRU, the queue and storage.
- Without a store (``store=None``) the states live in one process's LRU only (unit tests).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from keyroute.core.errors import GatewayError
from keyroute.storage.base import ResponseStateRecord, ResponseStateStore, WorkspaceRecord
from keyroute.vault.keystore import KeyVault

log = logging.getLogger("keyroute.response_states")

_Key = tuple[str, str]  # (workspace id, response id)
State = dict[str, Any]


class ResponseStates:
    def __init__(
        self,
        capacity: int = 10_000,
        *,
        store: ResponseStateStore | None = None,
        vault: KeyVault | None = None,
        workspace: Callable[[str], Awaitable[WorkspaceRecord]] | None = None,
        retention: timedelta = timedelta(days=30),
        clock: Callable[[], datetime] | None = None,
        fresh_wait: float = 3.0,
        poll: float = 0.05,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[_Key, tuple[State, datetime]] = OrderedDict()
        self._store = store
        self._vault = vault
        self._workspace = workspace
        self.retention = retention
        self._clock = clock or (lambda: datetime.now(UTC))
        self._fresh_wait = fresh_wait
        self._poll = poll
        self._sleep = sleep
        self._queue: list[tuple[_Key, State, datetime, datetime]] = []
        self._queued = asyncio.Event()

    def save(
        self,
        workspace_id: str,
        response_id: str,
        state: State,
        retention: timedelta | None = None,
    ) -> None:
        """Keep ``state`` now (this process) and queue it for storage, for ``retention`` (the
        workspace's own; ``None``: the default)."""
        now = self._clock()
        key = (workspace_id, response_id)
        expires_at = now + (retention or self.retention)
        self._remember(key, state, expires_at)
        if self._store is not None:
            self._queue.append((key, state, now, expires_at))
            self._queued.set()

    async def get(self, workspace_id: str, response_id: str, *, wait: bool = False) -> State | None:
        """The stored state, or ``None`` (never stored, deleted, expired or unreadable)."""
        key = (workspace_id, response_id)
        now = self._clock()
        cached = self._entries.get(key)
        if cached is not None:
            if cached[1] > now:
                self._entries.move_to_end(key)
                return cached[0]
            del self._entries[key]
            return None
        if self._store is None:
            return None
        waited = 0.0
        while True:
            record = await self._store.get_response(workspace_id, response_id)
            if record is not None or not wait or waited >= self._fresh_wait:
                break
            await self._sleep(self._poll)
            waited += self._poll
        if record is None or record.expires_at <= now:
            return None
        state = await self._open(record)
        if state is not None:
            self._remember(key, state, record.expires_at)
        return state

    async def delete(self, workspace_id: str, response_id: str) -> bool:
        key = (workspace_id, response_id)
        found = self._entries.pop(key, None) is not None
        before = len(self._queue)
        self._queue = [q for q in self._queue if q[0] != key]
        found = found or len(self._queue) != before
        if self._store is not None:
            found = await self._store.delete_response(workspace_id, response_id) or found
        return found

    # Background writer

    async def run_writer(self, interval: float = 0.05, prune_every: float = 3600.0) -> None:
        """Store queued turns every ``interval`` seconds, prune expired ones every
        ``prune_every``; until cancelled. A failed write is logged; those turns stay in this
        process's LRU only."""
        since_prune = prune_every  # prune once at start
        while True:
            await self._queued.wait()
            await asyncio.sleep(interval)
            try:
                await self.flush()
                if since_prune >= prune_every:
                    since_prune = 0.0
                    await self.prune()
            except Exception:  # storage trouble must not stop the writer
                log.exception("could not store Responses API state")
            since_prune += interval

    async def flush(self) -> int:
        """Seal and store everything queued now; returns how many were stored."""
        self._queued.clear()
        if not self._queue or self._store is None:
            return 0
        batch, self._queue = self._queue, []
        records: list[ResponseStateRecord] = []
        for (workspace_id, response_id), state, at, expires_at in batch:
            try:
                workspace = await self._workspace_record(workspace_id)
            except GatewayError:  # the workspace is gone: nothing to keep
                continue
            text = msgspec.json.encode(state).decode()
            nonce, ciphertext = self._require_vault().seal_response(workspace, response_id, text)
            records.append(
                ResponseStateRecord(
                    workspace_id=workspace_id,
                    response_id=response_id,
                    nonce=nonce,
                    ciphertext=ciphertext,
                    created_at=at,
                    expires_at=expires_at,
                )
            )
        return await self._store.put_responses(records)

    async def prune(self) -> int:
        """Delete stored turns past their retention."""
        if self._store is None:
            return 0
        return await self._store.prune_responses(self._clock())

    # Internals

    def _remember(self, key: _Key, state: State, expires_at: datetime) -> None:
        self._entries[key] = (state, expires_at)
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    async def _workspace_record(self, workspace_id: str) -> WorkspaceRecord:
        if self._workspace is None:
            raise RuntimeError("ResponseStates with a store needs the workspace look-up")
        return await self._workspace(workspace_id)

    def _require_vault(self) -> KeyVault:
        if self._vault is None:
            raise RuntimeError("ResponseStates with a store needs the vault")
        return self._vault

    async def _open(self, record: ResponseStateRecord) -> State | None:
        try:
            workspace = await self._workspace_record(record.workspace_id)
            text = self._require_vault().open_response(
                workspace, record.response_id, record.nonce, record.ciphertext
            )
        except GatewayError:  # tampered, moved, or the workspace is gone: never served
            log.warning("a stored response of %s does not decrypt", record.workspace_id)
            return None
        state: State = msgspec.json.decode(text)
        return state
