"""Calendar periods in a workspace's time zone: the quota's and budgets' month, budgets' day,
and the rate limits' minute, each with its id (a ledger period) and when it ends (its reset).

``Periods`` reads an injected wall clock (Unix seconds) and keeps, per time zone, the current
day and month until the clock passes their end, so the request path computes calendar
boundaries once a day, not once a request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class Period:
    id: str  # ``2026-12``, ``2026-12-03``, ``m29451540``
    end: float  # Unix seconds: when the period ends and its counters reset


@dataclass(frozen=True, slots=True)
class Calendar:
    """The current day and month in one time zone."""

    day: Period
    month: Period


def calendar(now: float, zone: ZoneInfo) -> Calendar:
    """The day and month containing ``now`` in ``zone`` (ends are local midnights, so a day
    across a daylight-saving change is 23 or 25 hours long)."""
    local = datetime.fromtimestamp(now, zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow = (midnight + timedelta(days=1)).replace(tzinfo=None)
    next_day = datetime.combine(tomorrow.date(), datetime.min.time(), zone)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    next_month = datetime(year, month, 1, tzinfo=zone)
    return Calendar(
        day=Period(local.strftime("%Y-%m-%d"), next_day.timestamp()),
        month=Period(local.strftime("%Y-%m"), next_month.timestamp()),
    )


def minute(now: float) -> Period:
    """The fixed one-minute window containing ``now`` (rate limits reset on the minute)."""
    start = int(now // 60)
    return Period(f"m{start}", (start + 1) * 60.0)


class Periods:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._calendars: dict[str, Calendar] = {}

    def calendar(self, zone: ZoneInfo, now: float) -> Calendar:
        cached = self._calendars.get(zone.key)
        if cached is None or now >= cached.day.end:
            cached = self._calendars[zone.key] = calendar(now, zone)
        return cached
