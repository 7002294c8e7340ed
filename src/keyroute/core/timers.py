"""``Timers``: many short-lived timeouts of one event loop on a single loop timer.

Every request arms timeouts it nearly always cancels: the body's pace, then the upstream
exchange's first-byte, idle and total limits. On uvloop each ``loop.call_at`` creates a libuv
timer and each ``cancel`` closes it (a callback on the next loop turn): about as much CPU as
the rest of receiving a small request body. Here a timeout is an entry in a heap: arming it is
a ``heappush``, cancelling it marks it dead, and the loop holds one real timer, for the earliest
entry. Timeouts armed later than that one (the common case: the same limit, armed after the
previous request's) re-arm nothing.

Entries fire at their time, from a loop callback, like ``loop.call_at`` callbacks; never
before. Dead entries are dropped when they reach the top of the heap, or all at once when they
outnumber the live ones, so memory follows the live timeouts.

It lives in ``core`` because both the HTTP layer and the upstream sender use it and neither
may import the other; it is stdlib only and holds no clock of its own (the loop's).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from typing import Any, TypeAlias

# An entry is a list ``[when, sequence, callback]``: lists compare by time, then by sequence
# (unique), in C, so the heap never compares callbacks. ``cancel`` sets the callback to None.
Timer: TypeAlias = list[Any]

_COMPACT_AT = 1024  # dead entries tolerated before the heap is rebuilt from the live ones


class Timers:
    """The timeouts of one event loop; get it with ``timers()``."""

    __slots__ = ("_armed", "_dead", "_handle", "_heap", "_loop", "_sequence")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._heap: list[Timer] = []
        self._sequence = itertools.count()
        self._handle: asyncio.TimerHandle | None = None
        self._armed = float("inf")  # when the loop timer fires (inf: not armed)
        self._dead = 0

    def call_at(self, when: float, callback: Callable[[], object]) -> Timer:
        """Call ``callback`` at loop time ``when`` unless the returned timer is cancelled."""
        timer: Timer = [when, next(self._sequence), callback]
        heapq.heappush(self._heap, timer)
        if when < self._armed:
            self._arm(when)
        return timer

    def cancel(self, timer: Timer) -> None:
        """Cancel ``timer`` (a no-op if it fired or was cancelled already)."""
        if timer[2] is None:
            return
        timer[2] = None
        self._dead += 1
        if self._dead > _COMPACT_AT and self._dead * 2 > len(self._heap):
            self._heap = [t for t in self._heap if t[2] is not None]
            heapq.heapify(self._heap)
            self._dead = 0

    def __len__(self) -> int:
        """Live timers."""
        return len(self._heap) - self._dead

    def _arm(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._armed = when
        self._handle = self._loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._armed = float("inf")
        heap = self._heap
        now = self._loop.time()
        # Only the entries armed before this call: one that a callback arms for a time already
        # past fires on a later loop turn, so a callback that re-arms itself cannot spin here.
        armed_before = next(self._sequence)
        while heap and (heap[0][2] is None or heap[0][0] <= now and heap[0][1] < armed_before):
            timer = heapq.heappop(heap)
            callback = timer[2]
            if callback is None:
                self._dead -= 1
                continue
            timer[2] = None
            callback()
        if heap and heap[0][0] < self._armed:  # a callback may have armed a later one
            self._arm(heap[0][0])


_last: tuple[asyncio.AbstractEventLoop, Timers] | None = None
_by_loop: dict[asyncio.AbstractEventLoop, Timers] = {}


def timers() -> Timers:
    """The running loop's ``Timers`` (created on first use, dropped once the loop is closed)."""
    global _last  # a one-entry cache of the lookup below
    loop = asyncio.get_running_loop()
    last = _last
    if last is not None and last[0] is loop:
        return last[1]
    found = _by_loop.get(loop)
    if found is None:
        for old in [old for old in list(_by_loop) if old.is_closed()]:
            _by_loop.pop(old, None)
        found = _by_loop[loop] = Timers(loop)
    _last = (loop, found)
    return found
