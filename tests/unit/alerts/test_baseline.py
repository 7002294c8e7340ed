"""The anomaly baseline's "same hour" across day, month and daylight-saving boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from keyroute.alerts.baseline import baseline, same_hour_windows


def ends(now: datetime, zone: str, days: int = 3) -> list[datetime]:
    return [end for _, end in same_hour_windows(now, zone, days)]


def test_utc_same_hour_is_24_hours_back_across_a_month_boundary() -> None:
    now = datetime(2026, 3, 1, 0, 30, tzinfo=UTC)
    assert ends(now, "UTC") == [
        datetime(2026, 2, 28, 0, 30, tzinfo=UTC),
        datetime(2026, 2, 27, 0, 30, tzinfo=UTC),
        datetime(2026, 2, 26, 0, 30, tzinfo=UTC),
    ]
    start, end = same_hour_windows(now, "UTC", 1)[0]
    assert end - start == timedelta(hours=1)


def test_local_hour_across_the_spring_daylight_saving_change() -> None:
    # Europe/Paris went to summer time on 2026-03-29 at 02:00 local (01:00 UTC).
    now = datetime(2026, 3, 30, 9, 0, tzinfo=UTC)  # 11:00 CEST
    # 11:00 local the previous days: 09:00 UTC on the 29th (CEST), 10:00 UTC before (CET).
    assert ends(now, "Europe/Paris") == [
        datetime(2026, 3, 29, 9, 0, tzinfo=UTC),
        datetime(2026, 3, 28, 10, 0, tzinfo=UTC),
        datetime(2026, 3, 27, 10, 0, tzinfo=UTC),
    ]


def test_local_hour_across_the_autumn_change_and_a_half_hour_zone() -> None:
    # America/New_York left summer time on 2026-11-01 at 02:00 local.
    now = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # 09:00 EST
    assert ends(now, "America/New_York", 2) == [
        datetime(2026, 11, 1, 14, 0, tzinfo=UTC),  # 09:00 EST
        datetime(2026, 10, 31, 13, 0, tzinfo=UTC),  # 09:00 EDT
    ]
    # India is UTC+05:30 all year: the local midnight hour is 18:30 UTC.
    now = datetime(2026, 1, 1, 18, 30, tzinfo=UTC)  # 00:00 IST on Jan 2
    assert ends(now, "Asia/Kolkata", 1) == [datetime(2025, 12, 31, 18, 30, tzinfo=UTC)]


def test_baseline_is_the_median_in_usd() -> None:
    usd = 10**12
    assert baseline([]) == 0
    assert baseline([3 * usd, 1 * usd, 100 * usd]) == Decimal(3)
    assert baseline([0, 0, 0, 0, 2 * usd, 2 * usd, 2 * usd]) == 0
    assert baseline([1 * usd, 2 * usd]) == Decimal("1.5")
