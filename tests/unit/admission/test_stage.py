"""Admission: quotas, rate limits and budgets reserved before a request, settled after it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from keyroute.admission.events import ThresholdCrossed
from keyroute.admission.policy import Budget, Limits, PlanQuota, RateLimit
from keyroute.admission.stage import NO_LIMITS_TICKET, Admission, Demand, Ticket
from keyroute.core.errors import BudgetExceeded, QuotaExceeded, RequestsLimited
from keyroute.core.money import Cost, usd_to_pico
from keyroute.core.record import RequestRecord
from keyroute.core.response import Usage
from keyroute.ledger.memory import MemoryLedger

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self, iso: str) -> None:
        self.now = datetime.fromisoformat(iso).timestamp()

    def __call__(self) -> float:
        return self.now


def admission(clock: Clock) -> tuple[Admission, list[ThresholdCrossed]]:
    seen: list[ThresholdCrossed] = []
    holder: list[Admission] = []
    ledger = MemoryLedger(on_settled=lambda c, b, a: holder[0].settled(c, b, a), clock=clock)
    stage = Admission(ledger, clock=clock)
    holder.append(stage)
    stage.events.subscribe(seen.append)
    return stage, seen


def demand(cost: int | None = 0, *, key: str = "k1", user: str | None = None, tokens: int = 10):
    return Demand(workspace_id="w", key_id=key, user=user, tokens=tokens, cost=cost)


def record(*, usage: Usage | None = None, paid: int | None = None) -> RequestRecord:
    rec = RequestRecord(
        request_id="r", started_at=datetime.now(UTC), endpoint="/v1", inbound_format="openai"
    )
    rec.usage = usage
    rec.cost = Cost(list_pico=paid, paid_pico=paid) if paid is not None else None
    return rec


SERVED = Usage(input_tokens=7, output_tokens=3)


async def test_no_limits_costs_nothing() -> None:
    stage, _ = admission(Clock("2026-12-03T10:00:00+00:00"))
    headers: list[tuple[str, str]] = []
    assert await stage.admit(Limits(), demand(), headers) is NO_LIMITS_TICKET
    assert headers == []
    NO_LIMITS_TICKET.settle(record(usage=SERVED))


async def test_the_quota_counts_served_requests_and_resets_with_the_local_month() -> None:
    clock = Clock("2026-11-30T14:00:00+00:00")  # 23:00 in Tokyo, last hour of November
    stage, _ = admission(clock)
    limits = Limits(plan=PlanQuota(name="free", monthly_requests=2), timezone="Asia/Tokyo")
    headers: list[tuple[str, str]] = []
    first = await stage.admit(limits, demand(), headers)
    assert headers == [
        ("x-keyroute-quota-limit", "2"),
        ("x-keyroute-quota-remaining", "1"),
        ("x-keyroute-quota-reset", "2026-12-01T00:00:00+09:00"),
    ]
    first.settle(record(usage=SERVED))
    failed = await stage.admit(limits, demand(), [])
    failed.settle(record())  # the upstream failed: the request does not count
    served = await stage.admit(limits, demand(), [])
    served.settle(record(usage=SERVED))
    headers = []
    with pytest.raises(QuotaExceeded) as refused:
        await stage.admit(limits, demand(), headers)
    assert "free plan allows 2 requests a month" in refused.value.message
    assert "resets at 2026-12-01T00:00:00+09:00 (Asia/Tokyo; 2026-11-30T15:00:00+00:00)" in (
        refused.value.message
    )
    assert ("x-keyroute-quota-remaining", "0") in headers
    clock.now += 3600  # midnight in Tokyo: December
    headers = []
    await stage.admit(limits, demand(), headers)
    assert ("x-keyroute-quota-reset", "2027-01-01T00:00:00+09:00") in headers


async def test_rate_limits_per_minute_with_retry_after() -> None:
    clock = Clock("2026-12-03T10:00:15+00:00")
    stage, _ = admission(clock)
    limits = Limits(
        rate_limits=(
            RateLimit(requests_per_minute=5, tokens_per_minute=100),
            RateLimit(scope="key", subject="k1", requests_per_minute=2),
        )
    )
    headers: list[tuple[str, str]] = []
    ticket = await stage.admit(limits, demand(tokens=30), headers)
    assert headers == [
        ("x-ratelimit-limit-requests", "2"),  # the tightest: the key's
        ("x-ratelimit-remaining-requests", "1"),
        ("x-ratelimit-reset-requests", "30s"),  # until its bucket is full: 1 of 2 a minute
        ("x-ratelimit-limit-tokens", "100"),
        ("x-ratelimit-remaining-tokens", "70"),
        ("x-ratelimit-reset-tokens", "18s"),  # 30 of 100 a minute
    ]
    ticket.settle(record(usage=Usage(input_tokens=50, output_tokens=40)))  # corrected to 90
    with pytest.raises(RequestsLimited) as refused:
        await stage.admit(limits, demand(tokens=30), [])
    assert "100 tokens per minute" in refused.value.message
    assert refused.value.retry_after == 12  # 20 tokens short, at 100 a minute
    await stage.admit(limits, demand(key="k2", tokens=5), [])
    await stage.admit(limits, demand(key="k1", tokens=1), [])
    with pytest.raises(RequestsLimited) as refused:
        await stage.admit(limits, demand(key="k1", tokens=1), [])
    assert "2 requests per minute" in refused.value.message
    assert refused.value.retry_after == 30  # one request drains in 30 s
    assert "Retry in 30 s" in refused.value.message
    assert refused.value.code == "rate_limited"
    clock.now += 30
    await stage.admit(limits, demand(key="k1", tokens=1), [])


async def test_no_second_burst_at_the_turn_of_a_minute() -> None:
    """Fixed minute windows let 2N through across a minute's edge; a bucket lets N."""
    clock = Clock("2026-12-03T10:00:59.900+00:00")
    stage, _ = admission(clock)
    limits = Limits(rate_limits=(RateLimit(requests_per_minute=10),))
    for _ in range(10):
        await stage.admit(limits, demand(), [])
    clock.now += 0.2  # the next minute
    with pytest.raises(RequestsLimited):
        await stage.admit(limits, demand(), [])
    clock.now += 6  # one request's worth drained
    await stage.admit(limits, demand(), [])
    with pytest.raises(RequestsLimited):
        await stage.admit(limits, demand(), [])


async def test_state_headers_tell_the_limits_without_reserving() -> None:
    clock = Clock("2026-12-03T10:00:00+00:00")
    stage, _ = admission(clock)
    limits = Limits(
        plan=PlanQuota(name="free", monthly_requests=5),
        rate_limits=(RateLimit(requests_per_minute=10),),
    )
    (await stage.admit(limits, demand(), [])).settle(record(usage=SERVED))
    told = await stage.state_headers(limits, "w", "k1")
    assert told == [
        ("x-keyroute-quota-limit", "5"),
        ("x-keyroute-quota-remaining", "4"),
        ("x-keyroute-quota-reset", "2027-01-01T00:00:00+00:00"),
        ("x-ratelimit-limit-requests", "10"),
        ("x-ratelimit-remaining-requests", "9"),
        ("x-ratelimit-reset-requests", "6s"),
    ]
    assert await stage.state_headers(limits, "w", "k1") == told  # nothing was reserved
    assert await stage.state_headers(Limits(budgets=(Budget(daily_pico=1),)), "w", "k1") == []


async def test_a_request_larger_than_the_token_limit_says_so() -> None:
    stage, _ = admission(Clock("2026-12-03T10:00:00+00:00"))
    limits = Limits(rate_limits=(RateLimit(tokens_per_minute=100),))
    with pytest.raises(RequestsLimited, match="This request alone is estimated at 500 tokens"):
        await stage.admit(limits, demand(tokens=500), [])


async def test_budgets_reserve_the_worst_case_and_settle_the_cost() -> None:
    stage, events = admission(Clock("2026-12-03T10:00:00+00:00"))
    cap = usd_to_pico("1")
    limits = Limits(budgets=(Budget(daily_pico=cap),))
    tenth = usd_to_pico("0.1")
    tickets = [await stage.admit(limits, demand(3 * tenth), []) for _ in range(3)]
    with pytest.raises(BudgetExceeded) as refused:  # 0.9 held: 0.3 more does not fit
        await stage.admit(limits, demand(3 * tenth), [])
    assert refused.value.message == (
        "The daily budget of $1 for this workspace is reached: $0.9 spent or held, and this "
        "request could cost up to $0.3. The budget resets at 2026-12-04T00:00:00+00:00."
    )
    assert refused.value.code == "budget_exceeded"
    tickets[0].settle(record(usage=SERVED, paid=2 * tenth))
    tickets[1].settle(record())  # failed upstream: released
    tickets[2].settle(record(usage=SERVED, paid=4 * tenth))  # a stream billed what it saw
    assert [e.percent for e in events] == [50]
    more = await stage.admit(limits, demand(3 * tenth), [])
    more.settle(record(usage=SERVED, paid=3 * tenth))
    assert [(e.percent, e.spend_pico, e.period) for e in events] == [
        (50, 6 * tenth, "daily"),
        (80, 9 * tenth, "daily"),
    ]
    with pytest.raises(BudgetExceeded, match="could cost up to \\$0.2"):
        await stage.admit(limits, demand(2 * tenth), [])


async def test_an_unpriced_model_is_refused_at_a_full_budget() -> None:
    stage, _ = admission(Clock("2026-12-03T10:00:00+00:00"))
    limits = Limits(budgets=(Budget(monthly_pico=10),))
    ticket = await stage.admit(limits, demand(10), [])
    ticket.settle(record(usage=SERVED, paid=10))
    with pytest.raises(BudgetExceeded):
        await stage.admit(limits, demand(None), [])


async def test_budgets_per_key_and_end_user() -> None:
    stage, _ = admission(Clock("2026-12-03T10:00:00+00:00"))
    limits = Limits(
        budgets=(
            Budget(scope="key", subject="k1", daily_pico=10),
            Budget(scope="user", subject="alice", daily_pico=5),
        )
    )
    await stage.admit(limits, demand(4, user="alice"), [])
    with pytest.raises(BudgetExceeded, match="end user 'alice'"):
        await stage.admit(limits, demand(4, key="k2", user="alice"), [])
    await stage.admit(limits, demand(6, key="k1", user="bob"), [])
    with pytest.raises(BudgetExceeded, match="this gateway key"):
        await stage.admit(limits, demand(1, key="k1"), [])
    await stage.admit(limits, demand(100, key="k2"), [])


async def test_downgrade_serves_the_cheaper_model_or_blocks() -> None:
    stage, _ = admission(Clock("2026-12-03T10:00:00+00:00"))
    limits = Limits(
        budgets=(Budget(daily_pico=100, action="downgrade", downgrade_to="cheap-model"),)
    )
    asked: list[str] = []

    async def price(model: str) -> int:
        asked.append(model)
        return 10

    first = await stage.admit(limits, demand(80), [], price)
    assert isinstance(first, Ticket) and first.downgraded_to is None
    second = await stage.admit(limits, demand(80), [], price)
    assert (second.downgraded_to, asked) == ("cheap-model", ["cheap-model"])
    first.settle(record(usage=SERVED, paid=85))
    with pytest.raises(BudgetExceeded):
        await stage.admit(limits, demand(80), [], price)


async def test_the_wait_in_the_message_is_the_retry_after() -> None:
    clock = Clock("2026-12-03T10:00:00+00:00")
    stage, _ = admission(clock)
    limits = Limits(rate_limits=(RateLimit(requests_per_minute=60),))
    for _ in range(60):
        await stage.admit(limits, demand(), [])
    clock.now += 0.7  # 0.3 s before a request's worth has drained
    with pytest.raises(RequestsLimited) as refused:
        await stage.admit(limits, demand(), [])
    assert refused.value.retry_after == 1
    assert "Retry in 1 s" in refused.value.message


async def test_a_seeded_budget_starts_from_the_spend_recorded() -> None:
    clock = Clock("2026-12-03T10:00:00+00:00")
    stage, _ = admission(clock)
    cap = usd_to_pico("1")
    budget = Budget(scope="user", subject="erin", daily_pico=cap, monthly_pico=10 * cap)
    limits = Limits(budgets=(budget,), timezone="Europe/Paris")
    midnight = datetime.fromisoformat("2026-12-03T00:00:00+01:00").timestamp()
    await stage.seed_budget(
        "w", budget, "Europe/Paris", midnight, daily_pico=usd_to_pico("0.9"), monthly_pico=None
    )
    with pytest.raises(BudgetExceeded, match=r"daily budget of \$1 .* \$0\.9 spent"):
        await stage.admit(limits, demand(usd_to_pico("0.2"), user="erin"), [])
    await stage.admit(limits, demand(usd_to_pico("0.1"), user="erin"), [])
