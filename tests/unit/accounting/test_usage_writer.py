"""``UsageWriter``: batching, retries, spilling and shutdown, counted record by record."""

from __future__ import annotations

import asyncio
import atexit
from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest

from keyroute.accounting.usage_row import usage_row
from keyroute.accounting.usage_spill import UsageSpill
from keyroute.accounting.usage_writer import UsageWriter
from keyroute.core.money import Cost
from keyroute.core.record import RequestRecord
from keyroute.storage.base import UsageGroup, UsageQuery, UsageRow, UsageStore
from keyroute.storage.memory import MemoryStore
from keyroute.tasks import TaskGroup
from tests.unit.accounting.conftest import memory_store, record

pytestmark = pytest.mark.anyio


class RecordingStore:
    """A ``UsageStore`` that passes through to a real one and can fail on demand.

    ``fail_next`` appends fail before touching the store; with ``commit_then_fail`` they fail
    after storing (a lost acknowledgement); ``refuse`` names request ids that fail any batch
    holding them, for ``refuse_times`` attempts.
    """

    def __init__(self, inner: UsageStore) -> None:
        self.inner = inner
        self.batches: list[list[str]] = []
        self.fail_next = 0
        self.commit_then_fail = False
        self.refuse: set[str] = set()
        self.refuse_times = 0
        self.appended = asyncio.Event()

    async def append(self, rows: Sequence[UsageRow]) -> int:
        ids = [r.request_id for r in rows]
        if self.refuse_times and self.refuse & set(ids):
            self.refuse_times -= 1
            raise OSError("refused")
        if self.fail_next and not self.commit_then_fail:
            self.fail_next -= 1
            raise OSError("database is locked")
        added = await self.inner.append(rows)
        if self.fail_next:
            self.fail_next -= 1
            raise OSError("connection lost after commit")
        self.batches.append(ids)
        self.appended.set()
        return added

    async def totals(self, query: UsageQuery) -> list[UsageGroup]:
        return await self.inner.totals(query)


async def stored(store: MemoryStore, ws: str = "w1") -> int:
    groups = await store.usage.totals(UsageQuery(workspace_id=ws))
    return sum(g.totals.requests for g in groups)


async def setup(
    tmp_path: Path, **options: object
) -> tuple[MemoryStore, RecordingStore, UsageWriter]:
    store = await memory_store()
    recording = RecordingStore(store.usage)
    options = {"retry_delay": 0.0, **options}
    writer = UsageWriter(recording, UsageSpill(tmp_path / "spill"), **options)  # type: ignore[arg-type]
    return store, recording, writer


def submit(writer: UsageWriter, n: int, **fields: object) -> list[RequestRecord]:
    records = [record(**fields) for _ in range(n)]
    for r in records:
        writer.submit(r)
    return records


async def test_submit_only_queues(tmp_path: Path) -> None:
    store, recording, writer = await setup(tmp_path)
    submit(writer, 3)
    assert writer.queued == 3 and recording.batches == []


async def test_drain_writes_in_batches(tmp_path: Path) -> None:
    store, recording, writer = await setup(tmp_path, batch_size=4, capacity=100)
    records = submit(writer, 10)
    assert await writer.drain()
    assert [len(b) for b in recording.batches] == [4, 4, 2]
    assert [i for b in recording.batches for i in b] == [r.request_id for r in records]
    assert (writer.queued, writer.written, await stored(store)) == (0, 10, 10)


async def test_the_task_wakes_on_a_full_batch(tmp_path: Path) -> None:
    store, recording, writer = await setup(tmp_path, batch_size=5, interval=3600)
    tasks = TaskGroup()
    writer.start(tasks.spawn)
    submit(writer, 5)
    with anyio.fail_after(10):  # a hang guard, not a timing assertion
        await recording.appended.wait()
    assert recording.batches and len(recording.batches[0]) == 5
    await writer.close()
    await tasks.close()


async def test_close_stores_every_queued_record(tmp_path: Path) -> None:
    store, recording, writer = await setup(tmp_path, batch_size=100, interval=3600)
    tasks = TaskGroup()
    writer.start(tasks.spawn)
    submit(writer, 1234)
    await writer.close()
    await tasks.close()
    assert (await stored(store), writer.written, writer.queued) == (1234, 1234, 0)


async def test_a_failing_store_is_retried_until_it_takes_the_batch(tmp_path: Path) -> None:
    store, recording, writer = await setup(tmp_path, batch_size=10)
    recording.fail_next = 3
    submit(writer, 25)
    assert await writer.drain()
    assert writer.failures == 3
    assert await stored(store) == 25
    ids = [i for b in recording.batches for i in b]
    assert len(ids) == len(set(ids)) == 25


async def test_a_lost_acknowledgement_does_not_count_twice(tmp_path: Path) -> None:
    store, recording, writer = await setup(tmp_path, batch_size=10)
    recording.fail_next, recording.commit_then_fail = 2, True
    submit(writer, 10)
    assert await writer.drain()
    assert await stored(store) == 10
    assert (writer.written, writer.duplicates, writer.failures) == (0, 10, 2)


async def test_one_bad_row_does_not_hold_back_the_others(tmp_path: Path) -> None:
    store, recording, writer = await setup(tmp_path, batch_size=8)
    records = submit(writer, 8)
    poison = records[3].request_id
    recording.refuse, recording.refuse_times = {poison}, 6
    assert await writer.drain()
    ids = [i for b in recording.batches for i in b]
    assert ids[-1] == poison  # every other row was stored before it
    assert sorted(ids) == sorted(r.request_id for r in records)
    assert await stored(store) == 8


async def test_past_capacity_records_spill_and_come_back(tmp_path: Path) -> None:
    store, recording, writer = await setup(tmp_path, batch_size=5, capacity=10)
    submit(writer, 25)
    assert (writer.queued, writer.spilled) == (10, 15)
    assert await writer.drain()
    assert (await stored(store), writer.written) == (25, 25)
    assert list((tmp_path / "spill").iterdir()) == []


async def test_a_store_down_at_shutdown_spills_and_the_next_process_replays(
    tmp_path: Path,
) -> None:
    store, recording, writer = await setup(tmp_path, grace=0.0)
    recording.fail_next = 10**9
    records = submit(writer, 7, cost=Cost(list_pico=3, paid_pico=2))
    await writer.close()
    assert await stored(store) == 0
    assert writer.spilled == 7
    late = record()
    writer.submit(late)  # after close: spilled at once, never dropped
    assert writer.spilled == 8
    recording.fail_next = 0
    successor = UsageWriter(recording, UsageSpill(tmp_path / "spill"))
    assert await successor.drain()
    assert await stored(store) == 8
    ids = {i for b in recording.batches for i in b}
    assert ids == {r.request_id for r in [*records, late]}
    groups = await store.usage.totals(UsageQuery(workspace_id="w1"))
    assert groups[0].totals.paid_pico == 14


async def test_a_hung_write_is_cancelled_at_the_deadline_and_its_rows_spilled(
    tmp_path: Path,
) -> None:
    store = await memory_store()
    release = asyncio.Event()

    class HangingStore(RecordingStore):
        async def append(self, rows: Sequence[UsageRow]) -> int:
            self.appended.set()
            await release.wait()
            return await super().append(rows)

    hanging = HangingStore(store.usage)
    writer = UsageWriter(hanging, UsageSpill(tmp_path / "spill"), batch_size=2, grace=0.0)
    tasks = TaskGroup()
    writer.start(tasks.spawn)
    submit(writer, 3)
    with anyio.fail_after(10):
        await hanging.appended.wait()
    await writer.close()
    await tasks.close()
    assert writer.spilled == 3 and await stored(store) == 0
    release.set()
    successor = UsageWriter(store.usage, UsageSpill(tmp_path / "spill"))
    assert await successor.drain()
    assert await stored(store) == 3


async def test_a_request_id_sent_twice_is_two_records(tmp_path: Path) -> None:
    store, recording, writer = await setup(tmp_path)
    submit(writer, 2, request_id="req_client_chosen")
    assert await writer.drain()
    assert (writer.written, await stored(store)) == (2, 2)


async def test_records_without_a_workspace_are_skipped(tmp_path: Path) -> None:
    store, recording, writer = await setup(tmp_path)
    submit(writer, 2, ws=None, status=401)
    submit(writer, 1)
    assert await writer.drain()
    assert (writer.skipped, writer.written, await stored(store)) == (2, 1, 1)


async def test_a_deadline_stops_a_drain_against_a_dead_store(tmp_path: Path) -> None:
    store, recording, writer = await setup(tmp_path)
    recording.fail_next = 10**9
    submit(writer, 3)
    assert not await writer.drain(deadline=0.0)
    assert writer.queued == 3


def test_options_are_checked(tmp_path: Path) -> None:
    spill = UsageSpill(tmp_path)
    with pytest.raises(ValueError, match="batch_size"):
        UsageWriter(MemoryStore().usage, spill, batch_size=0)
    with pytest.raises(ValueError, match="batch_size"):
        UsageWriter(MemoryStore().usage, spill, batch_size=10, capacity=5)


async def test_a_replay_that_hangs_at_shutdown_keeps_its_files(tmp_path: Path) -> None:
    store = await memory_store()
    for name in ("a", "b"):  # two files a previous process left
        spill = UsageSpill(tmp_path / "spill")
        spill.write(r for r in [usage_row(record(), f"left-{name}")] if r is not None)
        spill.close()
    release = asyncio.Event()

    class HangingStore(RecordingStore):
        async def append(self, rows: Sequence[UsageRow]) -> int:
            self.appended.set()
            await release.wait()
            return await super().append(rows)

    hanging = HangingStore(store.usage)
    writer = UsageWriter(hanging, UsageSpill(tmp_path / "spill"), grace=0.0)
    tasks = TaskGroup()
    writer.start(tasks.spawn)  # its first cycle replays the files, and hangs there
    with anyio.fail_after(10):
        await hanging.appended.wait()
    await writer.close()
    await tasks.close()
    assert len(list((tmp_path / "spill").glob("*.jsonl"))) == 2  # kept, and unlocked:
    release.set()
    successor = UsageWriter(store.usage, UsageSpill(tmp_path / "spill"))
    assert await successor.drain()
    assert await stored(store) == 2
    assert not list((tmp_path / "spill").glob("*.jsonl"))


async def test_an_exit_without_close_spills_what_is_in_memory(tmp_path: Path) -> None:
    store, recording, writer = await setup(tmp_path, interval=3600)
    tasks = TaskGroup()
    writer.start(tasks.spawn)
    submit(writer, 4)
    await tasks.close()  # the loop is gone, as after a forced exit
    writer._spill_at_exit()  # what atexit runs
    assert (writer.spilled, writer.queued) == (4, 0)
    successor = UsageWriter(store.usage, UsageSpill(tmp_path / "spill"))
    assert await successor.drain()
    assert await stored(store) == 4


async def test_a_writer_never_started_closes_without_touching_spill_files(
    tmp_path: Path,
) -> None:
    store, recording, writer = await setup(tmp_path)
    orphan = UsageSpill(tmp_path / "spill")
    orphan.write([r for r in [usage_row(record(), "x")] if r is not None])
    orphan.close()
    await writer.close()  # what every CLI command does
    assert recording.batches == []
    assert len(list((tmp_path / "spill").glob("*.jsonl"))) == 1


async def test_nowhere_to_spill_at_shutdown_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = await memory_store()
    recording = RecordingStore(store.usage)
    recording.fail_next = 10**9
    (tmp_path / "taken").write_text("a file where the spill directory should be")
    writer = UsageWriter(recording, UsageSpill(tmp_path / "taken"), grace=0.0)
    tasks = TaskGroup()
    writer.start(tasks.spawn)
    submit(writer, 2)
    await writer.close()
    await tasks.close()
    assert writer.queued == 2  # still held, for the exit hook to try again
    assert "could not spill 2 usage rows" in caplog.text
    assert "trying again at exit" in caplog.text
    atexit.unregister(writer._spill_at_exit)  # this test's process has nowhere to spill either
