"""The audit log's rows, their hash chain, and the storage protocol that appends and reads them.

Every workspace's audit log is a hash chain, and so is the gateway-level log (``GATEWAY_LOG``:
requests refused before a workspace was known). A row is offered to the store as an
``AuditEntry``; the store gives it the next sequence number of its chain and its hashes inside
its write transaction (so several processes appending to one chain serialise on the database's
write lock) and keeps it as an ``AuditRow``.

Invariants:
- ``row_hash(prev, entry, seq)`` is SHA-256 over the previous row's hash and the canonical
  serialisation of every stored field (``canonical``): editing any field, deleting, inserting
  or reordering a row breaks the chain at that row or the next.
- The first row of a chain has ``seq`` 1 and ``prev_hash`` ``GENESIS``. Pruning deletes a prefix
  of the chain and appends a ``checkpoint`` row whose ``data`` names the last pruned row's
  ``seq`` and ``hash``, so the rest still verifies.
- ``data`` is canonical JSON text (sorted keys, no spaces) with no prompt or completion text;
  bodies, when a workspace logs them, are only in ``body`` (redacted, then sealed).
- Times are timezone-aware UTC.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, TypeAlias

GATEWAY_LOG = "gateway"  # the chain of requests with no workspace (workspace ids are ``ws_...``)
GENESIS = "0" * 64

AuditKind: TypeAlias = Literal["request", "admin", "checkpoint"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """One audit record before the store chains it."""

    id: str  # unique and fixed per record: a retried or replayed batch is stored once
    log: str  # the chain: a workspace id, or ``GATEWAY_LOG``
    time: datetime
    kind: AuditKind
    request_id: str | None = None
    api_key_id: str | None = None
    model: str | None = None  # the requested model
    served_model: str | None = None
    status: int | None = None
    end_user: str | None = None
    action: str | None = None  # admin events: ``key.add``, ``workspace.delete``...
    data: str = "{}"  # canonical JSON: every other field of the record
    body: bytes | None = None  # sealed, redacted prompt and completion (opt-in per workspace)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRow:
    """A stored audit record: its entry, its place in the chain and its hashes."""

    entry: AuditEntry
    seq: int
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditQuery:
    """Which rows of one chain to read, in chain order. ``until`` is exclusive."""

    log: str
    since: datetime | None = None
    until: datetime | None = None
    api_key_id: str | None = None
    model: str | None = None  # matches the requested or the served model
    status: int | None = None
    end_user: str | None = None
    kind: AuditKind | None = None


# ``json.dumps`` with these arguments builds this very encoder on every call; building it once
# gives the same bytes for about half the CPU.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: object) -> str:
    """``value`` as canonical JSON text: sorted keys, no spaces, non-ASCII as is."""
    return _CANONICAL.encode(value)


def canonical(entry: AuditEntry, seq: int) -> bytes:
    """The exact bytes a row's hash covers, besides the previous hash."""
    fields = [
        seq,
        entry.id,
        entry.log,
        entry.time.isoformat(timespec="microseconds"),
        entry.kind,
        entry.request_id,
        entry.api_key_id,
        entry.model,
        entry.served_model,
        entry.status,
        entry.end_user,
        entry.action,
        entry.data,
        entry.body.hex() if entry.body is not None else None,
    ]
    return canonical_json(fields).encode()


def row_hash(prev_hash: str, entry: AuditEntry, seq: int) -> str:
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(b"\n")
    digest.update(canonical(entry, seq))
    return digest.hexdigest()


def chain(entry: AuditEntry, head: tuple[int, str] | None) -> AuditRow:
    """``entry`` appended after ``head`` (``(seq, hash)`` of the chain's last row, or None)."""
    seq, prev = head if head is not None else (0, GENESIS)
    return AuditRow(entry=entry, seq=seq + 1, prev_hash=prev, hash=row_hash(prev, entry, seq + 1))


class AuditStore(Protocol):
    """The audit table: appended by the background writer, read by verify and export."""

    async def append(self, entries: Sequence[AuditEntry], /) -> int:
        """Chain and store ``entries`` in one write transaction, skipping ids already stored;
        the number of new rows."""

    def scan(self, query: AuditQuery, *, page: int = 1000) -> AsyncIterator[AuditRow]:
        """The chain's matching rows in ``seq`` order, read ``page`` at a time."""

    async def head(self, log: str) -> AuditRow | None:
        """The last row of a chain."""

    async def logs(self) -> list[str]:
        """Every chain that has rows."""

    async def prune(self, log: str, before: datetime, *, limit: int, now: datetime) -> int:
        """Delete the chain's oldest rows older than ``before``, at most ``limit``, never its
        last row, and append a checkpoint (at ``now``) naming the last one deleted; the number
        deleted."""


def checkpoint(log: str, pruned: AuditRow, count: int, now: datetime) -> AuditEntry:
    """The checkpoint appended after pruning a chain up to and including ``pruned``."""
    return AuditEntry(
        id=f"checkpoint-{log}-{pruned.seq}",
        log=log,
        time=now,
        kind="checkpoint",
        action="audit.prune",
        data=canonical_json(
            {"pruned_through_seq": pruned.seq, "pruned_hash": pruned.hash, "pruned": count}
        ),
    )
