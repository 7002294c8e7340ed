"""``Deadline``: the first-byte, idle-gap and total limits of one upstream exchange.

Every wait on the provider (the response head, then each body read) goes through
``Deadline.wait``. A wait that outlasts its limit is cancelled and raises ``UpstreamTimeout``
naming the limit; the same limits apply whatever transport answers.

Why not ``asyncio.timeout`` around each read: that arms and cancels a timer per stream chunk,
which costs more than the rest of relaying the chunk. A ``Deadline`` keeps one timer for the
whole exchange: a wait only records when it started, and when the timer fires it either
cancels the waiting task (its limit is really over) or re-arms for the next possible expiry.
Time spent outside a wait (relaying a chunk to a slow client) is not an upstream gap; the total
limit still counts it, and a wait that starts after the total passed fails at once.

The timer is an entry of the loop's ``core.timers.Timers`` (a heap on one loop timer), not a
loop timer of its own: an exchange that ends in time costs a heap push and a mark.

Invariants: one timer at a time, cancelled by ``stop`` (the exchange's owner calls it however
the exchange ends); a cancellation that did not come from this deadline (the client left) is
never turned into a timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from keyroute.core.errors import UpstreamTimeout
from keyroute.core.timeouts import Timeouts
from keyroute.core.timers import Timer, Timers, timers

T = TypeVar("T")


class Deadline:
    """The time limits of one exchange with ``provider``; create it when the request is sent."""

    __slots__ = (
        "_body",
        "_cancelling",
        "_end",
        "_expired",
        "_handle",
        "_loop",
        "_provider",
        "_since",
        "_task",
        "_timeouts",
        "_timers",
    )

    def __init__(self, timeouts: Timeouts, *, provider: str) -> None:
        self._loop = asyncio.get_running_loop()
        now = self._loop.time()
        self._timeouts = timeouts
        self._provider = provider
        self._end = now + timeouts.total
        self._body = False  # False while waiting for the head, True once reading the body
        self._since = now
        self._task: asyncio.Task[object] | None = None
        self._cancelling = 0
        self._expired: UpstreamTimeout | None = None
        self._timers: Timers = timers()
        self._handle: Timer | None = self._timers.call_at(
            min(now + timeouts.first_byte, self._end), self._check
        )

    def head_received(self) -> None:
        """The response head arrived: later waits are body reads, under the idle limit."""
        self._body = True

    async def wait(self, step: Callable[[], Awaitable[T]]) -> T:
        """Await ``step()`` (the head, or one body read) within the limits.

        ``step`` is called only when the limits still allow a wait.

        Raises:
            UpstreamTimeout: The wait outlasted the first-byte or idle limit, or the total ran out.
        """
        if self._expired is not None:
            raise self._expired
        now = self._loop.time()
        if now >= self._end:
            self._expired = self._timeout(total=True)
            raise self._expired
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - always awaited from a task
            return await step()
        self._since = now
        self._task = task
        self._cancelling = task.cancelling()
        try:
            return await step()
        except asyncio.CancelledError:
            if self._expired is not None and task.uncancel() <= self._cancelling:
                raise self._expired from None
            raise
        finally:
            self._task = None

    def stop(self) -> None:
        """The exchange is over (complete, failed or abandoned): drop the timer."""
        if self._handle is not None:
            self._timers.cancel(self._handle)
            self._handle = None

    def _limit(self) -> float:
        return self._timeouts.idle if self._body else self._timeouts.first_byte

    def _check(self) -> None:
        now = self._loop.time()
        task = self._task
        if task is None:
            if now >= self._end:  # the total ran out: the next wait fails at once, no timer
                self._handle = None
                return
            # Nobody waits on the provider now; the next wait starts its own gap.
            self._handle = self._timers.call_at(min(now + self._limit(), self._end), self._check)
            return
        gap_end = self._since + self._limit()
        deadline = min(gap_end, self._end)
        if now < deadline:
            self._handle = self._timers.call_at(deadline, self._check)
            return
        self._handle = None
        self._expired = self._timeout(total=deadline == self._end and self._end <= gap_end)
        task.cancel()

    def _timeout(self, *, total: bool) -> UpstreamTimeout:
        p, t = self._provider, self._timeouts
        if total:
            message = f"Provider '{p}' did not finish answering within {t.total:g} s."
        elif self._body:
            message = f"Provider '{p}' sent nothing for {t.idle:g} s in the middle of its answer."
        else:
            message = f"Provider '{p}' sent no response head within {t.first_byte:g} s."
        return UpstreamTimeout(message, provider=p)
