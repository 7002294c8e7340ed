"""Budget periods and projected exhaustion across day and month boundaries and time zones."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from keyroute.alerts.projection import exhaustion, period_bounds


@pytest.mark.parametrize(
    ("now", "period", "zone", "start", "end"),
    [
        # UTC month of February in a non-leap year.
        ("2026-02-14T12:00Z", "month", "UTC", "2026-02-01T00:00Z", "2026-03-01T00:00Z"),
        # December rolls into the next year.
        ("2026-12-31T23:59Z", "month", "UTC", "2026-12-01T00:00Z", "2027-01-01T00:00Z"),
        # 23:30 UTC on Jan 31 is already February in Tokyo (UTC+9).
        ("2026-01-31T23:30Z", "month", "Asia/Tokyo", "2026-01-31T15:00Z", "2026-02-28T15:00Z"),
        # ... and still January 31 in Los Angeles (UTC-8).
        (
            "2026-02-01T05:00Z",
            "day",
            "America/Los_Angeles",
            "2026-01-31T08:00Z",
            "2026-02-01T08:00Z",
        ),
        # The Paris day of the spring change has 23 hours.
        ("2026-03-29T12:00Z", "day", "Europe/Paris", "2026-03-28T23:00Z", "2026-03-29T22:00Z"),
        # A month that starts in winter time and ends in summer time (Paris, March).
        ("2026-03-15T12:00Z", "month", "Europe/Paris", "2026-02-28T23:00Z", "2026-03-31T22:00Z"),
    ],
)
def test_period_bounds(now: str, period: str, zone: str, start: str, end: str) -> None:
    def t(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    assert period_bounds(t(now), period, zone) == (t(start), t(end))  # type: ignore[arg-type]


def test_exhaustion() -> None:
    now = datetime(2026, 4, 20, 12, 0, tzinfo=UTC)
    at = exhaustion(now, limit_usd=Decimal(1000), spent_usd=Decimal(400), usd_per_hour=Decimal(10))
    assert at == datetime(2026, 4, 23, 0, 0, tzinfo=UTC)  # $600 left at $10/h: 60 h
    assert (
        exhaustion(now, limit_usd=Decimal(10), spent_usd=Decimal(12), usd_per_hour=Decimal(1))
        == now
    )
    assert (
        exhaustion(now, limit_usd=Decimal(10), spent_usd=Decimal(1), usd_per_hour=Decimal(0))
        is None
    )
