"""``UsageReport`` and ``parse_time``: grouping, day boundaries in a time zone, exact totals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from keyroute.accounting.usage_report import UsageReport, UsageResult, add, parse_time
from keyroute.accounting.usage_row import usage_row
from keyroute.core.errors import InvalidRequest
from keyroute.core.money import Cost
from keyroute.core.response import Usage
from keyroute.storage.base import UsageTotals
from tests.unit.accounting.conftest import T0, memory_store, record

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "param", "zone", "expected"),
    [
        ("2026-03-01", "since", UTC, datetime(2026, 3, 1, tzinfo=UTC)),
        ("2026-03-01", "until", UTC, datetime(2026, 3, 2, tzinfo=UTC)),  # the day included
        ("2026-03-01T12:30:00Z", "since", UTC, datetime(2026, 3, 1, 12, 30, tzinfo=UTC)),
        ("2026-03-01T12:30:00+02:00", "until", UTC, datetime(2026, 3, 1, 10, 30, tzinfo=UTC)),
        ("2026-03-01T12:30", "since", UTC, datetime(2026, 3, 1, 12, 30, tzinfo=UTC)),
        ("7d", "since", UTC, NOW - timedelta(days=7)),
        ("24h", "since", UTC, NOW - timedelta(hours=24)),
        (" 30m ", "until", UTC, NOW - timedelta(minutes=30)),
        (
            "2026-03-01",
            "since",
            ZoneInfo("Asia/Kolkata"),
            datetime(2026, 2, 28, 18, 30, tzinfo=UTC),
        ),
        (
            "2026-03-01T00:00",
            "since",
            ZoneInfo("America/New_York"),
            datetime(2026, 3, 1, 5, tzinfo=UTC),
        ),
    ],
)
def test_parse_time(text: str, param: str, zone: timezone, expected: datetime) -> None:
    parsed = parse_time(text, param=param, now=NOW, zone=zone)
    assert parsed == expected and parsed.tzinfo is UTC


@pytest.mark.parametrize("text", ["", "yesterday", "2026-13-01", "7w", "-7d", "2026-03-01T25:00"])
def test_parse_time_refuses_with_the_parameter_named(text: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_time(text, param="since", now=NOW)
    assert caught.value.param == "since"


def test_add_sums_every_field() -> None:
    one = UsageTotals(requests=1, paid_pico=5, unknown_cost_requests=1, routing_saving_pico=-3)
    two = UsageTotals(requests=2, paid_pico=7, cached_input_tokens=4)
    assert add(one, two) == UsageTotals(
        requests=3,
        paid_pico=12,
        unknown_cost_requests=1,
        routing_saving_pico=-3,
        cached_input_tokens=4,
    )


async def report(
    store_records: list[tuple[timedelta, dict[str, object]]], **options: object
) -> UsageResult:
    store = await memory_store()
    rows = []
    for number, (at, fields) in enumerate(store_records):
        made = record(at=at, **fields)
        row = usage_row(made, f"r{number}")
        assert row is not None
        rows.append(row)
    await store.usage.append(rows)
    return await UsageReport(store.usage).run("w1", **options)  # type: ignore[arg-type]


def priced(paid: int | None, listed: int | None, **fields: object) -> dict[str, object]:
    return {"cost": Cost(list_pico=listed, paid_pico=paid), **fields}


async def test_ungrouped_is_one_line_with_the_total() -> None:
    result = await report(
        [
            (timedelta(0), priced(85, 100, usage=Usage(input_tokens=10, output_tokens=5))),
            (timedelta(hours=1), priced(None, None, usage=Usage(input_tokens=3))),
        ]
    )
    assert result.by is None and len(result.lines) == 1
    assert result.total == result.lines[0].totals
    assert (result.total.requests, result.total.input_tokens) == (2, 13)
    assert (result.total.paid_pico, result.total.list_pico) == (85, 100)
    assert result.total.unknown_cost_requests == 1


async def test_an_empty_report_totals_zero() -> None:
    result = await report([], by="model")
    assert result.lines == () and result.total == UsageTotals()


async def test_by_model_with_a_total_that_sums_the_lines() -> None:
    result = await report(
        [
            (timedelta(0), priced(1, 2, served_model="demo/fast")),
            (timedelta(0), priced(3, 4, served_model="demo/smart")),
            (timedelta(0), priced(5, 6, served_model="demo/fast")),
        ],
        by="model",
    )
    assert [(line.group, line.totals.paid_pico) for line in result.lines] == [
        ("demo/fast", 6),
        ("demo/smart", 3),
    ]
    assert (result.total.paid_pico, result.total.list_pico, result.total.requests) == (9, 12, 3)


async def test_days_are_utc_days_by_default() -> None:
    # T0 is 2026-03-01 12:00 UTC.
    result = await report(
        [
            (timedelta(hours=-13), {}),
            (timedelta(hours=11, minutes=59), {}),
            (timedelta(hours=12), {}),
        ],
        by="day",
    )
    assert [(line.group, line.totals.requests) for line in result.lines] == [
        (date(2026, 2, 28), 1),
        (date(2026, 3, 1), 1),
        (date(2026, 3, 2), 1),
    ]


async def test_days_in_a_half_hour_zone_fold_quarter_hours() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")  # UTC+5:30: its midnight is 18:30 UTC
    result = await report(
        [
            (timedelta(hours=6, minutes=29), {}),  # 18:29 UTC: 23:59 on March 1st there
            (timedelta(hours=6, minutes=30), {}),  # 18:30 UTC: March 2nd there
            (timedelta(hours=6, minutes=44), {}),
        ],
        by="day",
        zone=kolkata,
    )
    assert [(line.group, line.totals.requests) for line in result.lines] == [
        (date(2026, 3, 1), 1),
        (date(2026, 3, 2), 2),
    ]
    assert result.timezone == "Asia/Kolkata"


async def test_since_and_until_filter() -> None:
    result = await report(
        [(timedelta(minutes=m), {}) for m in (0, 10, 20)],
        since=T0 + timedelta(minutes=10),
        until=T0 + timedelta(minutes=20),
    )
    assert result.total.requests == 1


async def test_a_bad_grouping_or_range_is_refused() -> None:
    store = await memory_store()
    with pytest.raises(InvalidRequest) as caught:
        await UsageReport(store.usage).run("w1", by="colour")  # type: ignore[arg-type]
    assert caught.value.param == "by"
    with pytest.raises(InvalidRequest) as caught:
        await UsageReport(store.usage).run("w1", since=T0, until=T0)
    assert caught.value.param == "until"
