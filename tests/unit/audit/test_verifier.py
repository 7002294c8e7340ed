"""``verify`` on a memory chain tampered with in every way: the first broken record is named."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from keyroute.audit.verifier import verify
from keyroute.core.audit import AuditEntry
from keyroute.storage.memory_audit import MemoryAuditStore
from tests.unit.audit.conftest import T0

pytestmark = pytest.mark.anyio


async def chain_of(n: int) -> MemoryAuditStore:
    store = MemoryAuditStore()
    await store.append(
        [
            AuditEntry(
                id=f"e{i}",
                log="ws",
                time=T0 + timedelta(seconds=i),
                kind="request",
                request_id=f"r{i}",
            )
            for i in range(1, n + 1)
        ]
    )
    return store


async def test_an_intact_chain_verifies_and_an_empty_one_too() -> None:
    store = await chain_of(5)
    verdict = await verify(store, "ws")
    assert (
        verdict.ok and verdict.records == 5 and verdict.head is not None and verdict.head.seq == 5
    )
    assert (await verify(store, "nothing")).ok


async def test_an_edited_record_is_named() -> None:
    store = await chain_of(5)
    rows = store.chains["ws"]
    rows[2] = dataclasses.replace(rows[2], entry=dataclasses.replace(rows[2].entry, status=500))
    verdict = await verify(store, "ws")
    assert not verdict.ok and verdict.broken is not None and verdict.broken.seq == 3
    assert "seq 3 " in str(verdict.problem) and "request r3" in str(verdict.problem)


async def test_a_deleted_record_is_named_by_its_place() -> None:
    store = await chain_of(5)
    del store.chains["ws"][1]
    verdict = await verify(store, "ws")
    assert "seq 2 is missing" in str(verdict.problem)


async def test_a_deleted_first_record_without_a_checkpoint_is_caught() -> None:
    store = await chain_of(3)
    del store.chains["ws"][0]
    verdict = await verify(store, "ws")
    assert not verdict.ok and verdict.broken is not None and verdict.broken.seq == 2


async def test_reordered_records_are_caught() -> None:
    store = await chain_of(5)
    rows = store.chains["ws"]
    a, b = rows[1], rows[2]
    rows[1] = dataclasses.replace(b, seq=2)
    rows[2] = dataclasses.replace(a, seq=3)
    verdict = await verify(store, "ws")
    assert verdict.broken is not None and verdict.broken.seq == 2


async def test_an_inserted_record_is_caught() -> None:
    store = await chain_of(4)
    rows = store.chains["ws"]
    forged = dataclasses.replace(rows[1], entry=dataclasses.replace(rows[1].entry, id="forged"))
    rows.insert(2, dataclasses.replace(forged, seq=3))
    for i, row in enumerate(rows[3:], start=4):
        rows[i - 1] = dataclasses.replace(row, seq=i)
    verdict = await verify(store, "ws")
    assert not verdict.ok and verdict.broken is not None and verdict.broken.seq == 3


async def test_a_published_head_catches_a_cut_tail_and_a_rewrite() -> None:
    store = await chain_of(5)
    head = store.chains["ws"][3]
    assert (await verify(store, "ws", expect=(head.seq, head.hash))).ok
    del store.chains["ws"][3:]
    assert "tail was cut" in str((await verify(store, "ws", expect=(head.seq, head.hash))).problem)
    wrong = (await verify(store, "ws", expect=(2, "0" * 64))).problem
    assert "not the published head" in str(wrong)
