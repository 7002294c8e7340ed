"""``keyroute.governance.periods``: calendar days and months in a workspace's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from keyroute.governance.periods import Period, Window, window


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("period", "now", "zone", "start", "end"),
    [
        ("month", utc(2026, 12, 3, 12), "UTC", utc(2026, 12, 1), utc(2027, 1, 1)),
        ("month", utc(2026, 2, 28, 23), "UTC", utc(2026, 2, 1), utc(2026, 3, 1)),
        # 23:30 UTC on Nov 30 is already December in Paris (UTC+1).
        (
            "month",
            utc(2026, 11, 30, 23, 30),
            "Europe/Paris",
            utc(2026, 11, 30, 23),
            utc(2026, 12, 31, 23),
        ),
        # ... and still November in New York.
        (
            "month",
            utc(2026, 12, 1, 2),
            "America/New_York",
            utc(2026, 11, 1, 4),
            utc(2026, 12, 1, 5),
        ),
        ("day", utc(2026, 12, 3, 12), "UTC", utc(2026, 12, 3), utc(2026, 12, 4)),
        (
            "day",
            utc(2026, 12, 3, 20),
            "Asia/Kolkata",
            utc(2026, 12, 3, 18, 30),
            utc(2026, 12, 4, 18, 30),
        ),
        # A daylight-saving day in Paris is 23 hours long.
        ("day", utc(2026, 3, 29, 12), "Europe/Paris", utc(2026, 3, 28, 23), utc(2026, 3, 29, 22)),
    ],
)
def test_window(period: Period, now: datetime, zone: str, start: datetime, end: datetime) -> None:
    found = window(period, now, ZoneInfo(zone))
    assert found == Window(start, end)
    assert found.start.tzinfo == UTC and found.end.tzinfo == UTC
    assert found.start <= now < found.end


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        window("day", datetime(2026, 1, 1), ZoneInfo("UTC"))
