"""Audit export: the rows of one chain as JSON lines or CSV, streamed a line at a time.

Invariants:
- Constant memory: rows come from ``AuditStore.scan`` a page at a time and each becomes one
  line as it is read; nothing collects the export.
- The schema is stable and documented in ``docs/audit.md``: ``FIELDS`` (the CSV columns, in
  order) is every key a JSON line may carry; new fields are only ever appended. Nested values
  (attempts, route, old and new values) are JSON text in CSV cells.
- Bodies (a workspace that logs them) are exported only as JSON lines of that workspace's own
  log, opened with its data key, redacted as they were stored (``body``); never in CSV.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Callable
from typing import Literal, TypeAlias

from keyroute.core.audit import GATEWAY_LOG, AuditQuery, AuditRow, AuditStore

ExportFormat: TypeAlias = Literal["jsonl", "csv"]
FORMATS: tuple[ExportFormat, ...] = ("jsonl", "csv")

FIELDS: tuple[str, ...] = (
    "seq",
    "kind",
    "time",
    "workspace",
    "request_id",
    "key_id",
    "key_name",
    "user",
    "client_ip",
    "user_agent",
    "endpoint",
    "inbound_format",
    "operation",
    "model",
    "served_model",
    "provider",
    "upstream_model",
    "provider_key_id",
    "cache",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
    "usage_estimated",
    "cost_usd",
    "list_cost_usd",
    "status",
    "upstream_status",
    "error_code",
    "stream",
    "stream_outcome",
    "total_ms",
    "upstream_ms",
    "ttft_ms",
    "attempts",
    "route",
    "suppressed_before",
    "action",
    "actor",
    "target",
    "old",
    "new",
    "details",
    "hash",
    "prev_hash",
)


def export_object(row: AuditRow) -> dict[str, object]:
    """One exported record: the entry's data, then its place in the chain."""
    entry = row.entry
    data = json.loads(entry.data)
    values: dict[str, object] = dict.fromkeys(FIELDS)
    values.update(data)
    values.update(
        seq=row.seq,
        kind=entry.kind,
        time=entry.time.isoformat(timespec="microseconds"),
        workspace=None if entry.log == GATEWAY_LOG else entry.log,
        hash=row.hash,
        prev_hash=row.prev_hash,
    )
    if entry.kind == "checkpoint":
        values["action"] = entry.action
    return values


def _cell(value: object) -> object:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return "" if value is None else value


def csv_line(values: list[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


async def export_lines(
    store: AuditStore,
    query: AuditQuery,
    fmt: ExportFormat,
    open_body: Callable[[AuditRow], object] | None = None,
) -> AsyncIterator[str]:
    """The export of ``query``'s rows, one line (with its newline) at a time; ``open_body``
    opens a logged body for JSON lines (``body``: only on rows that have one)."""
    if fmt == "csv":
        yield csv_line(list(FIELDS))
    async for row in store.scan(query):
        values = export_object(row)
        if fmt == "jsonl" and open_body is not None and row.entry.body is not None:
            values["body"] = open_body(row)
        if fmt == "jsonl":
            yield json.dumps(values, sort_keys=False, separators=(",", ":")) + "\n"
        else:
            yield csv_line([_cell(values.get(name)) for name in FIELDS])
