"""``AuditWriter``: every record with a workspace logged, the gateway log rate-limited, admin
events never, spill files in the audit codec, a restart replaying them without duplicates."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from keyroute.audit.entries import AdminEvent
from keyroute.audit.verifier import verify
from keyroute.audit.writer import AuditSpill, AuditWriter, decode_entry, encode_entry
from keyroute.core.audit import GATEWAY_LOG, AuditEntry, AuditQuery
from keyroute.storage.memory_audit import MemoryAuditStore
from tests.unit.audit.conftest import T0, record

pytestmark = pytest.mark.anyio


def spill_files(directory: Path, pattern: str) -> list[Path]:
    return list(directory.glob(pattern))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def entries(store: MemoryAuditStore, log: str = "ws_a") -> list[AuditEntry]:
    return [row.entry async for row in store.scan(AuditQuery(log=log))]


async def test_every_record_with_a_workspace_is_logged_once(tmp_path: Path) -> None:
    store = MemoryAuditStore()
    writer = AuditWriter(store, AuditSpill(tmp_path), batch_size=7)
    records = [record(status=s) for s in (200, 404, 429, 502, 499) * 5]
    for r in records:
        writer.submit(r)
    assert await writer.drain()
    logged = await entries(store)
    assert [e.request_id for e in logged] == [r.request_id for r in records]
    assert (await verify(store, "ws_a")).ok


async def test_the_gateway_log_is_rate_limited_and_says_how_many_it_left_out(
    tmp_path: Path,
) -> None:
    store, clock = MemoryAuditStore(), Clock()
    writer = AuditWriter(store, AuditSpill(tmp_path), gateway_rate=2, gateway_burst=3, clock=clock)
    for _ in range(10):
        writer.submit(record(ws=None, status=401))
    assert writer.suppressed == 7
    clock.now = 1.0  # two more tokens
    writer.submit(record(ws=None, status=401))
    writer.submit(record(ws=None, status=401))
    writer.submit(record(ws=None, status=401))
    for _ in range(50):  # records with a workspace and admin events are never limited
        writer.submit(record())
    writer.log_event(AdminEvent(action="key.add", time=T0, workspace_id=None, actor="cli"))
    assert await writer.drain()
    gateway = await entries(store, GATEWAY_LOG)
    assert len(gateway) == 6 and len(await entries(store)) == 50
    notes = [json.loads(e.data).get("suppressed_before") for e in gateway if e.kind == "request"]
    assert notes == [None, None, None, 7, None]
    assert writer.suppressed == 8


def test_entries_round_trip_through_the_spill_codec() -> None:
    entry = AuditEntry(
        id="x", log="ws_a", time=T0 + timedelta(microseconds=5), kind="request", body=b"\x00\xff"
    )
    assert decode_entry(encode_entry(entry)) == entry
    with pytest.raises(ValueError, match="not an audit entry"):
        decode_entry('{"id": "x"}')


class Refusing(MemoryAuditStore):
    refuse = True

    async def append(self, entries: object, /) -> int:  # type: ignore[override]
        if self.refuse:
            raise OSError("database is locked")
        return await super().append(entries)  # type: ignore[arg-type]


async def test_refused_records_spill_at_close_and_the_next_writer_replays_them(
    tmp_path: Path,
) -> None:
    store = Refusing()
    first = AuditWriter(store, AuditSpill(tmp_path), grace=0.0, retry_delay=0.0)
    records = [record() for _ in range(20)]
    for r in records:
        first.submit(r)
    await first.close()
    assert spill_files(tmp_path, "audit-*.jsonl") and await entries(store) == []
    store.refuse = False
    second = AuditWriter(store, AuditSpill(tmp_path))
    assert await second.drain()
    assert [e.request_id for e in await entries(store)] == [r.request_id for r in records]
    assert await second.drain()  # nothing left to replay, nothing doubled
    assert len(await entries(store)) == 20 and not spill_files(tmp_path, "audit-*.jsonl")
