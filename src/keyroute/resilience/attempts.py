"""The one attempt loop, for whole and streamed requests alike.

``run_attempts(candidates, call)`` tries candidates in order and returns the first success.
After a failure, ``classify`` decides (see ``classify.py``):

- ``retry``: when the next candidate is the same model through another key of the same provider,
  it answers at once (a key that sent ``retry-after`` rests meanwhile); otherwise the same
  target is tried again after ``Backoff.delay`` (at most ``max_retries`` times; a
  ``retry-after`` longer than the backoff's cap fails over instead of holding the client).
- ``failover``: the next candidate, at once.
- ``context``: the next candidate whose context window is larger (from the catalogue).
- ``fatal``: the error goes back to the client unchanged.

``max_attempts`` caps the attempts of one request whatever the candidates, and the retry
budget (``budget.py``) caps a provider's retries at a share of its requests, so an outage does
not multiply load: past it, the loop moves on to other providers' candidates. A key its
provider refused (401, 403) is skipped for a while, for every model (``HealthBoard.reject``).
Candidates whose circuit is open or whose key rests are skipped without spending an attempt.
A later candidate that cannot take the request at all (it refuses a feature the first one
supported) is skipped; the first candidate's refusal is the client's answer. ``on_failure``
hears of every failed attempt (for the request record).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from keyroute.core.errors import (
    GatewayError,
    InvalidRequest,
    NoRouteAvailable,
    RateLimited,
    UpstreamError,
)
from keyroute.resilience.backoff import Backoff
from keyroute.resilience.breakers import HealthBoard
from keyroute.resilience.budget import RetryBudget
from keyroute.resilience.classify import Decision, classify

R = TypeVar("R")


class Candidate(Protocol):
    """What the loop needs to know of a target."""

    @property
    def health_key(self) -> tuple[str, str]: ...  # (provider key id, model): its breaker
    @property
    def group(self) -> tuple[str, str]: ...  # (provider, model): keys of one model share it
    @property
    def context_window(self) -> int | None: ...


C = TypeVar("C", bound=Candidate)


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptPolicy:
    max_attempts: int = 5
    max_retries: int = 2
    backoff: Backoff = field(default_factory=Backoff)


async def run_attempts(
    candidates: Sequence[C],
    call: Callable[[C], Awaitable[R]],
    *,
    policy: AttemptPolicy,
    board: HealthBoard,
    sleep: Callable[[float], Awaitable[None]],
    on_failure: Callable[[C, GatewayError, Decision], None] | None = None,
    budget: RetryBudget | None = None,
) -> R:
    """The first success of ``call`` over ``candidates`` (see the module docstring)."""
    loop = _Loop(candidates, call, policy, board, sleep, on_failure, budget)
    for index, candidate in enumerate(candidates):
        if not loop.eligible(candidate):
            continue
        result = await loop.attempt(index, candidate)
        if result is not _NEXT:
            return result  # type: ignore[return-value]
    raise loop.final()


_NEXT = object()  # "go on to the next candidate"


class _Loop(Generic[C, R]):
    def __init__(
        self,
        candidates: Sequence[C],
        call: Callable[[C], Awaitable[R]],
        policy: AttemptPolicy,
        board: HealthBoard,
        sleep: Callable[[float], Awaitable[None]],
        on_failure: Callable[[C, GatewayError, Decision], None] | None,
        budget: RetryBudget | None = None,
    ) -> None:
        self.candidates = candidates
        self.call = call
        self.policy = policy
        self.board = board
        self.sleep = sleep
        self.on_failure = on_failure
        self.budget = budget
        self.started: set[str] = set()  # providers this request has sent an attempt to
        self.attempts = 0
        self.last: GatewayError | None = None
        self.larger_than: int | None = None  # after a context-length failure: the window to beat
        self.rest: float | None = None  # the shortest rest of a key skipped for a rate limit

    def eligible(self, candidate: C) -> bool:
        if self.larger_than is not None and (candidate.context_window or 0) <= self.larger_than:
            return False
        if self.board.allow(candidate.health_key):
            return True
        resting = self.board.resting(candidate.health_key)
        if resting > 0:
            self.rest = resting if self.rest is None else min(self.rest, resting)
        return False

    async def attempt(self, index: int, candidate: C) -> R | object:
        """``call(candidate)``, retried as the table says; ``_NEXT`` to move on."""
        retries = 0
        self._spend(candidate, retry=False)
        while True:
            self.attempts += 1
            try:
                result = await self.call(candidate)
            except UpstreamError as error:
                delay = self._after(index, candidate, error, retries)
                if delay is None or not self._spend(candidate, retry=True):
                    return _NEXT
                retries += 1
                await self.sleep(delay)
                continue
            except InvalidRequest as error:
                if index == 0:
                    raise
                self.last = self.last or error  # a fallback that cannot take this request
                return _NEXT
            self.board.record(candidate.health_key, ok=True)
            return result

    def _spend(self, candidate: C, *, retry: bool) -> bool:
        """Whether the retry budget lets this attempt go: a retry of the same target needs
        room in its provider's budget; any other attempt goes (a request's first attempt at a
        provider counts as one of its requests)."""
        if self.budget is None:
            return True
        provider = candidate.group[0]
        if retry:
            return self.budget.allow_retry(provider)
        if provider not in self.started:
            self.started.add(provider)
            self.budget.request(provider)
        return True

    def _after(self, index: int, candidate: C, error: UpstreamError, retries: int) -> float | None:
        """Raise, or say how long to wait before retrying ``candidate`` (``None``: move on)."""
        decision = classify(error)
        self.last = error
        if self.on_failure is not None:
            self.on_failure(candidate, error, decision)
        if decision is Decision.FATAL:
            raise error
        self.board.record(candidate.health_key, ok=False)
        if decision is Decision.FAILOVER and error.upstream_status in (401, 403):
            self.board.reject(candidate.health_key[0])  # the key itself: skip it for a while
        if self.attempts >= self.policy.max_attempts:
            raise error
        if decision is Decision.CONTEXT:
            if candidate.context_window is None:
                raise error
            self.larger_than = candidate.context_window
            return None
        if decision is not Decision.RETRY:
            return None
        if error.retry_after:
            self.board.rest(candidate.health_key, error.retry_after)
        following = self.candidates[index + 1] if index + 1 < len(self.candidates) else None
        if following is not None and following.group == candidate.group:
            return None  # another key of the same model answers at once
        if retries >= self.policy.max_retries:
            return None
        return self.policy.backoff.delay(retries + 1, error.retry_after)

    def final(self) -> GatewayError:
        if self.last is not None:
            return self.last
        if self.rest is not None:
            return RateLimited(
                "Every provider key for this model is rate-limited by its provider; "
                f"retry in {self.rest:.1f} s.",
                retry_after=self.rest,
            )
        return NoRouteAvailable(
            "Every candidate for this request is unavailable (open circuit or resting key); "
            "retry shortly."
        )
