"""``MemoryLedger``: the ledger of one process, exact, with no I/O.

A bucket (``Charge.window``, a rate limit) drains as its clock moves, when it is next touched.

Every operation runs on the event loop without awaiting, so reserve's check-and-hold is atomic
by construction. Counters of periods that ended are dropped once nothing is held on them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import cast

from keyroute.ledger.base import Charge, Hold, Settled, Shortfall, drain

_SWEEP_EVERY = 1024  # new counters between sweeps of ended periods


class _Counter:
    __slots__ = ("held", "period_end", "settled", "stamp")

    def __init__(self, period_end: float) -> None:
        self.settled = 0
        self.held = 0
        self.period_end = period_end
        self.stamp = 0.0  # a bucket's: when ``settled`` was last drained

    def drain(self, charge: Charge, now: float) -> None:
        self.settled, self.stamp = drain(self.settled, self.stamp, charge.cap, charge.window, now)


class MemoryLedger:
    def __init__(
        self, *, on_settled: Settled | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self._counters: dict[tuple[str, str], _Counter] = {}
        self._on_settled = on_settled
        self._clock = clock
        self._created = 0

    async def start(self, spawn: Callable[..., object]) -> None:
        return None

    async def close(self) -> None:
        return None

    async def reserve(self, charges: Sequence[Charge]) -> Hold | Shortfall:
        return self.reserve_now(charges)

    def reserve_now(self, charges: Sequence[Charge]) -> Hold | Shortfall:
        counters = [self._counter(c) for c in charges]
        now = 0.0
        for index, charge in enumerate(charges):
            counter = counters[index]
            if charge.window:  # a bucket: drained to now first (inline: the hot path)
                now = now or self._clock()
                level = counter.settled
                if not level:
                    counter.stamp = now
                else:
                    drained = int((now - counter.stamp) * charge.cap / charge.window)
                    if drained >= level:
                        counter.settled, counter.stamp = 0, now
                    elif drained > 0:
                        counter.settled = level - drained
                        counter.stamp += drained * charge.window / charge.cap
            used = counter.settled + counter.held
            if used + charge.amount > charge.cap:
                return Shortfall(
                    index=index, charge=charge, used=used, remaining=_room(charges, counters)
                )
        remaining = []
        for charge, counter in zip(charges, counters, strict=True):
            if charge.window:
                counter.settled += charge.amount  # a bucket counts the reservation at once
            else:
                counter.held += charge.amount
            remaining.append(charge.cap - counter.settled - counter.held)
        return Hold(charges=tuple(charges), remaining=tuple(remaining), handles=tuple(counters))

    def settle(self, hold: Hold, amounts: Sequence[int]) -> None:
        if not hold.open:
            return
        hold.open = False
        counters = cast("tuple[_Counter, ...]", hold.handles)
        for charge, counter, amount in zip(hold.charges, counters, amounts, strict=True):
            if charge.window:
                if amount != charge.amount:  # the estimate corrected
                    counter.drain(charge, self._clock())
                    counter.settled = max(0, counter.settled + amount - charge.amount)
                continue
            counter.held -= charge.amount
            if amount:
                before = counter.settled
                counter.settled += amount
                if self._on_settled is not None:
                    self._on_settled(charge, before, counter.settled)

    def release(self, hold: Hold) -> None:
        self.settle(hold, [0] * len(hold.charges))

    async def read(self, counter: str, period: str) -> int:
        found = self._counters.get((counter, period))
        return 0 if found is None else found.settled

    def peek(self, charges: Sequence[Charge]) -> tuple[int, ...]:
        now = self._clock()
        room = []
        for charge in charges:
            counter = self._counters.get((charge.counter, charge.period))
            if counter is None:
                room.append(charge.cap)
                continue
            if charge.window:
                counter.drain(charge, now)
            room.append(charge.cap - counter.settled - counter.held)
        return tuple(room)

    async def refresh(self, charges: Sequence[Charge]) -> None:
        return None

    async def seed(self, charge: Charge) -> None:
        counter = self._counter(charge)
        counter.settled = max(counter.settled, charge.amount)

    def _counter(self, charge: Charge) -> _Counter:
        key = (charge.counter, charge.period)
        counter = self._counters.get(key)
        if counter is None:
            self._created += 1
            if self._created % _SWEEP_EVERY == 0:
                self._sweep()
            counter = self._counters[key] = _Counter(charge.period_end)
        return counter

    def _sweep(self) -> None:
        now = self._clock()
        ended = [k for k, c in self._counters.items() if c.period_end <= now and not c.held]
        for key in ended:
            del self._counters[key]


def _room(charges: Sequence[Charge], counters: Sequence[_Counter]) -> tuple[int, ...]:
    return tuple(c.cap - n.settled - n.held for c, n in zip(charges, counters, strict=True))
