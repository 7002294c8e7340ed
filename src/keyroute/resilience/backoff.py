"""Delays between retries: exponential with full jitter, and the provider's ``retry-after``.

``delay(attempt, retry_after)`` is the wait before retry number ``attempt`` (1 for the first
retry): a uniform draw in ``[0, min(cap, base * 2**(attempt-1))]`` (full jitter, so clients
retrying together spread out instead of hitting a recovering provider at once). A provider's
``retry-after`` is honoured when it is no longer than ``max_retry_after``; a longer one returns
``None``: waiting would hold the client, so the loop fails over instead.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    base: float = 0.25
    cap: float = 4.0
    max_retry_after: float = 5.0
    rand: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float | None:
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        ceiling: float = min(self.cap, self.base * 2 ** max(0, attempt - 1))
        return float(self.rand()) * ceiling
