"""``SqliteUsageStore``: the usage table on the SQLite file of a ``SqliteStore``.

It shares its store's engines (readers, and the writer that opens ``BEGIN IMMEDIATE``).

Invariants:

- ``append`` is one transaction: rows of workspaces that no longer exist are filtered out
  inside it (so a deletion cannot race a late batch into a foreign-key failure), and
  ``ON CONFLICT (id) DO NOTHING`` makes a retried batch count each request once.
- Money sums are exact: SQLite's ``SUM`` of 64-bit integers fails on overflow (about 9.2 million
  USD of pico-dollars), so each cost column is summed as its high part (``>> 24``) and its low 24
  bits separately and recombined in Python; neither partial sum can overflow.
- Time buckets are whole seconds since the Unix epoch, so every bucket width that divides a day
  lines up on UTC midnight.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import Integer, and_, case, cast, func, or_, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from keyroute.storage.base import (
    UsageDimension,
    UsageGroup,
    UsageKey,
    UsageQuery,
    UsageRow,
    UsageTotals,
)
from keyroute.storage.schema import usage, workspaces

_SPLIT = 24
_LOW = (1 << _SPLIT) - 1
# The batch insert goes to the driver as plain tuples in the table's column order (every
# ``UsageRow`` field is a column, checked by the usage store suite): SQLAlchemy's per-row
# parameter processing cost more CPU than the insert itself. ``_values`` does what
# ``UtcDateTime`` does: UTC, as fixed-width text without an offset.
_FIELDS = tuple(column.name for column in usage.columns)
_TIME = _FIELDS.index("time")
_FIELD_VALUES = attrgetter(*_FIELDS)
_INSERT = str(
    sqlite_insert(usage)
    .on_conflict_do_nothing(index_elements=[usage.c.id])
    .compile(dialect=sqlite.dialect())
)

_DIMENSIONS: dict[UsageDimension, ColumnElement[Any]] = {
    "model": func.coalesce(usage.c.served_model, usage.c.requested_model),
    "key": usage.c.api_key_id,
    "provider": usage.c.provider,
    "user": usage.c.end_user,
    "policy": usage.c.route_policy,
    "error": usage.c.error_code,
}

_TOKENS = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
)


def _values(row: UsageRow) -> tuple[Any, ...]:
    values = list(_FIELD_VALUES(row))
    when = row.time if row.time.tzinfo is UTC else row.time.astimezone(UTC)
    values[_TIME] = when.replace(tzinfo=None).isoformat(" ", "microseconds")
    return tuple(values)


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _exact_sum(name: str, value: ColumnElement[Any], when: ColumnElement[bool]) -> list[Any]:
    """Two columns, ``<name>_hi`` and ``<name>_lo``, whose recombination is the exact sum."""
    return [
        func.coalesce(func.sum(case((when, value.op(">>")(_SPLIT)))), 0).label(f"{name}_hi"),
        func.coalesce(func.sum(case((when, value.op("&")(_LOW)))), 0).label(f"{name}_lo"),
    ]


def _aggregates() -> list[Any]:
    c = usage.c
    known = and_(c.paid_pico.is_not(None), c.list_pico.is_not(None))
    cached = and_(c.uncached_pico.is_not(None), c.paid_pico.is_not(None))
    routed = and_(c.reference_pico.is_not(None), c.paid_pico.is_not(None))
    return [
        func.count().label("requests"),
        _count(or_(c.status >= 400, c.status == 0)).label("failed_requests"),
        _count(c.usage_estimated.is_(True)).label("estimated_requests"),
        *(func.coalesce(func.sum(c[name]), 0).label(name) for name in _TOKENS),
        *_exact_sum("paid_pico", c.paid_pico, known),
        *_exact_sum("list_pico", c.list_pico, known),
        _count(~known).label("unknown_cost_requests"),
        *_exact_sum("cache_saving_pico", c.uncached_pico - c.paid_pico, cached),
        _count(routed).label("routed_requests"),
        *_exact_sum("reference_pico", c.reference_pico, routed),
        *_exact_sum("routing_saving_pico", c.reference_pico - c.paid_pico, routed),
    ]


def _totals(row: Any) -> UsageTotals:
    values: dict[str, int] = {}
    for field in dataclasses.fields(UsageTotals):
        if field.name.endswith("_pico"):
            high = int(getattr(row, f"{field.name}_hi"))
            values[field.name] = (high << _SPLIT) + int(getattr(row, f"{field.name}_lo"))
        else:
            values[field.name] = int(getattr(row, field.name))
    return UsageTotals(**values)


class SqliteUsageStore:
    """A ``UsageStore`` over the engines of an open ``SqliteStore``: ``(reader, writer)``."""

    def __init__(self, engines: Callable[[], tuple[AsyncEngine, AsyncEngine]]) -> None:
        self._engines = engines

    async def append(self, rows: Sequence[UsageRow]) -> int:
        if not rows:
            return 0
        if any(row.time.tzinfo is None for row in rows):
            raise ValueError("keyroute stores timezone-aware datetimes only; got a naive one")
        wanted = {row.workspace_id for row in rows}
        async with self._engines()[1].begin() as conn:
            found = await conn.execute(select(workspaces.c.id).where(workspaces.c.id.in_(wanted)))
            present = set(found.scalars())
            values = [_values(row) for row in rows if row.workspace_id in present]
            if not values:
                return 0
            result = await conn.exec_driver_sql(_INSERT, values)
        return max(result.rowcount, 0)

    async def totals(self, query: UsageQuery) -> list[UsageGroup]:
        keys: list[ColumnElement[Any]] = []
        if query.bucket_seconds is not None:
            epoch = cast(func.strftime("%s", usage.c.time), Integer)
            keys.append((epoch - epoch % query.bucket_seconds).label("bucket"))
        keys.extend(_DIMENSIONS[d].label(f"key_{i}") for i, d in enumerate(query.group_by))
        statement = select(*keys, *_aggregates()).where(usage.c.workspace_id == query.workspace_id)
        if query.since is not None:
            statement = statement.where(usage.c.time >= query.since)
        if query.until is not None:
            statement = statement.where(usage.c.time < query.until)
        if keys:
            statement = statement.group_by(*keys).order_by(*keys)
        async with self._engines()[0].connect() as conn:
            rows = (await conn.execute(statement)).all()
        bucketed = query.bucket_seconds is not None
        groups = [
            UsageGroup(key=_key(row, bucketed, len(keys)), totals=_totals(row)) for row in rows
        ]
        # SQL totals over no rows still give one all-zero row; an empty report has no groups.
        return [g for g in groups if g.totals.requests]


def _key(row: Any, bucketed: bool, width: int) -> UsageKey:
    parts: list[datetime | str | None] = list(row[:width])
    if bucketed:
        parts[0] = datetime.fromtimestamp(int(row[0]), UTC)
    return tuple(parts)
