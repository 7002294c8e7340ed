"""The ledger protocol, one behavioural suite over every backend, plus the SQLite leases:
several processes (here: several ledgers on one file) never grant past a cap, and a crashed
worker's lease expires."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from keyroute.ledger import Charge, Hold, Ledger, Shortfall
from keyroute.ledger.memory import MemoryLedger
from keyroute.ledger.sqlite import SqliteLedger

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def no_sleep(_: float) -> None:
    await asyncio.sleep(0)


def charge(amount: int = 1, *, cap: int = 10, counter: str = "c", period: str = "p") -> Charge:
    return Charge(counter=counter, period=period, cap=cap, amount=amount, period_end=2e6)


@pytest.fixture(params=["memory", "sqlite"])
async def ledger(request, tmp_path: Path) -> AsyncIterator[Ledger]:
    settled: list[tuple[str, int, int]] = []
    clock = Clock()

    def seen(c: Charge, before: int, after: int) -> None:
        settled.append((c.counter, before, after))

    backend: MemoryLedger | SqliteLedger
    if request.param == "memory":
        backend = MemoryLedger(on_settled=seen, clock=clock)
    else:
        backend = SqliteLedger(tmp_path / "l.db", on_settled=seen, clock=clock, sleep=no_sleep)
        await backend.open()
    backend.settled = settled  # type: ignore[union-attr]
    yield backend
    await backend.close()


async def flushed(ledger: Ledger) -> None:
    if isinstance(ledger, SqliteLedger):
        await ledger.sync()


async def test_reserve_holds_until_the_cap_and_names_the_charge_that_did_not_fit(ledger) -> None:
    holds = [await ledger.reserve([charge(3)]) for _ in range(3)]
    assert all(isinstance(h, Hold) for h in holds)
    refused = await ledger.reserve([charge(counter="other", cap=5), charge(3)])
    assert isinstance(refused, Shortfall)
    assert (refused.index, refused.used) == (1, 9)
    # all or nothing: the first charge was not held
    assert isinstance(await ledger.reserve([charge(5, counter="other", cap=5)]), Hold)


async def test_settle_replaces_the_hold_release_gives_it_back(ledger) -> None:
    first = await ledger.reserve([charge(6)])
    assert isinstance(first, Hold)
    assert first.remaining == (4,)
    ledger.settle(first, [2])
    ledger.settle(first, [5])  # twice: no-op
    second = await ledger.reserve([charge(8)])
    assert isinstance(second, Hold)
    ledger.release(second)
    assert isinstance(await ledger.reserve([charge(9)]), Shortfall)
    await flushed(ledger)
    assert await ledger.read("c", "p") == 2
    assert ledger.settled == [("c", 0, 2)]


async def test_periods_are_separate_counters(ledger) -> None:
    hold = await ledger.reserve([charge(10, period="2026-11")])
    assert isinstance(hold, Hold)
    ledger.settle(hold, [10])
    assert isinstance(await ledger.reserve([charge(10, period="2026-12")]), Hold)
    await flushed(ledger)
    assert await ledger.read("c", "2026-11") == 10
    assert await ledger.read("c", "nothing") == 0


async def test_concurrent_reservations_never_pass_the_cap(ledger) -> None:
    results = await asyncio.gather(*(ledger.reserve([charge(1, cap=50)]) for _ in range(200)))
    assert sum(isinstance(r, Hold) for r in results) == 50


# SQLite: several worker processes on one file.


async def workers(path: Path, n: int, clock: Clock) -> list[SqliteLedger]:
    out = []
    for _ in range(n):
        ledger = SqliteLedger(path, clock=clock, sleep=no_sleep, interval=0.0)
        await ledger.open()
        out.append(ledger)
    return out


async def test_two_workers_share_a_cap_exactly_and_strand_nothing(tmp_path: Path) -> None:
    clock = Clock()
    a, b = await workers(tmp_path / "l.db", 2, clock)

    async def background(ledger: SqliteLedger) -> None:
        for _ in range(200):
            await ledger.sync()
            await asyncio.sleep(0)

    passes = [asyncio.ensure_future(background(w)) for w in (a, b)]
    calls = [(a if i % 3 else b).reserve([charge(1, cap=100)]) for i in range(300)]
    results = await asyncio.gather(*calls)
    for task in passes:
        task.cancel()
    await asyncio.gather(*passes, return_exceptions=True)
    holds = [r for r in results if isinstance(r, Hold)]
    assert len(holds) == 100
    for hold in holds:
        (a if hold.handles[0] in a._slots.values() else b).settle(hold, [1])
    await a.close()
    await b.close()
    (reader,) = await workers(tmp_path / "l.db", 1, clock)
    assert await reader.read("c", "p") == 100
    await reader.close()


async def test_most_reservations_are_served_from_the_lease(tmp_path: Path) -> None:
    clock = Clock()
    (ledger,) = await workers(tmp_path / "l.db", 1, clock)
    trips = 0
    real = ledger._transaction

    async def counted(*args):
        nonlocal trips
        trips += 1
        return await real(*args)

    ledger._transaction = counted  # type: ignore[method-assign]
    for _ in range(1000):
        hold = await ledger.reserve([charge(1, cap=100_000)])
        assert isinstance(hold, Hold)
        ledger.settle(hold, [1])
    assert trips < 20
    await ledger.close()


async def test_a_crashed_workers_lease_expires(tmp_path: Path) -> None:
    clock = Clock()
    crashed, alive = await workers(tmp_path / "l.db", 2, clock)
    hold = await crashed.reserve([charge(60, cap=100)])
    assert isinstance(hold, Hold)
    # the crashed worker never settles, renews or closes
    assert isinstance(await alive.reserve([charge(60, cap=100)]), Shortfall)
    clock.now += 11.0  # past the lease's ttl (10 s)
    assert isinstance(await alive.reserve([charge(60, cap=100)]), Hold)


async def test_settled_amounts_reach_the_file_and_are_seen_once(tmp_path: Path) -> None:
    clock = Clock()
    seen: list[tuple[int, int]] = []
    path = tmp_path / "l.db"
    a = SqliteLedger(path, clock=clock, on_settled=lambda c, x, y: seen.append((x, y)))
    b = SqliteLedger(path, clock=clock, on_settled=lambda c, x, y: seen.append((x, y)))
    for ledger, amount in ((a, 3), (b, 4)):
        hold = await ledger.reserve([charge(5, cap=100)])
        assert isinstance(hold, Hold)
        ledger.settle(hold, [amount])
        await ledger.sync()
    assert seen == [(0, 3), (3, 7)]
    assert await a.read("c", "p") == 7
    await a.close()
    await b.close()


async def test_ended_periods_give_their_leases_back(tmp_path: Path) -> None:
    clock = Clock()
    (ledger,) = await workers(tmp_path / "l.db", 1, clock)
    hold = await ledger.reserve(
        [Charge(counter="c", period="p", cap=10, amount=1, period_end=clock.now + 5)]
    )
    assert isinstance(hold, Hold)
    ledger.settle(hold, [1])
    clock.now += 6
    await ledger.sync()
    assert ledger._slots == {}
    assert await ledger.read("c", "p") == 1
    await ledger.close()


async def test_a_background_pass_runs_until_cancelled(tmp_path: Path) -> None:
    ledger = SqliteLedger(tmp_path / "l.db", interval=0.0, flush_every=0.0, clock=Clock())
    started: list[asyncio.Task[object]] = []

    def spawn(coro, *, name):
        task = asyncio.ensure_future(coro)
        started.append(task)
        return task

    await ledger.start(spawn)
    hold = await ledger.reserve([charge(2)])
    assert isinstance(hold, Hold)
    ledger.settle(hold, [2])
    for _ in range(50):
        await asyncio.sleep(0.001)
        if ledger._slots[("c", "p")].spent == 0:
            break
    assert ledger._slots[("c", "p")].spent == 0
    started[0].cancel()
    await ledger.close()


async def test_a_lowered_cap_applies_to_the_next_reservation(ledger) -> None:
    """A lease granted under the old cap does not let one more through under the new one."""
    first = await ledger.reserve([charge(cap=100)])
    assert isinstance(first, Hold)
    ledger.settle(first, [1])
    assert isinstance(await ledger.reserve([charge(cap=1)]), Shortfall)
    raised = await ledger.reserve([charge(cap=2)])
    assert isinstance(raised, Hold) and raised.remaining == (0,)


async def test_a_lowered_cap_counts_what_other_workers_lease(tmp_path: Path) -> None:
    clock = Clock()
    a, b = await workers(tmp_path / "l.db", 2, clock)
    for _ in range(3):
        hold = await a.reserve([charge(cap=100)])
        assert isinstance(hold, Hold)
        a.settle(hold, [1])
    await a.sync()
    assert isinstance(await b.reserve([charge(cap=3)]), Shortfall)
    assert isinstance(await a.reserve([charge(cap=3)]), Shortfall)
    for w in (a, b):
        await w.close()


# Buckets (rate limits): drained continuously, never a second burst at a window's edge.


def bucket(amount: int = 1, *, cap: int = 60, counter: str = "rpm") -> Charge:
    return Charge(counter, "bucket", cap, amount, float("inf"), 60.0)


async def backends(tmp_path: Path, clock: Clock) -> list[Ledger]:
    memory = MemoryLedger(clock=clock)
    sqlite = SqliteLedger(tmp_path / "b.db", clock=clock, sleep=no_sleep, interval=0.0)
    await sqlite.open()
    return [memory, sqlite]


async def admitted(ledger: Ledger, n: int, make=bucket) -> int:
    done = 0
    for _ in range(n):
        hold = await ledger.reserve([make()])
        if isinstance(hold, Hold):
            done += 1
    return done


async def test_a_bucket_admits_its_cap_then_refills_at_its_rate(tmp_path: Path) -> None:
    clock = Clock(59.9)
    for ledger in await backends(tmp_path, clock):
        clock.now = 59.9
        assert await admitted(ledger, 100) == 60
        clock.now = 60.1  # a fixed minute window would start over here and admit 60 more
        assert await admitted(ledger, 100) == 0
        clock.now = 59.9 + 10  # ten seconds later: ten more
        assert await admitted(ledger, 100) == 10
        clock.now += 60  # drained
        assert await admitted(ledger, 100) == 60
        await ledger.close()


async def test_a_bucket_counts_a_reservation_at_once_and_settles_the_correction(
    tmp_path: Path,
) -> None:
    clock = Clock()
    for ledger in await backends(tmp_path, clock):
        hold = await ledger.reserve([bucket(80, cap=100, counter="tpm")])
        assert isinstance(hold, Hold) and hold.remaining == (20,)
        assert isinstance(await ledger.reserve([bucket(30, cap=100, counter="tpm")]), Shortfall)
        ledger.settle(hold, [20])  # the estimate was 80, 20 were used
        await flushed(ledger)
        assert isinstance(await ledger.reserve([bucket(80, cap=100, counter="tpm")]), Hold)
        assert isinstance(await ledger.reserve([bucket(1, cap=100, counter="tpm")]), Shortfall)
        await ledger.close()


async def test_two_workers_share_a_bucket_exactly(tmp_path: Path) -> None:
    clock = Clock()
    a, b = await workers(tmp_path / "l.db", 2, clock)
    served = 0
    for _ in range(50):
        served += await admitted(a, 1) + await admitted(b, 1)
    assert served == 60
    clock.now += 30  # half the bucket drained
    served = sum([await admitted(a, 1) + await admitted(b, 1) for _ in range(50)])
    assert served == 30
    for w in (a, b):
        await w.close()


async def test_peek_is_the_room_without_reserving(tmp_path: Path) -> None:
    clock = Clock()
    memory, sqlite = await backends(tmp_path, clock)
    for ledger in (memory, sqlite):
        assert ledger.peek([charge(cap=10)]) == (10,)
        hold = await ledger.reserve([charge(3, cap=10)])
        assert isinstance(hold, Hold)
        assert ledger.peek([charge(cap=10), bucket()]) == (7, 60)
    other = SqliteLedger(tmp_path / "b.db", clock=clock, sleep=no_sleep)
    assert not other.knows([charge(cap=10)])
    await other.refresh([charge(cap=10)])  # one read: the first worker's lease counts
    assert other.knows([charge(cap=10)])
    assert other.peek([charge(cap=10)])[0] <= 7
    for ledger in (memory, sqlite, other):
        await ledger.close()


async def test_seed_raises_a_counter_to_the_spend_already_recorded(ledger) -> None:
    await ledger.seed(charge(6, cap=10))
    await ledger.seed(charge(2, cap=10))  # never lowers
    await flushed(ledger)
    assert await ledger.read("c", "p") == 6
    assert isinstance(await ledger.reserve([charge(5, cap=10)]), Shortfall)
    assert isinstance(await ledger.reserve([charge(4, cap=10)]), Hold)


async def test_a_version_one_ledger_file_is_upgraded(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE ledger_counters (counter TEXT NOT NULL, period TEXT NOT NULL,"
        " settled INTEGER NOT NULL DEFAULT 0, period_end REAL NOT NULL,"
        " tight INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (counter, period)) WITHOUT ROWID"
    )
    conn.execute("INSERT INTO ledger_counters VALUES ('c', 'p', 4, 2e6, 0)")
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    ledger = SqliteLedger(path, clock=Clock(), sleep=no_sleep)
    assert await ledger.read("c", "p") == 4
    assert isinstance(await ledger.reserve([bucket()]), Hold)
    await ledger.close()


async def test_a_raised_cap_ends_tightness_so_leases_grow_again(tmp_path: Path) -> None:
    clock = Clock()
    (a,) = await workers(tmp_path / "l.db", 1, clock)
    for _ in range(2):
        hold = await a.reserve([charge(cap=2)])
        assert isinstance(hold, Hold)
        a.settle(hold, [1])
    assert isinstance(await a.reserve([charge(cap=2)]), Shortfall)  # at the cap: tight
    hold = await a.reserve([charge(cap=100)])
    assert isinstance(hold, Hold)
    slot = a._slots[("c", "p")]
    assert not slot.tight and slot.lease > slot.used() + 1  # room leased ahead again
    await a.close()
