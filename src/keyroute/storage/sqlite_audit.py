"""``SqliteAuditStore``: the ``audit_log`` table on the SQLite file of a ``SqliteStore``.

Invariants:
- ``append`` is one ``BEGIN IMMEDIATE`` transaction: it takes SQLite's write lock first, then
  reads each chain's head and chains the new rows after it, so writers in several processes
  append to one chain one after the other and never fork it. Ids already stored are skipped
  (a retried or replayed batch adds nothing).
- ``scan`` reads in pages by ``seq`` (keyset pagination): constant memory for any chain length.
- ``prune`` deletes a prefix of a chain and appends its checkpoint in the same transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from keyroute.core.audit import AuditEntry, AuditQuery, AuditRow, chain, checkpoint
from keyroute.storage.schema import audit_log

_COLUMNS = tuple(column.name for column in audit_log.columns)
# Batches go to the driver as plain tuples in the table's column order (as the usage store's do).
_INSERT = str(insert(audit_log).compile(dialect=sqlite.dialect()))
_ENTRY_FIELDS = (
    "id log time kind request_id api_key_id model served_model status end_user action data body"
).split()


# ``_values`` lays a row out in column order: the entry's fields with ``seq`` at its place and
# the two hashes last (checked here, so a new column cannot go to the wrong place unnoticed).
_SEQ = _COLUMNS.index("seq")
_ENTRY_COLUMNS = tuple(name for name in _COLUMNS if name not in ("seq", "prev_hash", "hash"))
if _COLUMNS[-2:] != ("prev_hash", "hash") or set(_ENTRY_COLUMNS) != set(_ENTRY_FIELDS):
    raise RuntimeError("audit_log's columns do not match AuditEntry's fields")  # pragma: no cover
_ENTRY_VALUES = attrgetter(*_ENTRY_COLUMNS)
_TIME = _ENTRY_COLUMNS.index("time")


def _values(row: AuditRow) -> tuple[Any, ...]:
    values = list(_ENTRY_VALUES(row.entry))
    when = row.entry.time
    utc = (when if when.tzinfo is UTC else when.astimezone(UTC)).replace(tzinfo=None)
    values[_TIME] = utc.isoformat(sep=" ", timespec="microseconds")
    values.insert(_SEQ, row.seq)
    values += (row.prev_hash, row.hash)
    return tuple(values)


def _row(found: Any) -> AuditRow:
    fields = {name: getattr(found, name) for name in _ENTRY_FIELDS}
    return AuditRow(
        entry=AuditEntry(**fields), seq=found.seq, prev_hash=found.prev_hash, hash=found.hash
    )


async def _head(conn: AsyncConnection, log: str) -> AuditRow | None:
    statement = select(audit_log).where(audit_log.c.log == log).order_by(audit_log.c.seq.desc())
    found = (await conn.execute(statement.limit(1))).first()
    return None if found is None else _row(found)


def _where(query: AuditQuery) -> list[Any]:
    c = audit_log.c
    conditions: list[Any] = [c.log == query.log]
    if query.since is not None:
        conditions.append(c.time >= query.since)
    if query.until is not None:
        conditions.append(c.time < query.until)
    if query.api_key_id is not None:
        conditions.append(c.api_key_id == query.api_key_id)
    if query.model is not None:
        conditions.append(or_(c.model == query.model, c.served_model == query.model))
    if query.status is not None:
        conditions.append(c.status == query.status)
    if query.end_user is not None:
        conditions.append(c.end_user == query.end_user)
    if query.kind is not None:
        conditions.append(c.kind == query.kind)
    return conditions


class SqliteAuditStore:
    """An ``AuditStore`` over the engines of an open ``SqliteStore``: ``(reader, writer)``."""

    def __init__(self, engines: Callable[[], tuple[AsyncEngine, AsyncEngine]]) -> None:
        self._engines = engines

    async def append(self, entries: Sequence[AuditEntry], /) -> int:
        if not entries:
            return 0
        if any(entry.time.tzinfo is None for entry in entries):
            raise ValueError("keyroute stores timezone-aware datetimes only; got a naive one")
        async with self._engines()[1].begin() as conn:  # BEGIN IMMEDIATE: the write lock
            ids = [entry.id for entry in entries]
            found = await conn.execute(select(audit_log.c.id).where(audit_log.c.id.in_(ids)))
            seen = set(found.scalars())
            heads: dict[str, tuple[int, str] | None] = {}
            values: list[tuple[Any, ...]] = []
            for entry in entries:
                if entry.id in seen:
                    continue
                seen.add(entry.id)
                if entry.log not in heads:
                    head = await _head(conn, entry.log)
                    heads[entry.log] = None if head is None else (head.seq, head.hash)
                row = chain(entry, heads[entry.log])
                heads[entry.log] = (row.seq, row.hash)
                values.append(_values(row))
            if values:
                await conn.exec_driver_sql(_INSERT, values)
        return len(values)

    async def scan(self, query: AuditQuery, *, page: int = 1000) -> AsyncIterator[AuditRow]:
        after = 0
        conditions = _where(query)
        while True:
            statement = (
                select(audit_log)
                .where(*conditions, audit_log.c.seq > after)
                .order_by(audit_log.c.seq)
                .limit(page)
            )
            async with self._engines()[0].connect() as conn:
                rows = [_row(found) for found in (await conn.execute(statement)).all()]
            for row in rows:
                yield row
            if len(rows) < page:
                return
            after = rows[-1].seq

    async def head(self, log: str) -> AuditRow | None:
        async with self._engines()[0].connect() as conn:
            return await _head(conn, log)

    async def logs(self) -> list[str]:
        statement = select(audit_log.c.log).distinct().order_by(audit_log.c.log)
        async with self._engines()[0].connect() as conn:
            return list((await conn.execute(statement)).scalars())

    async def prune(self, log: str, before: datetime, *, limit: int, now: datetime) -> int:
        c = audit_log.c
        async with self._engines()[1].begin() as conn:
            head = await _head(conn, log)
            if head is None:
                return 0
            statement = select(audit_log).where(c.log == log, c.seq < head.seq).order_by(c.seq)
            oldest = [_row(found) for found in (await conn.execute(statement.limit(limit))).all()]
            prefix: list[AuditRow] = []
            for row in oldest:  # only a prefix of the chain: the rest stays verifiable
                if row.entry.time >= before:
                    break
                prefix.append(row)
            if not prefix:
                return 0
            last = prefix[-1]
            await conn.execute(delete(audit_log).where(c.log == log, c.seq <= last.seq))
            mark = chain(checkpoint(log, last, len(prefix), now), (head.seq, head.hash))
            await conn.exec_driver_sql(_INSERT, [_values(mark)])
        return len(prefix)
