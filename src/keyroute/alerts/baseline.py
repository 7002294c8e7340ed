"""The anomaly rule's baseline: the same wall-clock hour on each of the previous days.

"The same hour" is local to the rule's time zone: across a daylight-saving change the hour a
day earlier is 23 or 25 hours back, not 24. A wall-clock time that does not exist that day (the
hour skipped in spring) or exists twice (the hour repeated in autumn) resolves as ``zoneinfo``
does with ``fold=0``: the earlier reading.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from statistics import median
from zoneinfo import ZoneInfo

HOUR = timedelta(hours=1)


def same_hour_windows(now: datetime, zone: str, days: int) -> list[tuple[datetime, datetime]]:
    """``[start, end)`` in UTC of the hour ending at ``now``'s wall-clock time, on each of the
    ``days`` previous local days, most recent first."""
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    windows = []
    for back in range(1, days + 1):
        wall = (local.replace(tzinfo=None) - timedelta(days=back)).replace(tzinfo=tz)
        # Round-trip through UTC to normalise a wall time skipped by a DST change.
        end = wall.astimezone(UTC)
        windows.append((end - HOUR, end))
    return windows


def baseline(spends: list[int]) -> Decimal:
    """The median of the per-day spends (pico-dollars) as USD; 0 without any day."""
    if not spends:
        return Decimal(0)
    return Decimal(median(spends)) / Decimal(10**12)
