from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from keyroute.alerts.rules import RuleError, RuleInput, rule_from_record
from keyroute.core.alert_store import AlertRuleRecord


def stored(spec: RuleInput) -> AlertRuleRecord:
    return AlertRuleRecord(
        id="r",
        workspace_id="w",
        name="n",
        channel_id="c",
        kind=spec.kind,
        params=spec.settings(),
        cooldown_seconds=spec.cooldown_seconds(),
        action=spec.checked_action(),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_burn_rate_per_day_is_stored_per_hour_with_a_slow_window() -> None:
    rule = rule_from_record(stored(RuleInput(kind="burn_rate", value="240", per="day")))
    assert rule.threshold == Decimal(10)
    assert rule.window_seconds == 6 * 3600 and rule.short_window_seconds == 1800
    assert rule.escalate == Decimal(20)
    assert rule.describe() == "spend above $240.00/day over 6h"
    assert rule.cooldown_seconds == 1800


def test_burn_rate_with_window_cooldown_escalation_and_action() -> None:
    spec = RuleInput(
        kind="burn_rate",
        value="100",
        per="hour",
        window="15m",
        cooldown="1h",
        escalate="500",
        action="pause-key",
    )
    rule = rule_from_record(stored(spec))
    assert (rule.threshold, rule.escalate, rule.window_seconds) == (Decimal(100), Decimal(500), 900)
    assert rule.short_window_seconds == 75
    assert (rule.cooldown_seconds, rule.action) == (3600, "pause-key")


def test_other_kinds() -> None:
    anomaly = rule_from_record(
        stored(RuleInput(kind="anomaly", value="5", min_spend="2", timezone="Europe/Paris"))
    )
    assert (anomaly.threshold, anomaly.baseline_days) == (Decimal(5), 7)
    assert anomaly.min_spend_usd == Decimal(2)
    assert anomaly.timezone == "Europe/Paris"
    budget = rule_from_record(stored(RuleInput(kind="budget_threshold", value="80")))
    assert (budget.threshold, budget.escalate) == (Decimal(80), Decimal(100))
    assert rule_from_record(stored(RuleInput(kind="projection"))).escalate is None
    errors = rule_from_record(stored(RuleInput(kind="error_rate", value="10")))
    assert (errors.window_seconds, errors.min_requests, errors.escalate) == (300, 20, Decimal(20))
    per_minute = rule_from_record(stored(RuleInput(kind="request_rate", value="60", per="minute")))
    assert per_minute.threshold == 3600
    assert per_minute.describe() == "more than 60 requests/minute over 1h"


@pytest.mark.parametrize(
    ("spec", "param"),
    [
        (RuleInput(kind="burn_rate"), "burn-rate"),
        (RuleInput(kind="burn_rate", value="abc"), "burn-rate"),
        (RuleInput(kind="burn_rate", value="-5"), "burn-rate"),
        (RuleInput(kind="burn_rate", value="NaN"), "burn-rate"),
        (RuleInput(kind="burn_rate", value="5", per="week"), "per"),
        (RuleInput(kind="burn_rate", value="5", window="fast"), "window"),
        (RuleInput(kind="burn_rate", value="5", escalate="4"), "escalate"),
        (RuleInput(kind="error_rate", value="5000"), "error-rate"),
        (RuleInput(kind="error_rate", value="5", min_requests="x"), "min-requests"),
        (RuleInput(kind="anomaly", value="5", baseline="36h"), "baseline"),
        (RuleInput(kind="anomaly", value="5", timezone="Mars/Olympus"), "timezone"),
        (RuleInput(kind="budget_threshold", value="80", window="1h"), "window"),
        (RuleInput(kind="projection", escalate="5"), "escalate"),
    ],
)
def test_bad_settings_name_their_flag(spec: RuleInput, param: str) -> None:
    with pytest.raises(RuleError) as caught:
        spec.settings()
    assert caught.value.param == param
    assert f"--{param}" in str(caught.value)


def test_bad_cooldown_and_action() -> None:
    with pytest.raises(RuleError, match="--cooldown"):
        RuleInput(kind="projection", cooldown="soon").cooldown_seconds()
    with pytest.raises(RuleError, match="--action"):
        RuleInput(kind="projection", action="explode").checked_action()
