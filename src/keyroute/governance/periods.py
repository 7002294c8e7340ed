"""Calendar periods in a workspace's time zone: the quota's month, a budget's day and month.

A period starts at local midnight (of the 1st, for a month) and ends where the next one starts;
both ends are returned as timezone-aware UTC, so a period in ``Asia/Kolkata`` or across a
daylight-saving change is exactly the local calendar's. ``now`` is an argument: tests move an
injected clock, never sleep.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal

Period = Literal["day", "month"]


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime  # inclusive, UTC
    end: datetime  # exclusive, UTC: when the period resets


def _local_midnight(year: int, month: int, day: int, zone: tzinfo) -> datetime:
    return datetime(year, month, day, tzinfo=zone).astimezone(UTC)


def window(period: Period, now: datetime, zone: tzinfo) -> Window:
    """The ``period`` containing ``now`` (timezone-aware) in ``zone``."""
    if now.tzinfo is None:
        raise ValueError("periods take timezone-aware times; got a naive one")
    local = now.astimezone(zone)
    if period == "day":
        following = local.date() + timedelta(days=1)
        return Window(
            _local_midnight(local.year, local.month, local.day, zone),
            _local_midnight(following.year, following.month, following.day, zone),
        )
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return Window(
        _local_midnight(local.year, local.month, 1, zone), _local_midnight(year, month, 1, zone)
    )
