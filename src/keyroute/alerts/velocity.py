"""``VelocityBoard``: spend, requests and errors per workspace in time buckets, in memory.

Each workspace has counters per bucket (``bucket_seconds`` wide, aligned on the Unix epoch) for
its total and for each gateway key, model and end-user tag. A window sums the buckets that
overlap it; a rate divides by the time those buckets span, so the partly covered oldest bucket
never inflates it.

Two feeds keep it current: ``add`` at every settlement in this process (``sink.VelocitySink``),
and ``replace`` with what the usage store holds (every worker's rows) for the recent past,
before each evaluation. A bucket replaced from the store is exact as of that read; requests
settled here after it are added on top, and the next ``replace`` reads them from the store.

Invariants: buckets older than ``retention`` are dropped; all arithmetic is integer
(pico-dollars), nothing here does I/O or reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, TypeAlias

Dimension: TypeAlias = Literal["key", "model", "user"]
DIMENSIONS: tuple[Dimension, ...] = ("key", "model", "user")
Subject: TypeAlias = tuple[Dimension, str]
"""One gateway key (by id), model or end-user tag of a workspace."""


@dataclass(slots=True)
class Counts:
    spend_pico: int = 0
    requests: int = 0
    errors: int = 0

    def add(self, other: Counts) -> None:
        self.spend_pico += other.spend_pico
        self.requests += other.requests
        self.errors += other.errors


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """The sums over a window and the seconds the summed buckets span (for rates)."""

    counts: Counts
    span_seconds: float

    def per_hour(self, value: int | float) -> float:
        return value * 3600.0 / self.span_seconds if self.span_seconds > 0 else 0.0


@dataclass(slots=True)
class _Buckets:
    total: dict[int, Counts] = field(default_factory=dict)
    by: dict[Dimension, dict[int, dict[str | None, Counts]]] = field(
        default_factory=lambda: {d: {} for d in DIMENSIONS}
    )


def _count(counts: dict[int, Counts], start: int, spend_pico: int, failed: bool) -> None:
    c = counts.get(start)
    if c is None:
        c = counts[start] = Counts()
    c.spend_pico += spend_pico
    c.requests += 1
    if failed:
        c.errors += 1


def _count_value(
    per: dict[int, dict[str | None, Counts]],
    start: int,
    value: str | None,
    spend_pico: int,
    failed: bool,
) -> None:
    values = per.get(start)
    if values is None:
        values = per[start] = {}
    c = values.get(value)
    if c is None:
        c = values[value] = Counts()
    c.spend_pico += spend_pico
    c.requests += 1
    if failed:
        c.errors += 1


def epoch(when: datetime) -> float:
    return when.astimezone(UTC).timestamp()


class VelocityBoard:
    def __init__(self, *, bucket_seconds: int = 60, retention_seconds: int = 86_400) -> None:
        if bucket_seconds <= 0 or 86_400 % bucket_seconds:
            raise ValueError(f"a velocity bucket divides a day; {bucket_seconds} s does not")
        self.bucket_seconds = bucket_seconds
        self.retention_seconds = retention_seconds
        self._workspaces: dict[str, _Buckets] = {}

    def bucket(self, when: datetime | float) -> int:
        t = when if isinstance(when, float | int) else epoch(when)
        return int(t // self.bucket_seconds) * self.bucket_seconds

    def add(
        self,
        workspace_id: str,
        when: datetime,
        *,
        key: str | None,
        model: str | None,
        user: str | None,
        spend_pico: int,
        failed: bool,
    ) -> None:
        # The request path: plain dictionary reads and integer additions, no allocation but a
        # bucket's first counters.
        start = int(when.timestamp() // self.bucket_seconds) * self.bucket_seconds
        slot = self._workspaces.get(workspace_id)
        if slot is None:
            slot = self._workspaces[workspace_id] = _Buckets()
        _count(slot.total, start, spend_pico, failed)
        by = slot.by
        _count_value(by["key"], start, key, spend_pico, failed)
        _count_value(by["model"], start, model, spend_pico, failed)
        _count_value(by["user"], start, user, spend_pico, failed)

    def replace(
        self,
        workspace_id: str,
        since: datetime,
        total: Mapping[int, Counts],
        by: Mapping[Dimension, Mapping[int, Mapping[str | None, Counts]]],
    ) -> None:
        """Make every bucket from ``since``'s on what the store says (``total``, ``by``)."""
        first = self.bucket(since)
        slot = self._workspaces.setdefault(workspace_id, _Buckets())
        slot.total = {b: c for b, c in slot.total.items() if b < first}
        slot.total.update({b: c for b, c in total.items() if b >= first})
        for dim in DIMENSIONS:
            kept = {b: v for b, v in slot.by[dim].items() if b < first}
            kept.update({b: dict(v) for b, v in by.get(dim, {}).items() if b >= first})
            slot.by[dim] = kept

    def window(
        self, workspace_id: str, now: datetime, seconds: int, of: Subject | None = None
    ) -> Window:
        """The workspace's sums over the last ``seconds``, or those of one gateway key, model
        or end-user tag (``of``)."""
        first, span = self._range(now, seconds)
        counts = Counts()
        for start, c in self._series(workspace_id, of):
            if start >= first:
                counts.add(c)
        return Window(counts=counts, span_seconds=span)

    def top(
        self, workspace_id: str, dim: Dimension, now: datetime, seconds: int, limit: int = 3
    ) -> list[tuple[str | None, Counts]]:
        """The ``limit`` biggest spenders of ``dim`` over the window, biggest first."""
        slot = self._workspaces.get(workspace_id)
        if slot is None:
            return []
        first, _ = self._range(now, seconds)
        sums: dict[str | None, Counts] = {}
        for start, values in slot.by[dim].items():
            if start >= first:
                for value, c in values.items():
                    sums.setdefault(value, Counts()).add(c)
        ranked = sorted(sums.items(), key=lambda kv: (-kv[1].spend_pico, -kv[1].requests))
        return ranked[:limit]

    def spend_since(self, workspace_id: str, since: datetime, of: Subject | None = None) -> int:
        """Pico-dollars in buckets starting at or after ``since`` (a bucket boundary), of the
        workspace or of one gateway key, model or end-user tag (``of``)."""
        start = epoch(since)
        return sum(c.spend_pico for b, c in self._series(workspace_id, of) if b >= start)

    def _series(self, workspace_id: str, of: Subject | None) -> Iterator[tuple[int, Counts]]:
        slot = self._workspaces.get(workspace_id)
        if slot is None:
            return
        if of is None:
            yield from slot.total.items()
            return
        dim, value = of
        for start, values in slot.by[dim].items():
            c = values.get(value)
            if c is not None:
                yield start, c

    def prune(self, now: datetime) -> None:
        oldest = self.bucket(epoch(now) - self.retention_seconds)
        for slot in self._workspaces.values():
            slot.total = {b: c for b, c in slot.total.items() if b >= oldest}
            for dim in DIMENSIONS:
                slot.by[dim] = {b: v for b, v in slot.by[dim].items() if b >= oldest}

    def forget(self, workspace_ids: Iterable[str]) -> None:
        for workspace_id in workspace_ids:
            self._workspaces.pop(workspace_id, None)

    def _range(self, now: datetime, seconds: int) -> tuple[int, float]:
        t = epoch(now)
        first = self.bucket(t - seconds)
        return first, max(t - first, float(self.bucket_seconds))
