"""Readings and the transition table, one line per case."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from keyroute.alerts import evaluate
from keyroute.alerts.evaluate import Reading, plan
from keyroute.alerts.rules import Rule
from keyroute.alerts.velocity import Counts, Window
from keyroute.core.alert_store import AlertStateRecord

T0 = datetime(2026, 6, 30, 23, 55, tzinfo=UTC)
RULE = Rule(
    id="r1",
    workspace_id="w1",
    name="runaway",
    channel_id="c1",
    kind="burn_rate",
    cooldown_seconds=1800,
    action="notify",
    threshold=Decimal(100),
    escalate=Decimal(200),
    window_seconds=900,
)


def reading(value: float, confirm: float | None = None, eligible: bool = True) -> Reading:
    return Reading(
        value=Decimal(value),
        confirm=None if confirm is None else Decimal(confirm),
        threshold=Decimal(100),
        escalate=Decimal(200),
        eligible=eligible,
        unit="usd_per_hour",
        window="15m",
    )


def state(level: int, version: int = 1, notified: timedelta = timedelta(0)) -> AlertStateRecord:
    return AlertStateRecord(
        rule_id="r1",
        workspace_id="w1",
        level=level,
        version=version,
        since=T0 - timedelta(hours=1),
        notified_at=T0 - notified,
    )


@pytest.mark.parametrize(
    ("r", "level"),
    [
        (reading(99), 0),
        (reading(100), 1),
        (reading(150, confirm=99), 0),  # the short window does not confirm
        (reading(250, confirm=150), 1),
        (reading(250, confirm=250), 2),
        (reading(250, eligible=False), 0),
    ],
)
def test_level(r: Reading, level: int) -> None:
    assert r.level() == level


@pytest.mark.parametrize(
    ("stored", "r", "kind", "level"),
    [
        (None, reading(50), None, None),
        (None, reading(150), "firing", 1),
        (None, reading(300), "firing", 2),
        (state(1), reading(150), None, None),  # within the cooldown
        (state(1, notified=timedelta(minutes=30)), reading(150), "reminder", 1),
        (state(1), reading(300), "escalated", 2),
        (state(2), reading(150), "deescalated", 1),
        (state(1), reading(50), "resolved", 0),
        (state(2), reading(150, confirm=10), "resolved", 0),
        (state(0, version=4), reading(150), "firing", 1),
    ],
)
def test_plan(stored, r: Reading, kind: str | None, level: int | None) -> None:
    transition = plan(RULE, stored, r, T0)
    if kind is None:
        assert transition is None
        return
    assert transition is not None
    assert (transition.kind, transition.state.level) == (kind, level)
    assert transition.state.version == (stored.version if stored else 0) + 1
    assert transition.notifies == (kind != "deescalated")
    if kind == "firing":
        assert transition.state.since == T0 == transition.state.notified_at
    elif stored is not None:
        assert transition.state.since == stored.since


def window(spend_usd: float, requests: int, errors: int, span: float) -> Window:
    return Window(counts=Counts(int(spend_usd * 10**12), requests, errors), span_seconds=span)


def test_readings() -> None:
    burn = evaluate.burn_rate(RULE, window(30, 600, 0, 900), window(5, 100, 0, 120))
    assert (burn.value, burn.confirm) == (Decimal(120), Decimal(150))
    assert burn.window == "15m (short 1m15s)"
    errors = evaluate.error_rate(
        replace(RULE, kind="error_rate", threshold=Decimal(10), min_requests=20),
        window(0, 10, 5, 300),
        window(0, 2, 2, 60),
    )
    assert (errors.value, errors.confirm, errors.eligible) == (Decimal(50), Decimal(100), False)
    requests = evaluate.request_rate(RULE, window(0, 300, 0, 60), window(0, 30, 0, 6))
    assert requests.value == 18_000
    anomaly = evaluate.anomaly(
        replace(RULE, kind="anomaly", threshold=Decimal(5), min_spend_usd=Decimal(1)),
        window(12, 100, 0, 3600),
        window(2, 10, 0, 300),
        Decimal(2),
    )
    assert (anomaly.value, anomaly.confirm, anomaly.eligible) == (Decimal(6), Decimal(12), True)
    assert (
        evaluate.anomaly(RULE, window(0.5, 1, 0, 3600), window(0, 0, 0, 300), Decimal(0)).value
        == 50
    )


def test_projection_says_when_the_budget_runs_out() -> None:
    end = datetime(2026, 7, 1, tzinfo=UTC)
    r = evaluate.projected(
        RULE,
        T0,
        limit_usd=Decimal(100),
        spent_usd=Decimal(99),
        usd_per_hour=Decimal(60),
        period_end=end,
        timezone="Asia/Tokyo",
        exhausts_at=T0 + timedelta(minutes=1),
    )
    assert r.value == 104 and r.threshold == 100 and r.level() == 1
    assert r.window == "this month (Asia/Tokyo) at the last hour's rate"
    assert r.exhausts_at == T0 + timedelta(minutes=1)
    later = evaluate.projected(
        RULE,
        T0,
        limit_usd=Decimal(100),
        spent_usd=Decimal(1),
        usd_per_hour=Decimal(1),
        period_end=end,
        timezone="UTC",
        exhausts_at=end + timedelta(days=3),
    )
    assert later.level() == 0 and later.exhausts_at is None
