"""Provider state that must travel with a tool call but that OpenAI-format clients drop.

Gemini 3+ requires each function call's ``thoughtSignature`` to be sent back verbatim on the next
turn ("Function call is missing a thought_signature" otherwise); an OpenAI SDK client never sees
it. The gateway records the signature when the response passes through and puts it back when the
client replays that call, which may be on another worker or after a restart.

Invariants:

- Keyed by (workspace, tool call id, model), the model being ``provider/upstream model``: a
  replay routed to another model is never sent a foreign signature, and no workspace ever sees
  another's.
- The request path never waits on storage for a write: ``put`` is synchronous (a local LRU and a
  queue); a background writer (``run_writer``) seals the queued signatures with the workspace's
  data key and stores them in batches. ``load`` reads storage only for calls missing from the
  local LRU (turn 2 on another worker, or after a restart); ``get`` is a dictionary read.
- Stored signatures older than ``retention`` are never replayed and are pruned by the writer.
- Without a store (``store=None``) the cache is one process's LRU only: used by unit tests.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

from keyroute.core.errors import GatewayError
from keyroute.storage.base import SignatureRecord, SignatureStore, WorkspaceRecord
from keyroute.vault.keystore import KeyVault

log = logging.getLogger("keyroute.signatures")

_Key = tuple[str, str, str]  # (workspace id, call id, model)


def signature_model(provider: str, upstream_model: str) -> str:
    """The model part of a signature's key: the provider and the model it was sent to."""
    return f"{provider}/{upstream_model}"


class SignatureCache:
    def __init__(
        self,
        capacity: int = 100_000,
        *,
        store: SignatureStore | None = None,
        vault: KeyVault | None = None,
        workspace: Callable[[str], Awaitable[WorkspaceRecord]] | None = None,
        retention: timedelta = timedelta(days=7),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[_Key, str] = OrderedDict()
        self._store = store
        self._vault = vault
        self._workspace = workspace
        self._retention = retention
        self._clock = clock or (lambda: datetime.now(UTC))
        self._queue: list[tuple[_Key, str, datetime]] = []
        self._queued = asyncio.Event()

    def put(self, workspace_id: str, call_id: str, model: str, signature: str) -> None:
        key = (workspace_id, call_id, model)
        self._remember(key, signature)
        if self._store is not None:
            self._queue.append((key, signature, self._clock()))
            self._queued.set()

    def get(self, workspace_id: str, call_id: str, model: str) -> str | None:
        """The signature from the local LRU (after ``load`` for calls this process never saw)."""
        key = (workspace_id, call_id, model)
        signature = self._entries.get(key)
        if signature is not None:
            self._entries.move_to_end(key)
        return signature

    async def load(self, workspace_id: str, model: str, call_ids: Sequence[str]) -> None:
        """Bring the stored signatures of ``call_ids`` missing from the LRU into it."""
        missing = [c for c in call_ids if (workspace_id, c, model) not in self._entries]
        if not missing or self._store is None:
            return
        records = await self._store.get_signatures(workspace_id, model, missing)
        if not records:
            return
        workspace = await self._workspace_record(workspace_id)
        oldest = self._clock() - self._retention
        for record in records:
            if record.created_at < oldest:
                continue
            signature = self._vault_open(workspace, record)
            if signature is not None:
                self._remember((workspace_id, record.call_id, model), signature)

    def __len__(self) -> int:
        return len(self._entries)

    # Background writer

    async def run_writer(self, prune_every: timedelta = timedelta(hours=1)) -> None:
        """Store queued signatures as soon as they are queued (what queues up during one write
        goes in the next batch) and prune old ones at most every ``prune_every``; until
        cancelled. A failed write is logged; those signatures stay in this process's LRU."""
        next_prune = self._clock()
        while True:
            await self._queued.wait()
            try:
                await self.flush()
                if self._clock() >= next_prune:
                    next_prune = self._clock() + prune_every
                    await self.prune()
            except Exception:  # storage trouble must not stop the writer
                log.exception("could not store tool-call signatures")

    async def flush(self) -> int:
        """Seal and store everything queued now; returns how many were stored."""
        self._queued.clear()
        if not self._queue or self._store is None:
            return 0
        batch, self._queue = self._queue, []
        records: list[SignatureRecord] = []
        for (workspace_id, call_id, model), signature, at in batch:
            try:
                workspace = await self._workspace_record(workspace_id)
            except GatewayError:  # the workspace is gone: nothing to keep
                continue
            nonce, ciphertext = self._require_vault().seal_signature(
                workspace, call_id, model, signature
            )
            records.append(
                SignatureRecord(
                    workspace_id=workspace_id,
                    call_id=call_id,
                    model=model,
                    nonce=nonce,
                    ciphertext=ciphertext,
                    created_at=at,
                )
            )
        return await self._store.put_signatures(records)

    async def prune(self) -> int:
        """Delete stored signatures older than the retention."""
        if self._store is None:
            return 0
        return await self._store.prune_signatures(self._clock() - self._retention)

    # Internals

    def _remember(self, key: _Key, signature: str) -> None:
        self._entries[key] = signature
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    async def _workspace_record(self, workspace_id: str) -> WorkspaceRecord:
        if self._workspace is None:
            raise RuntimeError("a SignatureCache with a store needs the workspace look-up")
        return await self._workspace(workspace_id)

    def _require_vault(self) -> KeyVault:
        if self._vault is None:
            raise RuntimeError("a SignatureCache with a store needs the vault")
        return self._vault

    def _vault_open(self, workspace: WorkspaceRecord, record: SignatureRecord) -> str | None:
        try:
            return self._require_vault().open_signature(
                workspace, record.call_id, record.model, record.nonce, record.ciphertext
            )
        except GatewayError:  # tampered or moved: never replayed
            log.warning("a stored tool-call signature of %s does not decrypt", workspace.id)
            return None
