"""Budget threshold crossings (50, 80, 100 % of a cap by default), published in process.

The ledger tells admission when a budget counter's settled spend moves (once across all worker
processes for the SQLite ledger: the move is seen by the transaction that made it); admission
turns a move across one of the budget's thresholds into a ``ThresholdCrossed`` and publishes it
on ``ThresholdEvents``. Subscribers (the audit log, the alerts) are called synchronously on the
event loop and must not block: they queue. A subscriber that raises is logged and the others
still run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

log = logging.getLogger("keyroute.admission")


@dataclass(frozen=True, slots=True, kw_only=True)
class ThresholdCrossed:
    """A budget's spend in one period crossed ``percent`` % of its cap."""

    workspace_id: str
    scope: Literal["workspace", "key", "user"]
    subject: str | None  # the gateway key id or end-user tag; None for the workspace
    period: Literal["daily", "monthly"]
    period_id: str  # ``2026-12-03`` or ``2026-12``, in the workspace's time zone
    percent: int
    cap_pico: int
    spend_pico: int
    resets_at: float  # Unix seconds
    action: Literal["block", "downgrade"]


Subscriber = Callable[[ThresholdCrossed], None]


class ThresholdEvents:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber`` with every crossing from now on; returns the unsubscribe."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def publish(self, event: ThresholdCrossed) -> None:
        for subscriber in tuple(self._subscribers):
            try:
                subscriber(event)
            except Exception:  # one broken subscriber must not starve the others
                log.exception("a threshold subscriber failed on %s", event)
