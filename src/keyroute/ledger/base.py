"""The ledger protocol: atomic reserve / settle / release / read on capped counters.

A counter is one limit in one period: a workspace's monthly request quota for ``2026-12``, a
gateway key's requests in one minute, an end user's daily budget for ``2026-12-03``. The caller
(admission) names it (``Charge.counter`` and ``Charge.period``), gives its cap and when the
period ends, and the amount it wants; the ledger knows nothing of plans, money or time zones.

- ``reserve(charges)`` holds every charge's amount, or none of them: either each counter's
  settled amount plus everything held stays within its cap and a ``Hold`` comes back, or
  nothing is held and a ``Shortfall`` names the first charge that did not fit.
- ``settle(hold, amounts)`` replaces the held amounts with what was actually used (a failed
  request settles zeros: that is ``release``). It is synchronous and never awaits, so the
  ``Meter`` can call it from the frame's ``finally`` whatever happened; settling twice is a
  no-op.
- ``read(counter, period)`` is the settled amount (what admission's headers and the settings'
  ``show`` commands report).
- ``peek(charges)`` is each charge's room as this process knows it, without I/O and without
  reserving (the headers of an answer that reserved nothing, such as an error).
- ``seed(charge)`` raises a counter's settled amount to at least ``charge.amount`` (a budget
  set mid-period starts from the spend already recorded in its period).

A backend calls its ``Settled`` listener, once per change of a counter's authoritative settled
amount (in a multi-process backend: once across all processes), so threshold crossings are
seen exactly once.

Backends: ``memory.MemoryLedger`` (one process), ``sqlite.SqliteLedger`` (the processes of one
host, with leases). A Redis backend implements the same four operations with Lua scripts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol


class Charge(NamedTuple):
    """``amount`` against ``cap`` on ``counter`` in ``period``, which ends at ``period_end``
    (Unix seconds; the counter's reset). A tuple: one is made per limit per request.

    With ``window`` (seconds) the counter is a bucket instead (a rate limit): what it counts
    drains continuously at ``cap`` per ``window``, so it admits a burst of at most ``cap`` and
    then ``cap`` a ``window``; a reservation counts at once (from when it was made, not when it
    settles) and settling corrects it by the difference. A bucket's period never ends
    (``period_end`` is infinite)."""

    counter: str
    period: str
    cap: int
    amount: int
    period_end: float
    window: float = 0.0


@dataclass(frozen=True, slots=True)
class Shortfall:
    """A reservation refused: ``charges[index]`` did not fit; ``used`` was settled or held on
    it. ``remaining`` is every charge's room before the refusal (as ``Hold.remaining``)."""

    index: int
    charge: Charge
    used: int
    remaining: tuple[int, ...] = ()


@dataclass(slots=True, eq=False)
class Hold:
    """Amounts held by one reservation. ``remaining`` is each counter's room after it (exact
    for one process; as of the last synchronisation for a multi-process backend)."""

    charges: tuple[Charge, ...]
    remaining: tuple[int, ...]
    handles: tuple[object, ...] = field(repr=False)  # the backend's own per-counter state
    open: bool = True


def drain(level: int, stamp: float, cap: int, window: float, now: float) -> tuple[int, float]:
    """A bucket's ``(level, stamp)`` at ``now``: ``level`` was counted at ``stamp`` and drains
    at ``cap`` per ``window`` seconds. Whole units; ``stamp`` moves only as far as the units
    drained, so no fraction of a unit is ever lost however often this runs."""
    if level <= 0:
        return 0, now
    if cap <= 0:
        return level, stamp
    drained = int((now - stamp) * cap / window)
    if drained >= level:
        return 0, now
    if drained <= 0:
        return level, stamp
    return level - drained, stamp + drained * window / cap


Settled = Callable[[Charge, int, int], None]
"""Told ``(charge, before, after)`` when a counter's settled amount moves from ``before`` to
``after``. Called on the event loop; must not block."""


class Ledger(Protocol):
    async def start(self, spawn: Callable[..., object]) -> None:
        """Open, and start background work (lease renewal) with ``spawn(coro, name=...)``."""

    async def close(self) -> None:
        """Give back what is leased and not used, settle what is pending, close."""

    async def reserve(self, charges: Sequence[Charge]) -> Hold | Shortfall:
        """Hold every charge, or none (see the module docstring)."""

    def settle(self, hold: Hold, amounts: Sequence[int]) -> None:
        """Replace ``hold``'s amounts with ``amounts`` (one per charge); once per hold."""

    def release(self, hold: Hold) -> None:
        """Settle nothing: the held amounts go back."""

    async def read(self, counter: str, period: str) -> int:
        """The settled amount of ``counter`` in ``period`` (0 if never charged)."""

    def peek(self, charges: Sequence[Charge]) -> tuple[int, ...]:
        """Each charge's room (cap minus what is settled and held), as this process knows it
        now: exact for one process, as of the last synchronisation for several. No I/O."""

    async def refresh(self, charges: Sequence[Charge]) -> None:
        """Learn the counters this process has not used yet, so that ``peek`` knows them (a
        multi-process backend reads them once; afterwards, and for one process, nothing)."""

    async def seed(self, charge: Charge) -> None:
        """Raise ``charge``'s counter to at least ``charge.amount`` settled."""
