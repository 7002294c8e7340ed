"""The retry budget: a provider's retries are capped at a share of its requests.

``RetryBudget`` keeps, per provider, how many requests started there and how many retries
(the same target tried again after a backoff) were sent to it over the last ``window``
seconds, in one-second buckets. Moving on to another key or another model is not a retry: a
key out of quota must not stop its healthy sibling from answering (breakers stop a failing
target instead). A further attempt is allowed while the
provider's retries stay under ``percent`` of its requests, or under ``min_retries`` (so a quiet
gateway still retries). During an outage, when every request fails, retries are therefore at
most ``percent`` more load on the failing provider, not ``max_retries`` times it; the attempt
loop moves on to candidates of other providers instead.

State is per process, like the breakers; the clock is an argument.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetPolicy:
    percent: float = 20.0  # retries allowed, as a share of requests (0: no retries past the floor)
    min_retries: int = 10  # retries allowed per window whatever the traffic
    window: int = 10  # seconds


@dataclass(slots=True)
class _Counts:
    # (second, requests, retries), oldest first
    buckets: deque[list[int]] = field(default_factory=deque)


class RetryBudget:
    def __init__(
        self, policy: BudgetPolicy | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.policy = policy or BudgetPolicy()
        self._clock = clock
        self._providers: dict[str, _Counts] = {}

    def _bucket(self, provider: str) -> tuple[list[int], deque[list[int]]]:
        counts = self._providers.get(provider)
        if counts is None:  # not ``setdefault``: that would build a ``_Counts`` every request
            counts = self._providers[provider] = _Counts()
        now = int(self._clock())
        buckets = counts.buckets
        while buckets and buckets[0][0] <= now - self.policy.window:
            buckets.popleft()
        if not buckets or buckets[-1][0] != now:
            buckets.append([now, 0, 0])
        return buckets[-1], buckets

    def request(self, provider: str) -> None:
        """A request's first attempt at ``provider``."""
        bucket, _ = self._bucket(provider)
        bucket[1] += 1

    def allow_retry(self, provider: str) -> bool:
        """Whether one more attempt may go to ``provider``; if so it is counted."""
        bucket, buckets = self._bucket(provider)
        requests = sum(b[1] for b in buckets)
        retries = sum(b[2] for b in buckets)
        if retries >= max(self.policy.min_retries, requests * self.policy.percent / 100):
            return False
        bucket[2] += 1
        return True

    def snapshot(self) -> list[dict[str, object]]:
        """Requests and retries per provider over the window, for ``GET /admin/v1/health``."""
        out: list[dict[str, object]] = []
        for provider in sorted(self._providers):
            _, buckets = self._bucket(provider)
            out.append(
                {
                    "provider": provider,
                    "requests": sum(b[1] for b in buckets),
                    "retries": sum(b[2] for b in buckets),
                    "window_seconds": self.policy.window,
                }
            )
        return out
