"""Calendar periods in a workspace's time zone, and one-minute windows."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from keyroute.admission.periods import Periods, calendar, minute


def ts(text: str) -> float:
    return datetime.fromisoformat(text).astimezone(UTC).timestamp()


@pytest.mark.parametrize(
    ("now", "zone", "day", "day_end", "month", "month_end"),
    [
        # 23:30 UTC on 30 November is already 1 December in Tokyo
        (
            "2026-11-30T23:30:00+00:00",
            "Asia/Tokyo",
            "2026-12-01",
            "2026-12-02T00:00:00+09:00",
            "2026-12",
            "2027-01-01T00:00:00+09:00",
        ),
        # ... and still 30 November in New York, until its own midnight
        (
            "2026-12-01T04:59:59+00:00",
            "America/New_York",
            "2026-11-30",
            "2026-12-01T00:00:00-05:00",
            "2026-11",
            "2026-12-01T00:00:00-05:00",
        ),
        (
            "2026-12-31T23:00:00+00:00",
            "UTC",
            "2026-12-31",
            "2027-01-01T00:00:00+00:00",
            "2026-12",
            "2027-01-01T00:00:00+00:00",
        ),
        # the day daylight saving time ends in Paris lasts 25 hours
        (
            "2026-10-25T01:00:00+00:00",
            "Europe/Paris",
            "2026-10-25",
            "2026-10-26T00:00:00+01:00",
            "2026-10",
            "2026-11-01T00:00:00+01:00",
        ),
    ],
)
def test_calendar(now, zone, day, day_end, month, month_end) -> None:
    got = calendar(ts(now), ZoneInfo(zone))
    assert (got.day.id, got.day.end) == (day, ts(day_end))
    assert (got.month.id, got.month.end) == (month, ts(month_end))


def test_minute_windows() -> None:
    assert minute(120.0) == minute(179.9)
    assert minute(179.9).end == 180.0
    assert minute(180.0).id != minute(179.9).id


def test_the_cached_calendar_moves_at_the_local_midnight() -> None:
    periods = Periods()
    tokyo = ZoneInfo("Asia/Tokyo")
    before = periods.calendar(tokyo, ts("2026-11-30T14:59:59+00:00"))
    assert before.month.id == "2026-11"
    assert periods.calendar(tokyo, ts("2026-11-30T14:00:00+00:00")) is before
    after = periods.calendar(tokyo, ts("2026-11-30T15:00:00+00:00"))
    assert (after.day.id, after.month.id) == ("2026-12-01", "2026-12")
