"""Budget periods and projected exhaustion, in a budget's own time zone.

A daily budget's period is the local calendar day, a monthly one's the local calendar month;
periods start at local midnight (which a DST change may shift from the previous day's hour).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal, TypeAlias
from zoneinfo import ZoneInfo

Period: TypeAlias = Literal["day", "month"]


def period_bounds(now: datetime, period: Period, zone: str) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC of the local day or month that contains ``now``."""
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    if period == "day":
        start = datetime(local.year, local.month, local.day, tzinfo=tz)
        following = start.replace(tzinfo=None) + timedelta(days=1)
        end = datetime(following.year, following.month, following.day, tzinfo=tz)
    else:
        start = datetime(local.year, local.month, 1, tzinfo=tz)
        year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        end = datetime(year, month, 1, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def exhaustion(
    now: datetime, *, limit_usd: Decimal, spent_usd: Decimal, usd_per_hour: Decimal
) -> datetime | None:
    """When spending ``usd_per_hour`` from ``now`` uses the rest of the budget; ``now`` if it is
    already used up, ``None`` if nothing is being spent."""
    remaining = limit_usd - spent_usd
    if remaining <= 0:
        return now
    if usd_per_hour <= 0:
        return None
    hours = remaining / usd_per_hour
    return now + timedelta(seconds=float(hours * 3600))
