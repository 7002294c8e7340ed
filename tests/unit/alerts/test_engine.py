"""The evaluator end to end on a memory store, with an injected clock: burn rate, anomaly and
projection rules across day and month boundaries and time zones, cooldowns, escalation,
resolution, actions, history and the lease."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from keyroute.alerts.rules import RuleInput
from keyroute.alerts.sources import Budget
from tests.unit.alerts.harness import Harness, utc

pytestmark = pytest.mark.anyio


async def runaway(h: Harness, minutes: int, per_minute: int = 300, usd: float = 0.05) -> None:
    """``per_minute`` requests of ``usd`` each, every minute, advancing the clock."""
    for _ in range(minutes):
        for i in range(0, per_minute, 30):  # in rows of 30 requests' worth, spread in the minute
            await h.spend(usd * 30, at=h.clock.now + timedelta(seconds=i / per_minute * 60))
        h.clock.advance(minutes=1)


async def test_a_runaway_fires_once_per_cooldown_then_resolves() -> None:
    h = Harness(utc("2026-03-31T23:50:00"))  # runs across midnight and a month boundary
    await h.setup()
    await h.rule("runaway", RuleInput(kind="burn_rate", value="100", window="15m", cooldown="30m"))
    assert await h.evaluate() == []
    fired = []
    for _ in range(20):
        await runaway(h, 1)  # $15 a minute: $900 an hour
        fired.extend(await h.evaluate())
    assert [a.event for a in fired] == ["firing", "escalated"]
    first = fired[0]
    # $25 in the 15-minute window is $100 an hour: crossed within the second minute.
    assert first.sent_at <= utc("2026-03-31T23:53:00")
    assert first.top_keys[0].id == "k1" and first.top_keys[0].name == "agent"
    assert first.state == "firing" and first.value >= 100 and first.threshold == 100
    assert first.how_to_act() == "keyroute api-key pause --workspace acme k1"
    assert [a.event for a in h.notifier.sent] == ["firing", "escalated"]
    # Still firing 30 minutes after the last notification: one reminder.
    for _ in range(30):
        await runaway(h, 1)
        fired.extend(await h.evaluate())
    assert [a.event for a in fired[2:]] == ["reminder"]
    # The loop stops: the short window calms down within two minutes and the alert resolves.
    h.clock.advance(minutes=2)
    resolved = await h.evaluate()
    assert [a.event for a in resolved] == ["resolved"]
    assert resolved[0].state == "resolved" and resolved[0].id == first.id
    assert resolved[0].fired_at == first.fired_at
    h.clock.advance(minutes=5)
    assert await h.evaluate() == []
    history = await h.store.alerts.list_alert_events("w1", limit=100)
    kinds = [(e.kind, e.outcome) for e in history]
    assert kinds.count(("delivery", "delivered")) == 4
    assert ("resolved", "resolved") in kinds and ("firing", "firing") in kinds


async def test_a_failing_channel_is_retried_with_backoff_and_the_failures_are_history() -> None:
    h = Harness(utc("2026-06-01T12:00:00"))
    await h.setup()
    await h.rule("runaway", RuleInput(kind="burn_rate", value="100", window="15m"))
    h.notifier.failures = 2
    await runaway(h, 3)
    await h.evaluate()
    assert len(h.notifier.sent) == 1
    assert h.delays == [2.0, 4.0]
    attempts = [
        (e.attempt, e.outcome)
        for e in await h.store.alerts.list_alert_events("w1")
        if e.kind == "delivery"
    ]
    assert attempts == [(1, "failed"), (2, "failed"), (3, "delivered")]


async def test_pause_key_action_runs_on_the_first_firing_only() -> None:
    h = Harness(utc("2026-06-01T12:00:00"))
    await h.setup()
    await h.rule("stop", RuleInput(kind="burn_rate", value="100", window="15m", action="pause-key"))
    await runaway(h, 3)
    await h.spend(0.01, key="k2")
    (alert,) = await h.evaluate()
    assert h.fixed.paused == ["k1"] and alert.action_taken == "paused k1"
    actions = [e for e in await h.store.alerts.list_alert_events("w1") if e.kind == "action"]
    assert len(actions) == 1 and actions[0].outcome == "pause-key"
    await runaway(h, 40)
    await h.evaluate()
    assert h.fixed.paused == ["k1"]


async def test_usage_of_other_workers_counts_and_a_restart_rebuilds_the_day() -> None:
    h = Harness(utc("2026-06-01T12:00:00"))
    await h.setup()
    await h.rule("day", RuleInput(kind="burn_rate", value="10", per="day", window="6h"))
    # Spend stored before this process started (another worker, or before a restart).
    for hour in range(5):
        await h.spend(1.0, at=h.clock.now - timedelta(hours=hour, minutes=1))
    (alert,) = await h.evaluate()
    assert alert.event == "firing"
    assert alert.value == Decimal(5) / 6  # $5 over the six hours of the window


async def test_anomaly_against_the_same_local_hour_across_a_dst_change() -> None:
    # Paris went to summer time on 2026-03-29: 10:00 local is 08:00 UTC on the 30th, but
    # 09:00 UTC on the days before the change.
    h = Harness(utc("2026-03-30T08:00:00"))
    await h.setup()
    await h.rule(
        "odd", RuleInput(kind="anomaly", value="5", min_spend="1", timezone="Europe/Paris")
    )
    for day in range(1, 8):
        local_hour_end = (
            h.clock.now - timedelta(days=day) + (timedelta(hours=1) if day >= 2 else timedelta(0))
        )
        await h.spend(2.0, at=local_hour_end - timedelta(minutes=30))
        # The same UTC hour holds a decoy that a 24-hour baseline would count.
        if day >= 2:
            await h.spend(50.0, at=h.clock.now - timedelta(days=day, minutes=30))
    await h.spend(6.0, at=h.clock.now - timedelta(minutes=40))
    assert await h.evaluate() == []  # 3x the $2 median: no anomaly
    await h.spend(5.0, at=h.clock.now - timedelta(minutes=2))
    (alert,) = await h.evaluate()
    assert alert.event == "firing" and alert.value == pytest.approx(Decimal("5.5"))
    assert alert.unit == "x_baseline"


async def test_anomaly_needs_the_minimum_spend() -> None:
    h = Harness(utc("2026-01-01T00:10:00"))  # the new year: the baseline is last year's
    await h.setup()
    await h.rule("odd", RuleInput(kind="anomaly", value="5", min_spend="10"))
    await h.spend(3.0, at=h.clock.now - timedelta(minutes=1))  # 300x a zero baseline
    assert await h.evaluate() == []
    await h.spend(8.0, at=h.clock.now - timedelta(minutes=1))
    assert [a.event for a in await h.evaluate()] == ["firing"]


async def test_projection_in_the_budget_time_zone_says_when_it_runs_out() -> None:
    # 2026-04-30 20:00 UTC is already May 1st 05:00 in Tokyo: a fresh monthly budget there.
    h = Harness(utc("2026-04-30T20:00:00"))
    await h.setup()
    await h.rule("month", RuleInput(kind="projection"))
    h.fixed.budgets_ = [Budget(period="month", limit_usd=Decimal(1000), timezone="Asia/Tokyo")]
    # $300 spent in April (Tokyo time) does not count against May's budget.
    await h.spend(300.0, at=utc("2026-04-30T14:00:00"))
    await h.spend(1.0, at=utc("2026-04-30T19:30:00"))  # May in Tokyo
    # $1 spent, $1 an hour for the 739 hours left of May in Tokyo: $740 of $1,000.
    assert await h.evaluate() == []
    await h.spend(20.0, at=utc("2026-04-30T19:55:00"))
    (alert,) = await h.evaluate()
    assert alert.event == "firing" and alert.unit == "usd" and alert.threshold == 1000
    assert alert.value == 21 + 21 * 739
    # $979 left at $21 an hour: 46.62 hours from now.
    assert alert.exhausts_at is not None
    expected = utc("2026-04-30T20:00:00") + timedelta(hours=979 / 21)
    assert abs(alert.exhausts_at - expected) < timedelta(seconds=1)


async def test_budget_threshold_in_the_workspace_day() -> None:
    h = Harness(utc("2026-02-01T07:30:00"))  # 23:30 on Jan 31 in Los Angeles
    await h.setup()
    await h.rule("half", RuleInput(kind="budget_threshold", value="50"))
    h.fixed.budgets_ = [Budget(period="day", limit_usd=Decimal(10), timezone="America/Los_Angeles")]
    await h.spend(4.0, at=utc("2026-01-31T07:00:00"))  # the previous local day
    await h.spend(6.0, at=utc("2026-02-01T07:00:00"))
    (alert,) = await h.evaluate()
    assert (alert.event, alert.value, alert.unit) == ("firing", Decimal(60), "percent")
    h.clock.advance(minutes=31)  # local midnight: a new day, nothing spent yet
    assert [a.event for a in await h.evaluate()] == ["resolved"]


async def test_error_rate_and_request_rate() -> None:
    h = Harness(utc("2026-06-01T12:00:00"))
    await h.setup()
    await h.rule("errors", RuleInput(kind="error_rate", value="20", window="5m"))
    await h.rule("flood", RuleInput(kind="request_rate", value="100", per="minute", window="5m"))
    for i in range(30):
        await h.spend(0.0, at=h.clock.now - timedelta(seconds=10 * i), status=502 if i % 2 else 200)
    assert {a.rule for a in await h.evaluate()} == {"errors"}
    for i in range(600):
        await h.spend(0.0, at=h.clock.now - timedelta(seconds=i / 2))
    assert {(a.rule, a.event) for a in await h.evaluate()} == {
        ("errors", "resolved"),  # 15 failures in 630 requests
        ("flood", "firing"),
    }


async def test_one_lease_holder_evaluates_and_a_woken_worker_evaluates_its_workspace() -> None:
    h = Harness(utc("2026-06-01T12:00:00"))
    await h.setup()
    await h.rule("runaway", RuleInput(kind="burn_rate", value="100", window="15m"))
    await runaway(h, 3)
    assert await h.store.alerts.claim_lease("alerts-evaluator", "other", h.clock.now, 45)
    assert await h.evaluate() == []  # another worker holds the lease
    sent = await h.engine.evaluate({"w1"})  # a wake-up after an expensive request
    assert [a.event for a in sent] == ["firing"]
    h.clock.advance(seconds=46)
    assert await h.evaluate() == []  # the lease is this worker's now; nothing new to say


async def test_a_gateway_keys_budget_rule_reads_that_key_and_pauses_it() -> None:
    h = Harness(utc("2026-02-01T07:30:00"))
    await h.setup()
    spec = RuleInput(kind="budget_threshold", value="80", key="k2", action="pause-key")
    await h.rule("batch-budget", spec)
    h.fixed.budgets_ = [
        Budget(period="day", limit_usd=Decimal(100)),  # the workspace's: far from 80 %
        Budget(period="day", limit_usd=Decimal(10), scope="key", subject="k2"),
    ]
    await h.spend(30.0, key="k1")  # the top spender, but not the rule's key
    await h.spend(7.0, key="k2")
    assert await h.evaluate() == []  # k2 at 70 %
    await h.spend(1.5, key="k2")
    (alert,) = await h.evaluate()
    assert (alert.event, alert.value) == ("firing", Decimal(85))
    assert alert.description == "budget use of gateway key k2 at or above 80%"
    assert h.fixed.paused == ["k2"]  # the rule's key, not the top spender k1


async def test_an_end_users_monthly_budget_is_projected_from_that_users_rate() -> None:
    h = Harness(utc("2026-06-30T12:00:00"))  # 12 hours left of June
    await h.setup()
    await h.rule("u1-month", RuleInput(kind="projection", user="u1"))
    h.fixed.budgets_ = [
        Budget(period="month", limit_usd=Decimal(50), scope="user", subject="u1"),
        Budget(period="month", limit_usd=Decimal(50), scope="user", subject="u2"),
    ]
    await h.spend(40.0, at=utc("2026-06-10T00:00:00"), user="u1")
    await h.spend(45.0, at=utc("2026-06-30T11:30:00"), user="u2")  # not u1's spend
    assert await h.evaluate() == []  # u1: $40 spent, nothing in the last hour
    await h.spend(1.0, at=utc("2026-06-30T11:50:00"), user="u1")
    (alert,) = await h.evaluate()  # $41 + $1/h x 12 h = $53 by the end of June
    assert (alert.event, alert.value, alert.threshold) == ("firing", Decimal(53), Decimal(50))
    assert alert.exhausts_at == utc("2026-06-30T21:00:00")
