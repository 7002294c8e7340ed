"""Usage reports as JSON-ready documents and CSV text (``keyroute usage``, the admin API).

Invariants:
- Money is a plain decimal string of USD made from integer pico-dollar sums
  (``core.money.usd_text``): exact, never a float. Token counts are integers.
- ``cost_unknown_requests`` travels beside every cost: requests whose price is unknown are
  excluded from the cost sums and counted there, never added as 0 unannounced.
- The same columns, in the same order, in JSON lines, CSV and the CLI table.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from keyroute.accounting.usage_report import UsageResult
from keyroute.core.money import usd_text
from keyroute.storage.base import UsageTotals

GROUP_FIELDS = {
    "day": "day",
    "model": "model",
    "key": "key_id",
    "provider": "provider",
    "user": "user",
    "policy": "policy",
}

COLUMNS = (
    "requests",
    "failed_requests",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cost_usd",
    "list_cost_usd",
    "discount_saving_usd",
    "cost_unknown_requests",
    "cache_hit_rate",
    "cache_saving_usd",
    "routed_requests",
    "reference_cost_usd",
    "routing_saving_usd",
    "estimated_requests",
)

_RATE = Decimal("0.0001")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _rate(part: int, whole: int) -> str | None:
    if not whole:
        return None
    return str((Decimal(part) / Decimal(whole)).quantize(_RATE, rounding=ROUND_HALF_EVEN))


def totals_view(t: UsageTotals) -> dict[str, Any]:
    return {
        "requests": t.requests,
        "failed_requests": t.failed_requests,
        "input_tokens": t.input_tokens,
        "cached_input_tokens": t.cached_input_tokens,
        "cache_write_tokens": t.cache_write_tokens,
        "cache_write_1h_tokens": t.cache_write_1h_tokens,
        "output_tokens": t.output_tokens,
        "reasoning_tokens": t.reasoning_tokens,
        "cost_usd": usd_text(t.paid_pico),
        "list_cost_usd": usd_text(t.list_pico),
        "discount_saving_usd": usd_text(t.list_pico - t.paid_pico),
        "cost_unknown_requests": t.unknown_cost_requests,
        "cache_hit_rate": _rate(t.cached_input_tokens, t.input_tokens),
        "cache_saving_usd": usd_text(t.cache_saving_pico),
        "routed_requests": t.routed_requests,
        "reference_cost_usd": usd_text(t.reference_pico),
        "routing_saving_usd": usd_text(t.routing_saving_pico),
        "estimated_requests": t.estimated_requests,
    }


def _group(value: date | str | None) -> str | None:
    return value.isoformat() if isinstance(value, date) else value


def _group_fields(result: UsageResult, value: date | str | None) -> dict[str, Any]:
    """The group's own fields: its value, and for a gateway key its name too (``None`` for a
    key deleted since)."""
    assert result.by is not None  # noqa: S101 - only grouped reports have group fields
    fields: dict[str, Any] = {GROUP_FIELDS[result.by]: _group(value)}
    if result.by == "key":
        fields["key_name"] = result.names.get(value) if isinstance(value, str) else None
    return fields


def _header(result: UsageResult) -> list[str]:
    if result.by is None:
        return list(COLUMNS)
    named = ["key_name"] if result.by == "key" else []
    return [GROUP_FIELDS[result.by], *named, *COLUMNS]


def usage_lines(result: UsageResult) -> list[dict[str, Any]]:
    """One JSON object per group (the whole total when the report is not grouped)."""
    if result.by is None:
        return [totals_view(result.total)]
    return [
        {**_group_fields(result, line.group), **totals_view(line.totals)} for line in result.lines
    ]


def usage_document(result: UsageResult) -> dict[str, Any]:
    """The whole report: the range, the grand total at the top level, the groups in ``data``."""
    return {
        "workspace_id": result.workspace_id,
        "by": result.by,
        "since": _time(result.since),
        "until": _time(result.until),
        "timezone": result.timezone,
        **totals_view(result.total),
        "data": usage_lines(result),
    }


def _cell(value: Any) -> Any:
    """A CSV cell; text a spreadsheet would run as a formula (an end-user tag is the client's
    choice) is prefixed with an apostrophe. Amounts are numbers (a negative saving stays one)."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in _FORMULA and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def usage_csv(result: UsageResult) -> str:
    """The groups as CSV with a header line (one line, the total, when not grouped)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=_header(result), lineterminator="\n")
    writer.writeheader()
    for line in usage_lines(result):
        writer.writerow({k: _cell(v) for k, v in line.items()})
    return out.getvalue()
