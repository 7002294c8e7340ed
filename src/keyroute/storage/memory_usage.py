"""``MemoryUsageStore``: the reference ``UsageStore``, a dictionary of rows in one process.

Its totals are the specification the SQL backend is checked against (the shared suite in
``tests/unit/storage/test_usage_store.py``): the same idempotent, all-or-nothing ``append``
that skips rows of unknown workspaces, and the same grouping and ordering (``None`` first).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from keyroute.storage.base import (
    UsageDimension,
    UsageGroup,
    UsageKey,
    UsageQuery,
    UsageRow,
    UsageTotals,
)


def _dimension(row: UsageRow, dimension: UsageDimension) -> str | None:
    if dimension == "model":
        return row.served_model if row.served_model is not None else row.requested_model
    if dimension == "key":
        return row.api_key_id
    if dimension == "provider":
        return row.provider
    if dimension == "user":
        return row.end_user
    if dimension == "error":
        return row.error_code
    return row.route_policy


def _bucket(when: datetime, width: int) -> datetime:
    seconds = int(when.timestamp())
    return datetime.fromtimestamp(seconds - seconds % width, UTC)


def _key(row: UsageRow, query: UsageQuery) -> UsageKey:
    parts: list[datetime | str | None] = []
    if query.bucket_seconds is not None:
        parts.append(_bucket(row.time, query.bucket_seconds))
    parts.extend(_dimension(row, d) for d in query.group_by)
    return tuple(parts)


def _order(key: UsageKey) -> tuple[tuple[bool, datetime | str], ...]:
    return tuple((part is not None, part or "") for part in key)


def total(rows: Iterable[UsageRow]) -> UsageTotals:
    """The totals of ``rows``, with the cost rules of ``UsageTotals``."""
    sums = dict.fromkeys((f.name for f in dataclasses.fields(UsageTotals)), 0)
    tokens = (
        "input_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "cache_write_1h_tokens",
        "output_tokens",
        "reasoning_tokens",
    )
    for row in rows:
        sums["requests"] += 1
        sums["failed_requests"] += row.status >= 400 or row.status == 0
        sums["estimated_requests"] += row.usage_estimated
        for name in tokens:
            sums[name] += getattr(row, name)
        paid = row.paid_pico
        if paid is not None and row.list_pico is not None:
            sums["paid_pico"] += paid
            sums["list_pico"] += row.list_pico
        else:
            sums["unknown_cost_requests"] += 1
        if paid is not None and row.uncached_pico is not None:
            sums["cache_saving_pico"] += row.uncached_pico - paid
        if paid is not None and row.reference_pico is not None:
            sums["routed_requests"] += 1
            sums["reference_pico"] += row.reference_pico
            sums["routing_saving_pico"] += row.reference_pico - paid
    return UsageTotals(**sums)


class MemoryUsageStore:
    """A ``UsageStore`` in memory; ``workspace_exists`` asks the owning store."""

    def __init__(self, workspace_exists: Callable[[str], bool]) -> None:
        self._exists = workspace_exists
        self._rows: dict[str, UsageRow] = {}

    async def append(self, rows: Sequence[UsageRow]) -> int:
        if any(row.time.tzinfo is None for row in rows):  # all or nothing, as in SQL
            raise ValueError("keyroute stores timezone-aware datetimes only; got a naive one")
        added = 0
        for row in rows:
            if row.id in self._rows or not self._exists(row.workspace_id):
                continue
            self._rows[row.id] = dataclasses.replace(row, time=row.time.astimezone(UTC))
            added += 1
        return added

    def rows(self) -> Iterable[UsageRow]:
        """Every stored row (for the memory routing store's request lookup)."""
        return self._rows.values()

    def forget_workspace(self, workspace_id: str) -> None:
        """Drop a deleted workspace's rows (the SQL backends cascade)."""
        self._rows = {k: r for k, r in self._rows.items() if r.workspace_id != workspace_id}

    async def totals(self, query: UsageQuery) -> list[UsageGroup]:
        groups: dict[UsageKey, list[UsageRow]] = {}
        for row in self._rows.values():
            if row.workspace_id != query.workspace_id:
                continue
            if query.since is not None and row.time < query.since:
                continue
            if query.until is not None and row.time >= query.until:
                continue
            groups.setdefault(_key(row, query), []).append(row)
        return [
            UsageGroup(key=key, totals=total(groups[key])) for key in sorted(groups, key=_order)
        ]
