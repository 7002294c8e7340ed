"""Usage report documents and CSV: exact decimal strings, unknown costs announced, safe CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

from keyroute.accounting.usage_report import UsageLine, UsageResult
from keyroute.control.usage_views import (
    COLUMNS,
    totals_view,
    usage_csv,
    usage_document,
    usage_lines,
)
from keyroute.storage.base import UsageTotals

PICO = 10**12


def result(by: str | None, lines: list[UsageLine], total: UsageTotals) -> UsageResult:
    return UsageResult(
        workspace_id="ws_1",
        by=by,  # type: ignore[arg-type]
        since=datetime(2026, 3, 1, tzinfo=UTC),
        until=None,
        timezone="UTC",
        total=total,
        lines=tuple(lines),
    )


TOTALS = UsageTotals(
    requests=3,
    failed_requests=1,
    input_tokens=3000,
    cached_input_tokens=2000,
    cache_write_tokens=500,
    cache_write_1h_tokens=100,
    output_tokens=700,
    reasoning_tokens=200,
    paid_pico=85 * PICO // 100 + 1,  # $0.850000000001: beyond float precision
    list_pico=PICO,
    unknown_cost_requests=1,
    cache_saving_pico=PICO // 4,
    routed_requests=1,
    reference_pico=2 * PICO,
    routing_saving_pico=-PICO // 2,
    estimated_requests=1,
)


def test_totals_are_exact_decimal_strings() -> None:
    view = totals_view(TOTALS)
    assert list(view) == list(COLUMNS)
    assert view["cost_usd"] == "0.850000000001"
    assert view["list_cost_usd"] == "1"
    assert view["discount_saving_usd"] == "0.149999999999"
    assert view["cost_unknown_requests"] == 1
    assert view["cache_hit_rate"] == "0.6667"
    assert view["cache_saving_usd"] == "0.25"
    assert (view["reference_cost_usd"], view["routing_saving_usd"]) == ("2", "-0.5")
    assert (view["input_tokens"], view["cached_input_tokens"], view["cache_write_tokens"]) == (
        3000,
        2000,
        500,
    )
    assert (view["output_tokens"], view["reasoning_tokens"]) == (700, 200)


def test_nothing_used_costs_zero_and_has_no_hit_rate() -> None:
    view = totals_view(UsageTotals())
    assert (view["cost_usd"], view["list_cost_usd"], view["cache_hit_rate"]) == ("0", "0", None)


def test_an_ungrouped_document() -> None:
    doc = usage_document(result(None, [UsageLine(group=None, totals=TOTALS)], TOTALS))
    assert (doc["workspace_id"], doc["by"], doc["since"], doc["until"]) == (
        "ws_1",
        None,
        "2026-03-01T00:00:00Z",
        None,
    )
    assert doc["requests"] == 3 and doc["cost_usd"] == "0.850000000001"
    assert doc["data"] == [totals_view(TOTALS)]


def test_a_grouped_document_names_each_group() -> None:
    one, two = UsageTotals(requests=1), UsageTotals(requests=2)
    days = [
        UsageLine(group=date(2026, 3, 1), totals=one),
        UsageLine(group=date(2026, 3, 2), totals=two),
    ]
    doc = usage_document(result("day", days, UsageTotals(requests=3)))
    assert [(d["day"], d["requests"]) for d in doc["data"]] == [
        ("2026-03-01", 1),
        ("2026-03-02", 2),
    ]
    keys = usage_lines(result("key", [UsageLine(group=None, totals=one)], one))
    assert keys[0]["key_id"] is None


def test_csv_has_a_header_and_one_line_per_group() -> None:
    lines = [
        UsageLine(group="demo/fast", totals=TOTALS),
        UsageLine(group=None, totals=UsageTotals(requests=1)),
    ]
    parsed = list(csv.DictReader(io.StringIO(usage_csv(result("model", lines, TOTALS)))))
    assert parsed[0]["model"] == "demo/fast"
    assert parsed[0]["cost_usd"] == "0.850000000001"
    assert parsed[0]["routing_saving_usd"] == "-0.5"  # a number stays a number
    assert parsed[1]["model"] == "" and parsed[1]["cache_hit_rate"] == ""
    assert list(parsed[0]) == ["model", *COLUMNS]


def test_csv_defuses_formulas_in_client_chosen_text() -> None:
    lines = [UsageLine(group=text, totals=UsageTotals(requests=1)) for text in ("=1+1", "@x", "-2")]
    parsed = list(csv.DictReader(io.StringIO(usage_csv(result("user", lines, TOTALS)))))
    assert [row["user"] for row in parsed] == ["'=1+1", "'@x", "-2"]


def test_an_ungrouped_csv_is_the_total() -> None:
    parsed = list(csv.DictReader(io.StringIO(usage_csv(result(None, [], TOTALS)))))
    assert len(parsed) == 1 and parsed[0]["requests"] == "3"


def test_keys_show_their_names() -> None:
    lines = [
        UsageLine(group="key_1", totals=UsageTotals(requests=1)),
        UsageLine(group="key_gone", totals=UsageTotals(requests=1)),
    ]
    report = UsageResult(
        workspace_id="ws_1",
        by="key",
        since=None,
        until=None,
        timezone="UTC",
        total=UsageTotals(requests=2),
        lines=tuple(lines),
        names={"key_1": "ci"},
    )
    assert [(d["key_id"], d["key_name"]) for d in usage_lines(report)] == [
        ("key_1", "ci"),
        ("key_gone", None),
    ]
    assert usage_csv(report).splitlines()[0].startswith("key_id,key_name,requests,")
