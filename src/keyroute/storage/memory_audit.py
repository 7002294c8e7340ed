"""``MemoryAuditStore``: the reference ``AuditStore``, each chain a list in one process.

The shared suite (``tests/unit/storage/test_audit_store.py``) checks the SQL backend against
it: idempotent appends chained after each log's head, ``seq``-ordered scans, prefix pruning
with a checkpoint.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from keyroute.core.audit import AuditEntry, AuditQuery, AuditRow, chain, checkpoint


def matches(row: AuditRow, query: AuditQuery) -> bool:
    entry = row.entry
    return (
        (query.since is None or entry.time >= query.since)
        and (query.until is None or entry.time < query.until)
        and (query.api_key_id is None or entry.api_key_id == query.api_key_id)
        and (query.model is None or query.model in (entry.model, entry.served_model))
        and (query.status is None or entry.status == query.status)
        and (query.end_user is None or entry.end_user == query.end_user)
        and (query.kind is None or entry.kind == query.kind)
    )


class MemoryAuditStore:
    def __init__(self) -> None:
        self.chains: dict[str, list[AuditRow]] = {}
        self._ids: set[str] = set()

    def _append_row(self, entry: AuditEntry) -> None:
        rows = self.chains.setdefault(entry.log, [])
        head = (rows[-1].seq, rows[-1].hash) if rows else None
        rows.append(chain(entry, head))
        self._ids.add(entry.id)

    async def append(self, entries: Sequence[AuditEntry], /) -> int:
        if any(entry.time.tzinfo is None for entry in entries):
            raise ValueError("keyroute stores timezone-aware datetimes only; got a naive one")
        added = 0
        for entry in entries:
            if entry.id not in self._ids:
                self._append_row(entry)
                added += 1
        return added

    async def scan(self, query: AuditQuery, *, page: int = 1000) -> AsyncIterator[AuditRow]:
        for row in list(self.chains.get(query.log, ())):
            if matches(row, query):
                yield row

    async def head(self, log: str) -> AuditRow | None:
        rows = self.chains.get(log)
        return rows[-1] if rows else None

    async def logs(self) -> list[str]:
        return sorted(log for log, rows in self.chains.items() if rows)

    async def prune(self, log: str, before: datetime, *, limit: int, now: datetime) -> int:
        rows = self.chains.get(log, [])
        count = 0
        while count < min(limit, len(rows) - 1) and rows[count].entry.time < before:
            count += 1
        if not count:
            return 0
        last = rows[count - 1]
        del rows[:count]
        self._append_row(checkpoint(log, last, count, now))
        return count
