"""``AuditPruner``: per-log retention from the settings, small batches, a verifiable chain."""

from __future__ import annotations

from datetime import timedelta

import pytest

from keyroute.audit.retention import AuditPruner, parse_days, retention_setting
from keyroute.audit.verifier import verify
from keyroute.core.audit import AuditEntry, AuditQuery
from keyroute.storage.memory import MemoryStore
from tests.unit.audit.conftest import T0

pytestmark = pytest.mark.anyio


async def store_with(days: int, log: str = "ws_a") -> MemoryStore:
    store = MemoryStore()
    await store.audit.append(
        [
            AuditEntry(id=f"{log}{d}", log=log, time=T0 + timedelta(days=d), kind="request")
            for d in range(days)
        ]
    )
    return store


async def test_records_past_retention_are_pruned_in_batches(tmp_path: object) -> None:
    store = await store_with(30)
    await store.audit.append([AuditEntry(id="b", log="ws_b", time=T0, kind="request")])
    await store.set_setting(retention_setting("ws_a"), "10")
    pruner = AuditPruner(store, clock=lambda: T0 + timedelta(days=30), batch=4)
    assert await pruner.prune_once() == 20
    rows = [r async for r in store.audit.scan(AuditQuery(log="ws_a"))]
    kept = [r for r in rows if r.entry.kind == "request"]
    assert [r.entry.id for r in kept] == [f"ws_a{d}" for d in range(20, 30)]
    assert (await verify(store.audit, "ws_a")).ok
    assert len([r async for r in store.audit.scan(AuditQuery(log="ws_b"))]) == 1  # no retention


@pytest.mark.parametrize(
    ("text", "days"),
    [("7", 7), ("0.5", 0.5), (None, None), ("", None), ("x", None), ("0", None), ("-3", None)],
)
def test_parse_days(text: str | None, days: float | None) -> None:
    parsed = parse_days(text)
    assert (None if parsed is None else float(parsed)) == days
