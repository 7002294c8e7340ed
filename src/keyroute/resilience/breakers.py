"""Circuit breakers per (provider key, model), and keys resting after a rate limit.

A breaker is closed while its target answers: it keeps the outcomes of the last ``window``
attempts, and opens once at least ``min_calls`` of them are in and the share of failures
reaches ``failure_rate``. An open breaker is skipped, without spending a request, for
``open_seconds``; then one probe goes through (half-open): success closes it, failure opens it
again. Only failures that say something about the target count (the retry and failover
classes); a client's own bad request never opens a breaker.

A key that answered 429 with ``retry-after`` rests until then: the next candidate answers
instead, without waiting. State is per process (several workers each keep their own; the
scale-out work shares it through Redis behind the same methods).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

State = Literal["closed", "open", "half_open"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerPolicy:
    enabled: bool = True  # False: nothing ever opens (rate-limit rests still apply)
    window: int = 20
    min_calls: int = 5
    failure_rate: float = 0.5
    open_seconds: float = 30.0
    rejected_seconds: float = 300.0  # a key its provider refused (401, 403) is skipped this long


@dataclass(slots=True)
class _Breaker:
    outcomes: deque[bool]
    state: State = "closed"
    opened_at: float = 0.0
    probing: bool = False
    resting_until: float = 0.0
    failures: int = field(default=0)


class HealthBoard:
    """Breakers and rests for every (provider key id, model) this process has tried."""

    def __init__(
        self, policy: BreakerPolicy | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.policy = policy or BreakerPolicy()
        self._clock = clock
        self._breakers: dict[tuple[str, str], _Breaker] = {}
        self._rejected: dict[str, float] = {}  # provider key id -> skipped until

    def _get(self, key: tuple[str, str]) -> _Breaker:
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = _Breaker(outcomes=deque(maxlen=self.policy.window))
            self._breakers[key] = breaker
        return breaker

    def allow(self, key: tuple[str, str]) -> bool:
        """Whether an attempt may go to ``key`` now (an open circuit or a resting key: no)."""
        if self._rejected and self.rejected(key[0]) > 0:
            return False
        breaker = self._breakers.get(key)
        if breaker is None:
            return True
        now = self._clock()
        if now < breaker.resting_until:
            return False
        if breaker.state == "closed":
            return True
        if breaker.state == "open":
            if now - breaker.opened_at < self.policy.open_seconds:
                return False
            breaker.state = "half_open"
            breaker.probing = False
        if breaker.probing:
            return False
        breaker.probing = True  # the one probe of a half-open circuit
        return True

    def blocked(self, key: tuple[str, str]) -> bool:
        """Whether ``key`` is unavailable now (resting, or open and not yet due a probe),
        without changing any state: what the router asks before it chooses."""
        if self._rejected and self.rejected(key[0]) > 0:
            return True
        breaker = self._breakers.get(key)
        if breaker is None:
            return False
        now = self._clock()
        if now < breaker.resting_until:
            return True
        return breaker.state == "open" and now - breaker.opened_at < self.policy.open_seconds

    def record(self, key: tuple[str, str], ok: bool) -> None:
        breaker = self._get(key)
        if breaker.state == "half_open":
            breaker.probing = False
            if ok:
                breaker.state = "closed"
                breaker.outcomes.clear()
            else:
                breaker.state, breaker.opened_at = "open", self._clock()
            return
        breaker.outcomes.append(ok)
        failed = breaker.outcomes.count(False)
        policy = self.policy
        if (
            policy.enabled
            and breaker.state == "closed"
            and len(breaker.outcomes) >= policy.min_calls
            and failed / len(breaker.outcomes) >= policy.failure_rate
        ):
            breaker.state, breaker.opened_at = "open", self._clock()

    def resting(self, key: tuple[str, str]) -> float:
        """Seconds ``key`` still rests after a rate limit (0 when it does not)."""
        breaker = self._breakers.get(key)
        return 0.0 if breaker is None else max(0.0, breaker.resting_until - self._clock())

    def rest(self, key: tuple[str, str], seconds: float) -> None:
        """``key`` answered 429 with ``retry-after``: skip it for ``seconds``."""
        breaker = self._get(key)
        breaker.resting_until = max(breaker.resting_until, self._clock() + seconds)

    def reject(self, key_id: str) -> None:
        """The provider refused ``key_id`` itself (401, 403): skip it, for every model, for
        ``rejected_seconds`` (unless breakers are off), and say so in ``snapshot``."""
        if self.policy.enabled:
            self._rejected[key_id] = self._clock() + self.policy.rejected_seconds

    def rejected(self, key_id: str) -> float:
        """Seconds ``key_id`` is still skipped after its provider refused it (0: it is not)."""
        until = self._rejected.get(key_id)
        if until is None:
            return 0.0
        left = until - self._clock()
        if left <= 0:
            del self._rejected[key_id]
            return 0.0
        return left

    def snapshot(self) -> list[dict[str, object]]:
        """Every tracked target's state, for ``keyroute health`` and the admin API."""
        now = self._clock()
        out: list[dict[str, object]] = []
        for (key_id, model), b in sorted(self._breakers.items()):
            state = b.state
            if state == "open" and now - b.opened_at >= self.policy.open_seconds:
                state = "half_open"
            out.append(
                {
                    "provider_key_id": key_id,
                    "model": model,
                    "state": state,
                    "recent_calls": len(b.outcomes),
                    "recent_failures": b.outcomes.count(False),
                    "resting_seconds": round(max(0.0, b.resting_until - now), 3),
                    "key_rejected_seconds": round(self.rejected(key_id), 3),
                }
            )
        return out
