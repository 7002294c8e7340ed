"""Audit export: JSON lines and CSV with the documented columns, streamed a row at a time."""

from __future__ import annotations

import csv
import io
import json

import pytest

from keyroute.audit.entries import AdminEvent
from keyroute.audit.export import FIELDS, export_lines
from keyroute.audit.writer import AuditSpill, AuditWriter
from keyroute.core.audit import AuditQuery
from keyroute.core.money import Cost
from keyroute.core.response import Usage
from keyroute.storage.memory_audit import MemoryAuditStore
from tests.unit.audit.conftest import T0, record

pytestmark = pytest.mark.anyio


async def store_with_records(tmp_path: object) -> tuple[MemoryAuditStore, list[str]]:
    store = MemoryAuditStore()
    writer = AuditWriter(store, AuditSpill(tmp_path))  # type: ignore[arg-type]
    records = [
        record(
            api_key_id="k1",
            requested_model="m",
            served_model="openai/m",
            usage=Usage(input_tokens=5, output_tokens=2),
            cost=Cost(list_pico=10**6, paid_pico=10**6),
        ),
        record(status=502, route={"policy": "fallback", "why": ["a, b"]}),
    ]
    for r in records:
        writer.submit(r)
    writer.log_event(
        AdminEvent(action="key.revoke", time=T0, workspace_id="ws_a", actor="cli:ops", target="k1")
    )
    assert await writer.drain()
    return store, [r.request_id for r in records]


async def test_jsonl_has_the_contract_fields(tmp_path: object) -> None:
    store, ids = await store_with_records(tmp_path)
    lines = [line async for line in export_lines(store, AuditQuery(log="ws_a"), "jsonl")]
    assert all(line.endswith("\n") for line in lines)
    rows = [json.loads(line) for line in lines]
    assert [r["request_id"] for r in rows[:2]] == ids
    first = rows[0]
    for name in ("time", "workspace", "key_id", "model", "served_model", "status", "cost_usd"):
        assert name in first
    assert (first["workspace"], first["key_id"], first["cost_usd"]) == ("ws_a", "k1", "0.000001")
    assert first["input_tokens"] == 5 and first["seq"] == 1 and len(first["hash"]) == 64
    assert rows[2]["kind"] == "admin" and rows[2]["actor"] == "cli:ops"
    assert all(set(r) <= set(FIELDS) for r in rows)


async def test_csv_has_the_documented_columns_and_quotes_nested_values(tmp_path: object) -> None:
    store, ids = await store_with_records(tmp_path)
    text = "".join([line async for line in export_lines(store, AuditQuery(log="ws_a"), "csv")])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == FIELDS and len(rows) == 3
    assert rows[1]["request_id"] == ids[1] and rows[1]["status"] == "502"
    assert json.loads(rows[1]["route"]) == {"policy": "fallback", "why": ["a, b"]}
    assert rows[0]["cost_usd"] == "0.000001" and rows[1]["cost_usd"] == ""


async def test_filters_reach_the_store(tmp_path: object) -> None:
    store, ids = await store_with_records(tmp_path)
    query = AuditQuery(log="ws_a", status=502)
    assert [json.loads(x)["request_id"] async for x in export_lines(store, query, "jsonl")] == ids[
        1:
    ]
