"""``keyroute.resilience.attempts``: the attempt loop over scripted outcomes (no sockets, no
sleeping: the sleep is recorded)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from keyroute.core.errors import (
    GatewayError,
    NoRouteAvailable,
    RateLimited,
    UnsupportedFeature,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
)
from keyroute.resilience.attempts import AttemptPolicy, run_attempts
from keyroute.resilience.backoff import Backoff
from keyroute.resilience.breakers import HealthBoard
from keyroute.resilience.budget import BudgetPolicy, RetryBudget

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Target:
    key: str
    model: str
    window: int | None = 100_000

    @property
    def health_key(self) -> tuple[str, str]:
        return (self.key, self.model)

    @property
    def group(self) -> tuple[str, str]:
        return ("p", self.model)

    @property
    def context_window(self) -> int | None:
        return self.window


def fail(status: int, cls: type[UpstreamError] = UpstreamError, **kw: object) -> UpstreamError:
    return cls(f"HTTP {status}", provider="p", upstream_status=status, **kw)  # type: ignore[arg-type]


class Script:
    """Answers each call with the next scripted outcome of its target."""

    def __init__(self, outcomes: dict[Target, list[Exception | str]]) -> None:
        self.outcomes = {t: list(o) for t, o in outcomes.items()}
        self.calls: list[Target] = []
        self.slept: list[float] = []

    async def __call__(self, target: Target) -> str:
        self.calls.append(target)
        outcome = self.outcomes[target].pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


A, A2, B = Target("k1", "a"), Target("k2", "a"), Target("k3", "b")
POLICY = AttemptPolicy(max_attempts=5, max_retries=2, backoff=Backoff(rand=lambda: 1.0))


async def run(script: Script, candidates: list[Target], board: HealthBoard | None = None) -> str:
    return await run_attempts(
        candidates, script, policy=POLICY, board=board or HealthBoard(), sleep=script.sleep
    )


async def test_a_transient_error_is_retried_on_the_same_target_with_backoff() -> None:
    script = Script({A: [fail(503), fail(500), "ok"]})
    assert await run(script, [A]) == "ok"
    assert script.calls == [A, A, A] and script.slept == [0.25, 0.5]


async def test_retries_stop_then_the_next_candidate_answers() -> None:
    script = Script({A: [fail(503)] * 3, B: ["ok"]})
    assert await run(script, [A, B]) == "ok"
    assert script.calls == [A, A, A, B]


async def test_another_key_of_the_same_model_answers_at_once_and_the_first_rests() -> None:
    board = HealthBoard()
    script = Script({A: [fail(429, UpstreamRateLimited, retry_after=3.0)], A2: ["ok"]})
    assert await run(script, [A, A2], board) == "ok"
    assert script.calls == [A, A2] and script.slept == []
    assert not board.allow(A.health_key)  # rests for its retry-after


async def test_a_long_retry_after_fails_over_instead_of_waiting() -> None:
    script = Script({A: [fail(429, UpstreamRateLimited, retry_after=60.0)], B: ["ok"]})
    assert await run(script, [A, B]) == "ok"
    assert script.slept == []


async def test_quota_and_auth_failures_fail_over_without_retrying() -> None:
    quota = fail(429, UpstreamRateLimited, upstream_code="insufficient_quota", retryable=False)
    script = Script({A: [quota], A2: [fail(401, UpstreamRejected)], B: ["ok"]})
    assert await run(script, [A, A2, B]) == "ok"
    assert script.calls == [A, A2, B] and script.slept == []


async def test_a_bad_request_goes_back_to_the_client() -> None:
    script = Script({A: [fail(400, UpstreamRejected)], B: ["ok"]})
    with pytest.raises(UpstreamRejected):
        await run(script, [A, B])
    assert script.calls == [A]


async def test_context_too_long_fails_over_only_to_a_larger_window() -> None:
    small, same, large = (
        Target("k1", "a", 8_000),
        Target("k2", "b", 8_000),
        Target("k3", "c", 200_000),
    )
    too_long = fail(400, UpstreamRejected, upstream_code="context_length_exceeded")
    script = Script({small: [too_long], same: ["never"], large: ["ok"]})
    assert await run(script, [small, same, large]) == "ok"
    assert script.calls == [small, large]


async def test_the_attempt_budget_caps_an_outage() -> None:
    script = Script({A: [fail(503)] * 3, A2: [fail(503)] * 3, B: [fail(503)] * 3})
    with pytest.raises(UpstreamError):
        await run(script, [A, A2, B])
    assert len(script.calls) == POLICY.max_attempts


async def test_an_open_circuit_is_skipped_without_a_request() -> None:
    board = HealthBoard()
    for _ in range(5):
        board.record(A.health_key, False)
    script = Script({A: ["never"], B: ["ok"]})
    assert await run(script, [A, B], board) == "ok"
    assert script.calls == [B]


async def test_every_circuit_open_is_no_route() -> None:
    board = HealthBoard()
    for _ in range(5):
        board.record(A.health_key, False)
    with pytest.raises(NoRouteAvailable):
        await run(Script({A: []}), [A], board)


async def test_every_key_resting_is_a_rate_limit_with_its_retry_after() -> None:
    board = HealthBoard()
    board.rest(A.health_key, 4.0)
    with pytest.raises(RateLimited) as info:
        await run(Script({A: []}), [A], board)
    assert info.value.retry_after is not None and 0 < info.value.retry_after <= 4.0


async def test_a_fallback_that_cannot_take_the_request_is_skipped() -> None:
    refused: GatewayError = UnsupportedFeature("no tools here", param="tools")
    script = Script({A: [fail(503)] * 3, B: [refused]})
    with pytest.raises(UpstreamError):  # the last upstream error, not the fallback's refusal
        await run(script, [A, B])
    script = Script({A: [refused]})
    with pytest.raises(UnsupportedFeature):  # the first candidate's refusal is the answer
        await run(script, [A])


@dataclass(frozen=True)
class Elsewhere(Target):
    @property
    def group(self) -> tuple[str, str]:
        return ("q", self.model)


async def test_the_retry_budget_moves_on_to_another_provider() -> None:
    budget = RetryBudget(BudgetPolicy(percent=0, min_retries=0))
    other = Elsewhere("k9", "c")
    script = Script({A: [fail(503)], other: ["ok"]})
    result = await run_attempts(
        [A, other],
        script,
        policy=POLICY,
        board=HealthBoard(),
        sleep=script.sleep,
        budget=budget,
    )
    assert result == "ok" and script.calls == [A, other] and script.slept == []
    # Another key of the same model is not a retry: it answers.
    script = Script({A: [fail(503)], A2: ["ok"]})
    assert (
        await run_attempts(
            [A, A2], script, policy=POLICY, board=HealthBoard(), sleep=script.sleep, budget=budget
        )
        == "ok"
    )
    # With nothing else to try, the provider's own error is the answer.
    script = Script({A: [fail(503)]})
    with pytest.raises(UpstreamError):
        await run_attempts(
            [A], script, policy=POLICY, board=HealthBoard(), sleep=script.sleep, budget=budget
        )
    assert script.calls == [A]


async def test_a_key_its_provider_refused_is_rejected_for_every_model() -> None:
    board = HealthBoard()
    script = Script({A: [fail(401, UpstreamRejected)], B: ["ok"]})
    assert await run(script, [A, B], board) == "ok"
    assert not board.allow(("k1", "other-model")) and board.rejected("k1") > 0
