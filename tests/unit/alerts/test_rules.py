from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from keyroute.alerts.rules import RuleError, RuleInput, flag, rule_from_record, rule_input
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
        (RuleInput(kind="burn_rate"), "burn_rate"),
        (RuleInput(kind="burn_rate", value="abc"), "burn_rate"),
        (RuleInput(kind="burn_rate", value="-5"), "burn_rate"),
        (RuleInput(kind="burn_rate", value="NaN"), "burn_rate"),
        (RuleInput(kind="burn_rate", value="5", per="week"), "per"),
        (RuleInput(kind="burn_rate", value="5", window="fast"), "window"),
        (RuleInput(kind="burn_rate", value="5", window="2d"), "window"),
        (RuleInput(kind="burn_rate", value="5", escalate="4"), "escalate"),
        (RuleInput(kind="error_rate", value="5000"), "error_rate"),
        (RuleInput(kind="error_rate", value="5", min_requests="x"), "min_requests"),
        (RuleInput(kind="anomaly", value="5", baseline="36h"), "baseline"),
        (RuleInput(kind="anomaly", value="5", timezone="Mars/Olympus"), "timezone"),
        (RuleInput(kind="budget_threshold", value="80", window="1h"), "window"),
        (RuleInput(kind="projection", escalate="5"), "escalate"),
        (RuleInput(kind="error_rate", value="101"), "error_rate"),
        (RuleInput(kind="budget_threshold", value="1001"), "budget_threshold"),
        (RuleInput(kind="anomaly", value="5", per="hour"), "per"),
        (RuleInput(kind="error_rate", value="5", per="hour"), "per"),
        (RuleInput(kind="burn_rate", value="5", baseline="7d"), "baseline"),
        (RuleInput(kind="burn_rate", value="5", min_spend="1"), "min_spend"),
        (RuleInput(kind="burn_rate", value="5", min_requests="3"), "min_requests"),
        (RuleInput(kind="burn_rate", value="5", timezone="UTC"), "timezone"),
        (RuleInput(kind="budget_threshold", value="80", timezone="UTC"), "timezone"),
        (RuleInput(kind="burn_rate", value="5", key="k1"), "key"),
        (RuleInput(kind="anomaly", value="5", user="u1"), "user"),
        (RuleInput(kind="projection", key="k1", user="u1"), "user"),
        (RuleInput(kind="projection", key=" "), "key"),
    ],
)
def test_bad_settings_name_their_flag(spec: RuleInput, param: str) -> None:
    with pytest.raises(RuleError) as caught:
        spec.settings()
    assert caught.value.param == param
    assert flag(param) in str(caught.value)


def test_bad_cooldown_and_action() -> None:
    with pytest.raises(RuleError, match="--cooldown"):
        RuleInput(kind="projection", cooldown="soon").cooldown_seconds()
    with pytest.raises(RuleError, match="--action"):
        RuleInput(kind="projection", action="explode").checked_action()


def test_budget_rules_of_a_key_or_an_end_user() -> None:
    workspace = rule_from_record(stored(RuleInput(kind="budget_threshold", value="80")))
    assert (workspace.scope, workspace.subject) == ("workspace", None)
    key = rule_from_record(stored(RuleInput(kind="budget_threshold", value="80", key="k1")))
    assert (key.scope, key.subject) == ("key", "k1")
    assert key.describe() == "budget use of gateway key k1 at or above 80%"
    user = rule_from_record(stored(RuleInput(kind="projection", user="team-a")))
    assert (user.scope, user.subject) == ("user", "team-a")
    assert user.describe() == (
        "monthly budget of end user team-a projected to run out before the month ends"
    )


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({}, "burn_rate"),
        ({"burn_rate": "5", "projection": True}, "projection"),
        ({"burn_rate": "5", "anomaly": "3"}, "anomaly"),
        ({"burn_rate": "5", "speed": "3"}, "speed"),
        ({"burn_rate": "5", "window": True}, "window"),
    ],
)
def test_fields_name_one_kind(fields: dict[str, str | bool | None], param: str) -> None:
    with pytest.raises(RuleError) as caught:
        rule_input(fields)
    assert caught.value.param == param


def test_fields_as_the_cli_and_admin_api_give_them() -> None:
    spec = rule_input(
        {"burn_rate": "50", "per": "hour", "window": "15m", "projection": False, "key": None}
    )
    assert spec == RuleInput(kind="burn_rate", value="50", per="hour", window="15m")
    assert rule_input({"projection": True, "user": "bob", "action": "downgrade"}) == RuleInput(
        kind="projection", user="bob", action="downgrade"
    )
