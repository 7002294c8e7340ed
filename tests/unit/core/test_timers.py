"""``keyroute.core.timers``: timeouts on one loop timer, driven by a fake loop whose clock and
timer the test moves (no sleeps, no real time)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

import pytest

from keyroute.core import timers as timers_module
from keyroute.core.timers import Timers, timers

pytestmark = pytest.mark.anyio


class Handle:
    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Loop:
    """A loop clock the test sets, and the loop timers ``Timers`` arms."""

    def __init__(self) -> None:
        self.now = 0.0
        self.handles: list[Handle] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], None]) -> Handle:
        handle = Handle(when, callback)
        self.handles.append(handle)
        return handle

    def armed(self) -> list[float]:
        return [h.when for h in self.handles if not h.cancelled]

    def run_until(self, now: float) -> None:
        """Advance the clock, firing due loop timers in order, as a loop would."""
        while True:
            due = [h for h in self.handles if not h.cancelled and h.when <= now]
            if not due:
                break
            handle = min(due, key=lambda h: h.when)
            handle.cancelled = True
            self.now = max(self.now, handle.when)
            handle.callback()
        self.now = now


def make() -> tuple[Timers, Loop]:
    loop = Loop()
    return Timers(cast(asyncio.AbstractEventLoop, loop)), loop


def test_timers_fire_in_time_order_and_never_early() -> None:
    t, loop = make()
    fired: list[str] = []
    t.call_at(3.0, lambda: fired.append("c"))
    t.call_at(1.0, lambda: fired.append("a"))
    t.call_at(2.0, lambda: fired.append("b"))
    loop.run_until(0.999)
    assert fired == []
    loop.run_until(2.0)
    assert fired == ["a", "b"]
    loop.run_until(10.0)
    assert fired == ["a", "b", "c"]
    assert len(t) == 0 and loop.armed() == []


def test_one_loop_timer_serves_later_timeouts_and_is_moved_for_an_earlier_one() -> None:
    t, loop = make()
    for when in (10.0, 11.0, 12.0):
        t.call_at(when, lambda: None)
    assert loop.armed() == [10.0]  # later timeouts re-arm nothing
    t.call_at(5.0, lambda: None)
    assert loop.armed() == [5.0]


def test_a_cancelled_timer_never_fires_and_cancelling_twice_is_harmless() -> None:
    t, loop = make()
    fired: list[str] = []
    first = t.call_at(1.0, lambda: fired.append("first"))
    t.call_at(2.0, lambda: fired.append("second"))
    t.cancel(first)
    t.cancel(first)
    assert len(t) == 1
    loop.run_until(5.0)
    assert fired == ["second"]
    t.cancel(first)  # after the heap dropped it
    assert len(t) == 0


def test_a_timer_in_the_past_fires_on_the_next_loop_turn() -> None:
    t, loop = make()
    loop.now = 100.0
    fired: list[bool] = []
    t.call_at(50.0, lambda: fired.append(True))
    assert loop.armed() == [50.0]
    loop.run_until(100.0)
    assert fired == [True]


def test_a_callback_may_arm_the_next_timer() -> None:
    t, loop = make()
    fired: list[float] = []

    def again() -> None:
        fired.append(loop.time())
        if len(fired) < 3:
            t.call_at(loop.time() + 1.0, again)

    t.call_at(1.0, again)
    t.call_at(2.5, lambda: fired.append(-1.0))
    loop.run_until(10.0)
    assert fired == [1.0, 2.0, -1.0, 3.0]


def test_cancelled_timers_do_not_pile_up() -> None:
    t, loop = make()
    live = t.call_at(1_000_000.0, lambda: None)
    for i in range(10_000):
        t.cancel(t.call_at(100.0 + i, lambda: None))
    heap = cast(Any, t)._heap
    assert len(heap) <= 2 * timers_module._COMPACT_AT + 2
    assert len(t) == 1
    t.cancel(live)
    assert len(t) == 0


async def test_each_running_loop_has_its_own_timers() -> None:
    here = timers()
    assert timers() is here
    fired = asyncio.Event()
    here.call_at(asyncio.get_running_loop().time(), fired.set)
    await fired.wait()

    def elsewhere() -> Timers:
        async def get() -> Timers:
            return timers()

        return asyncio.run(get())

    other = await asyncio.to_thread(elsewhere)
    assert other is not here
    assert timers() is here


def test_a_callback_that_arms_a_past_time_fires_on_a_later_turn_not_in_a_loop() -> None:
    t, loop = make()
    fired: list[float] = []

    def again() -> None:  # re-arms itself for a time already past, as an expired limit would
        fired.append(loop.now)
        if len(fired) < 3:
            t.call_at(0.5, again)

    t.call_at(1.0, again)
    loop.now = 2.0
    [handle] = [h for h in loop.handles if not h.cancelled]
    handle.cancelled = True
    handle.callback()  # one loop turn: the re-armed entry waits for the next
    assert fired == [2.0] and loop.armed() == [0.5]
    loop.run_until(2.0)
    assert fired == [2.0, 2.0, 2.0] and len(t) == 0
