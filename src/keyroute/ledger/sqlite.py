"""``SqliteLedger``: the ledger shared by the worker processes of one host, through leases.

Each process (a worker of ``keyroute serve --workers N``) leases room on a counter from the
ledger file (``leases.py``: the transaction and why the cap holds) and reserves inside its lease
in memory: a reservation that fits costs no I/O. When it does not fit, one transaction on a
worker thread flushes what was settled, and asks for the reservation plus a share of the room
left (a quarter of it divided by the number of workers), so leases shrink as the cap nears and
the last reservations before the cap each take their own transaction. A refusal marks the
counter tight: every worker's background pass then gives its unused room back, and a worker
refused while others still hold unused room waits for that pass and asks again (a few times)
before it answers ``Shortfall``, so room is never stranded in an idle worker.

The background pass (every ``interval`` seconds) shrinks leases on tight counters at once,
flushes settled amounts every ``flush_every`` seconds and renews leases every quarter ``ttl``
(they expire after ``ttl`` seconds, which is how a crashed worker's reservations are released).
Settled amounts reach the file within ``flush_every`` (0.5 s); a process killed hard loses at
most the amounts it settled in that time (the spend happened; the ledger under-counts it by
that much).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar, cast

from keyroute.ledger import leases
from keyroute.ledger.base import Charge, Hold, Settled, Shortfall

log = logging.getLogger("keyroute.ledger")
_T = TypeVar("_T")
_PRUNE_AFTER = 40 * 86400.0  # counters of periods ended this long ago are forgotten


class _Slot:
    """This worker's view of one counter in one period."""

    __slots__ = ("busy", "charge", "held", "lease", "outside", "spent", "tight")

    def __init__(self, charge: Charge) -> None:
        self.charge = charge
        self.lease = 0  # room granted by the file, not settled yet
        self.held = 0  # reserved by requests in flight
        self.spent = 0  # settled here, not flushed to the file yet
        self.outside = 0  # settled plus other workers' leases, at the last transaction
        self.tight = False
        self.busy = False  # a transaction for it is in flight: no reservation meanwhile

    def used(self) -> int:
        """What this worker uses of its lease: held, and settled but not flushed (a bucket's
        ``spent`` may be negative, an estimate corrected down: the file gets it back at the
        next flush, and the lease is not stretched by it meanwhile)."""
        return self.held + max(0, self.spent)

    def remaining(self) -> int:
        return self.charge.cap - self.outside - self.used()

    def recap(self, charge: Charge) -> None:
        """The limit changed (the workspace's settings moved). A lower cap revokes the unused
        lease at once: it was granted from the old cap's room, so the next reservation takes a
        transaction, which grants only from the new cap's (the file still counts the old lease
        for the other workers until then, which only makes them stricter)."""
        if charge.cap < self.charge.cap:
            self.lease = min(self.lease, self.used())
        self.charge = charge


class SqliteLedger:
    def __init__(
        self,
        path: Path,
        *,
        on_settled: Settled | None = None,
        interval: float = 0.05,
        flush_every: float = 0.5,
        ttl: float = 10.0,
        retries: int = 8,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._path = path
        self._on_settled = on_settled
        self._interval = interval
        self._flush_every = flush_every
        self._flushed = self._renewed = 0.0
        self._ttl = ttl
        self._retries = retries
        self._clock = clock
        self._sleep = sleep
        self.worker = uuid.uuid4().hex
        self._slots: dict[tuple[str, str], _Slot] = {}
        self._conn: sqlite3.Connection | None = None
        self._db_lock = threading.Lock()  # one user of the connection at a time
        self._lock = asyncio.Lock()  # one transaction at a time from this process
        self._pruned = 0.0

    # Lifecycle

    async def open(self) -> None:
        if self._conn is None:
            self._conn = await asyncio.to_thread(self._connect)

    def _connect(self) -> sqlite3.Connection:
        # Owner-only, like the database (SQLite gives the -wal and -shm files the same mode).
        os.close(os.open(self._path, os.O_CREAT | os.O_WRONLY, 0o600))
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        leases.prepare(conn)
        return conn

    async def start(self, spawn: Callable[..., object]) -> None:
        await self.open()
        spawn(self.run(), name="ledger-leases")

    async def run(self) -> None:
        """The background pass, forever (cancelled at shutdown)."""
        while True:
            await self._sleep(self._interval)
            try:
                await self.sync(due=False)
            except sqlite3.Error:
                log.warning("ledger synchronisation failed; retrying", exc_info=True)

    async def close(self) -> None:
        """Flush, give every unused lease back, close the file."""
        if self._conn is None:
            return
        try:
            await self.sync(final=True)
        finally:
            conn, self._conn = self._conn, None
            with self._db_lock:
                conn.close()

    # The protocol

    async def reserve(self, charges: Sequence[Charge]) -> Hold | Shortfall:
        known = self._slots
        slots = [known.get((c[0], c[1])) or self._slot(c) for c in charges]
        for charge, slot in zip(charges, slots, strict=True):
            if slot.charge.cap != charge.cap:
                slot.recap(charge)
        waits = 0
        while True:
            hold = self._take(charges, slots)
            if hold is not None:
                return hold
            refused = await self._grow(charges, slots)
            if refused is None:
                continue  # the leases grew (or another request grew them): take again
            shortfall, waitable = refused
            if not waitable or waits == self._retries:
                return shortfall
            waits += 1
            await self._sleep(self._interval * 2)  # the others' next pass gives room back

    def settle(self, hold: Hold, amounts: Sequence[int]) -> None:
        if not hold.open:
            return
        hold.open = False
        slots = cast("tuple[_Slot, ...]", hold.handles)
        for charge, slot, amount in zip(hold.charges, slots, amounts, strict=True):
            if charge.window:  # a bucket counted the reservation already: the correction
                slot.spent += amount - charge.amount
            else:
                slot.held -= charge.amount
                slot.spent += amount

    def release(self, hold: Hold) -> None:
        self.settle(hold, [0] * len(hold.charges))

    async def read(self, counter: str, period: str) -> int:
        await self.open()
        local = self._slots.get((counter, period))
        stored = await asyncio.to_thread(self._locked, leases.settled, counter, period)
        return stored + (local.spent if local else 0)

    def peek(self, charges: Sequence[Charge]) -> tuple[int, ...]:
        """Each charge's room as of this worker's last transaction on it (a counter it has not
        used yet: as of its last ``refresh``, else the whole cap)."""
        slots = self._slots
        return tuple(
            c.cap
            if (slot := slots.get((c[0], c[1]))) is None
            else c.cap - slot.outside - slot.used()
            for c in charges
        )

    def knows(self, charges: Sequence[Charge]) -> bool:
        """Whether every charge's counter has been read or used by this worker."""
        return all((c[0], c[1]) in self._slots for c in charges)

    async def refresh(self, charges: Sequence[Charge]) -> None:
        """Read the counters this worker has not used yet (for ``peek``): one read of the
        ledger file, no write lock; after it they are known."""
        fresh = [c for c in charges if (c[0], c[1]) not in self._slots]
        if not fresh:
            return
        await self.open()
        now = self._clock()
        found = await asyncio.to_thread(
            self._locked,
            leases.outside,
            [(c.counter, c.period, c.cap, c.window) for c in fresh],
            now,
        )
        for charge, outside in zip(fresh, found, strict=True):
            self._slot(charge).outside = outside

    async def seed(self, charge: Charge) -> None:
        await self.open()
        ask = (charge.counter, charge.period, charge.period_end, charge.cap, charge.amount)
        await asyncio.to_thread(self._locked, leases.seed, ask)

    # Reservations

    def _slot(self, charge: Charge) -> _Slot:
        key = (charge.counter, charge.period)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _Slot(charge)
        elif slot.charge.cap != charge.cap:
            slot.recap(charge)
        return slot

    @staticmethod
    def _take(charges: Sequence[Charge], slots: list[_Slot]) -> Hold | None:
        pairs = list(zip(charges, slots, strict=True))
        for charge, slot in pairs:  # ``slot.used()``, inline: the hot path
            spent = slot.spent
            if slot.busy or slot.held + (spent if spent > 0 else 0) + charge.amount > slot.lease:
                return None
        remaining = []
        for charge, slot in pairs:
            if charge.window:
                slot.spent += charge.amount  # a bucket counts a reservation at once
            else:
                slot.held += charge.amount
            spent = slot.spent
            remaining.append(charge.cap - slot.outside - slot.held - (spent if spent > 0 else 0))
        return Hold(charges=tuple(charges), remaining=tuple(remaining), handles=tuple(slots))

    async def _grow(
        self, charges: Sequence[Charge], slots: list[_Slot]
    ) -> tuple[Shortfall, bool] | None:
        """Grow the leases that are too small, in one transaction; the refusal if one cannot."""
        async with self._lock:
            wanted = [
                (i, c, s)
                for i, (c, s) in enumerate(zip(charges, slots, strict=True))
                if s.used() + c.amount > s.lease
            ]
            if not wanted:
                return None  # another request's transaction made room meanwhile
            asks = [self._ask(s, need=c.amount) for _, c, s in wanted]
            answers = await self._transaction([s for _, _, s in wanted], asks)
        for (index, charge, slot), answer in zip(wanted, answers, strict=True):
            if not answer.granted:
                used = charge.cap - slot.remaining()
                remaining = tuple(s.remaining() for s in slots)
                refusal = Shortfall(index=index, charge=charge, used=used, remaining=remaining)
                return refusal, answer.waitable
        return None

    @staticmethod
    def _ask(slot: _Slot, *, need: int = 0, drop: bool = False) -> leases.Ask:
        charge = slot.charge
        return leases.Ask(
            counter=charge.counter,
            period=charge.period,
            cap=charge.cap,
            period_end=charge.period_end,
            lease=slot.lease,
            held=slot.held,
            flush=slot.spent,
            need=need,
            drop=drop,
            window=charge.window,
        )

    # Transactions

    async def sync(self, *, final: bool = False, due: bool = True) -> None:
        """Flush settled amounts, renew leases, give back room on tight or ended counters.

        The background pass (``due=False``) looks for tight counters every ``interval`` (a
        read) but writes only what is due: settled amounts every ``flush_every`` seconds,
        lease renewals every quarter ``ttl``, unused room on tight or ended counters at once.
        """
        if self._conn is None:
            return
        now = self._clock()
        flush = due or now - self._flushed >= self._flush_every
        renew = due or now - self._renewed >= self._ttl / 4
        async with self._lock:
            tight = await asyncio.to_thread(self._locked, leases.tight_counters, now)
            chosen: list[_Slot] = []
            asks: list[leases.Ask] = []
            for key, slot in self._slots.items():
                if key in tight:
                    slot.tight = True
                ended = slot.charge.period_end <= now
                shrink = slot.tight and slot.lease > slot.held
                if final or ended or shrink or (flush and slot.spent) or (renew and slot.lease):
                    drop = final or ended
                    chosen.append(slot)
                    asks.append(self._ask(slot, drop=drop))
            if chosen:
                await self._transaction(chosen, asks)
            if flush:
                self._flushed = now
            if renew:
                self._renewed = now
            if now - self._pruned > 3600.0:
                self._pruned = now
                await asyncio.to_thread(self._locked, leases.prune, now - _PRUNE_AFTER)
        for key, slot in list(self._slots.items()):
            if slot.charge.period_end <= now and not slot.held and not slot.spent:
                del self._slots[key]

    async def _transaction(self, slots: list[_Slot], asks: list[leases.Ask]) -> list[leases.Answer]:
        await self.open()
        for slot in slots:
            slot.busy = True
        try:
            now = self._clock()
            answers = await asyncio.to_thread(
                self._locked, leases.sync, self.worker, asks, now, self._ttl
            )
        finally:
            for slot in slots:
                slot.busy = False
        for slot, ask, answer in zip(slots, asks, answers, strict=True):
            slot.spent -= ask.flush
            slot.lease = answer.lease
            slot.outside = answer.outside
            slot.tight = answer.tight
            if (
                answer.settled_after != answer.settled_before
                and self._on_settled is not None
                and not ask.window
            ):
                self._on_settled(slot.charge, answer.settled_before, answer.settled_after)
        return answers

    def _locked(self, fn: Callable[..., _T], *args: object) -> _T:
        with self._db_lock:
            if self._conn is None:
                raise sqlite3.ProgrammingError("the ledger is closed")
            return fn(self._conn, *args)
