"""One behavioural suite for every ``AuditStore`` backend (memory and SQLite)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from keyroute.audit.verifier import verify
from keyroute.core.audit import GENESIS, AuditEntry, AuditQuery, AuditRow, row_hash
from keyroute.storage.base import Store
from keyroute.storage.registry import open_store
from keyroute.storage.sqlite import SqliteStore

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_ids = iter(range(10**9))


def entry(log: str = "ws_a", at: timedelta = timedelta(0), **fields: object) -> AuditEntry:
    number = next(_ids)
    values: dict[str, object] = {
        "id": f"e{number}",
        "log": log,
        "time": T0 + at,
        "kind": "request",
        "request_id": f"req_{number}",
        "status": 200,
        "data": json.dumps({"n": number}),
    }
    values.update(fields)
    return AuditEntry(**values)  # type: ignore[arg-type]


@pytest.fixture(params=["memory", "sqlite"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, anyio_backend: str
) -> AsyncIterator[Store]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'k.db'}"
    backend = open_store(url)
    await backend.migrate()
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


async def rows(store: Store, **query: object) -> list[AuditRow]:
    q = AuditQuery(**{"log": "ws_a", **query})  # type: ignore[arg-type]
    return [row async for row in store.audit.scan(q, page=3)]


async def test_rows_are_chained_in_order_from_genesis(store: Store) -> None:
    batch = [entry(), entry(), entry(body=b"\x00sealed")]
    assert await store.audit.append(batch) == 3
    stored = await rows(store)
    assert [r.entry for r in stored] == batch
    assert [r.seq for r in stored] == [1, 2, 3]
    assert stored[0].prev_hash == GENESIS
    for before, after in zip(stored, stored[1:], strict=False):
        assert after.prev_hash == before.hash
    for row in stored:
        assert row.hash == row_hash(row.prev_hash, row.entry, row.seq)
    assert (await store.audit.head("ws_a")) == stored[-1]


async def test_a_retried_batch_is_stored_once_and_the_chain_goes_on(store: Store) -> None:
    first = [entry(), entry()]
    await store.audit.append(first)
    later = entry()
    assert await store.audit.append([*first, later, later]) == 1
    assert [r.entry.id for r in await rows(store)] == [first[0].id, first[1].id, later.id]
    assert (await verify(store.audit, "ws_a")).ok


async def test_each_log_is_its_own_chain(store: Store) -> None:
    await store.audit.append([entry("ws_a"), entry("ws_b"), entry("ws_a"), entry("gateway")])
    assert [r.seq for r in await rows(store)] == [1, 2]
    assert [r.seq for r in await rows(store, log="ws_b")] == [1]
    assert await store.audit.logs() == ["gateway", "ws_a", "ws_b"]
    assert await store.audit.head("ws_c") is None


async def test_scan_filters(store: Store) -> None:
    await store.audit.append(
        [
            entry(at=timedelta(hours=1), api_key_id="k1", model="m1", status=200),
            entry(at=timedelta(hours=2), api_key_id="k2", served_model="m1", status=429),
            entry(at=timedelta(hours=3), api_key_id="k1", model="m2", end_user="u"),
            entry(at=timedelta(hours=4), kind="admin", action="key.add"),
        ]
    )
    assert len(await rows(store)) == 4
    assert len(await rows(store, since=T0 + timedelta(hours=2))) == 3
    assert len(await rows(store, until=T0 + timedelta(hours=2))) == 1
    assert len(await rows(store, api_key_id="k1")) == 2
    assert len(await rows(store, model="m1")) == 2
    assert len(await rows(store, status=429)) == 1
    assert len(await rows(store, end_user="u")) == 1
    assert len(await rows(store, kind="admin")) == 1


async def test_naive_times_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.audit.append([entry(time=datetime(2026, 1, 1))])


async def test_prune_deletes_a_prefix_and_leaves_a_verifiable_checkpoint(store: Store) -> None:
    await store.audit.append([entry(at=timedelta(days=d)) for d in range(10)])
    cutoff = T0 + timedelta(days=5)
    now = T0 + timedelta(days=20)
    assert await store.audit.prune("ws_a", cutoff, limit=3, now=now) == 3
    assert await store.audit.prune("ws_a", cutoff, limit=3, now=now) == 2
    assert await store.audit.prune("ws_a", cutoff, limit=3, now=now) == 0
    stored = await rows(store)
    assert stored[0].seq == 6
    marks = [r for r in stored if r.entry.kind == "checkpoint"]
    # The first checkpoint (seq 11) was old enough to stay: it is newer than the cut-off.
    assert [json.loads(m.entry.data)["pruned_through_seq"] for m in marks] == [3, 5]
    verdict = await verify(store.audit, "ws_a")
    assert verdict.ok, verdict.problem
    assert verdict.head == stored[-1]


async def test_prune_never_deletes_the_head(store: Store) -> None:
    await store.audit.append([entry(at=timedelta(days=-30))])
    assert await store.audit.prune("ws_a", T0, limit=10, now=T0) == 0
    assert len(await rows(store)) == 1


async def test_two_writers_on_one_file_append_to_one_chain(tmp_path: Path) -> None:
    """Two stores on one SQLite file stand for two worker processes: BEGIN IMMEDIATE
    serialises their appends, and each reads the head inside its own transaction."""
    url = f"sqlite:///{tmp_path / 'k.db'}"
    first = SqliteStore(url)
    await first.migrate()
    second = SqliteStore(url)
    await first.open()
    await second.open()
    try:

        async def write(store: SqliteStore) -> None:
            for _ in range(20):
                await store.audit.append([entry(), entry()])

        await asyncio.gather(write(first), write(second))
        stored = await rows(first)
        assert [r.seq for r in stored] == list(range(1, 81))
        assert (await verify(first.audit, "ws_a")).ok
    finally:
        await first.close()
        await second.close()
