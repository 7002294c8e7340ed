"""``UsageReport``: a workspace's usage totals over a time range, grouped one way.

The query layer over ``UsageStore.totals`` that ``keyroute usage`` and the admin API share
(through ``ControlPlane``), and that quota, budget, savings and burn-rate views build on.

Invariants:
- Sums are exact integers (tokens, pico-dollars); nothing is converted to float.
- An unknown cost is counted in ``unknown_cost_requests``, never summed as 0.
- Days are calendar days in the report's time zone (UTC unless one is given): for UTC the
  store groups by day itself; for any other zone it groups by quarter hour (every zone's
  offset is a whole number of quarter hours) and the quarter hours are folded into local days.
- ``since`` is inclusive and ``until`` exclusive; a bare date given to ``until`` means the end
  of that day, so ``--since 2026-03-01 --until 2026-03-31`` covers all of March.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal, TypeAlias, get_args

from keyroute.core.errors import InvalidRequest
from keyroute.storage.base import UsageDimension, UsageQuery, UsageStore, UsageTotals

Grouping: TypeAlias = Literal["day", "model", "key", "provider", "user", "policy"]
GROUPINGS: tuple[str, ...] = get_args(Grouping)

_QUARTER_HOUR = 900
_DAY = 86_400
_RELATIVE = re.compile(r"^(\d{1,6})([mhd])$")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageLine:
    """One group of a report: its value (a day, a model id... or ``None``) and its totals."""

    group: date | str | None
    totals: UsageTotals


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageResult:
    """A whole report: the grand total, and one line per group when grouped (``by``)."""

    workspace_id: str
    by: Grouping | None
    since: datetime | None
    until: datetime | None
    timezone: str
    total: UsageTotals
    lines: tuple[UsageLine, ...]
    names: Mapping[str, str] = dataclasses.field(default_factory=dict)  # key id -> key name


def add(a: UsageTotals, b: UsageTotals) -> UsageTotals:
    """Field-wise sum of two totals."""
    return UsageTotals(
        **{f.name: getattr(a, f.name) + getattr(b, f.name) for f in dataclasses.fields(a)}
    )


def parse_time(text: str, *, param: str, now: datetime, zone: tzinfo = UTC) -> datetime:
    """A report boundary: ``2026-03-01``, an ISO date-time, or ``7d`` / ``24h`` / ``30m`` ago.

    A bare date is midnight in ``zone`` (for ``until``: the midnight that ends it); a date-time
    without an offset is read in ``zone``. ``InvalidRequest`` names ``param`` otherwise.
    """
    value = text.strip()
    relative = _RELATIVE.fullmatch(value)
    if relative:
        return now - int(relative.group(1)) * _UNITS[relative.group(2)]
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            if param == "until":
                day += timedelta(days=1)
            return datetime.combine(day, time(), zone).astimezone(UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(
            f"Invalid {param} '{text}': use a date (2026-03-01), an ISO date-time "
            "(2026-03-01T12:00:00Z) or a duration ago (30m, 24h, 7d).",
            param=param,
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


class UsageReport:
    """Reports over one ``UsageStore``."""

    def __init__(self, store: UsageStore) -> None:
        self._store = store

    async def run(
        self,
        workspace_id: str,
        *,
        by: Grouping | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        zone: tzinfo = UTC,
    ) -> UsageResult:
        if by is not None and by not in GROUPINGS:
            raise InvalidRequest(
                f"Invalid by '{by}': use one of {', '.join(GROUPINGS)}.", param="by"
            )
        if since is not None and until is not None and until <= since:
            raise InvalidRequest("'until' must be later than 'since'.", param="until")
        lines = await self._lines(workspace_id, by, since, until, zone)
        total = UsageTotals()
        for line in lines:
            total = add(total, line.totals)
        return UsageResult(
            workspace_id=workspace_id,
            by=by,
            since=since,
            until=until,
            timezone=str(zone),
            total=total,
            lines=tuple(lines),
        )

    async def _lines(
        self,
        workspace_id: str,
        by: Grouping | None,
        since: datetime | None,
        until: datetime | None,
        zone: tzinfo,
    ) -> list[UsageLine]:
        query = UsageQuery(workspace_id=workspace_id, since=since, until=until)
        if by == "day":
            bucket = _DAY if zone is UTC or str(zone) in ("UTC", "Etc/UTC") else _QUARTER_HOUR
            groups = await self._store.totals(dataclasses.replace(query, bucket_seconds=bucket))
            days: dict[date, UsageTotals] = {}
            for g in groups:
                start = g.key[0]
                assert isinstance(start, datetime)  # noqa: S101 - the bucket key part
                day = start.astimezone(zone).date()
                days[day] = add(days.get(day, UsageTotals()), g.totals)
            return [UsageLine(group=day, totals=days[day]) for day in sorted(days)]
        dimension: tuple[UsageDimension, ...] = () if by is None else (by,)
        groups = await self._store.totals(dataclasses.replace(query, group_by=dimension))
        if by is None:
            return [UsageLine(group=None, totals=g.totals) for g in groups]
        return [UsageLine(group=_text(g.key[0]), totals=g.totals) for g in groups]


def _text(value: datetime | str | None) -> str | None:
    return None if value is None else str(value)
