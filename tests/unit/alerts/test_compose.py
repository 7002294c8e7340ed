from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from keyroute.alerts.compose import alert_id, compose, spend_window
from keyroute.alerts.evaluate import Transition
from keyroute.alerts.velocity import VelocityBoard
from keyroute.core.alert_store import AlertStateRecord
from tests.unit.alerts.test_evaluate import RULE, reading

T0 = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)


def test_compose_names_top_keys_models_and_users() -> None:
    board = VelocityBoard()
    for key, usd in (("k1", 3), ("k2", 1), ("k3", 2), ("k4", 0.5)):
        board.add(
            "w1",
            T0,
            key=key,
            model=f"m-{key}",
            user="u" if key != "k2" else None,
            spend_pico=int(usd * 10**12),
            failed=False,
        )
    since = T0 - timedelta(minutes=5)
    state = AlertStateRecord(rule_id="r1", workspace_id="w1", level=2, version=3, since=since)
    alert = compose(
        RULE,
        Transition(kind="escalated", state=state),
        reading(250, 250),
        board=board,
        workspace_name="acme",
        key_names={"k1": "agent", "k3": "batch"},
        now=T0 + timedelta(seconds=30),
    )
    assert [(s.id, s.name) for s in alert.top_keys] == [
        ("k1", "agent"),
        ("k3", "batch"),
        ("k2", "k2"),
    ]
    assert alert.top_keys[0].spend_usd == 3
    assert [s.id for s in alert.top_models] == ["m-k1", "m-k3", "m-k2"]
    assert [(s.id, s.spend_usd) for s in alert.top_users] == [("u", Decimal("5.5")), (None, 1)]
    assert alert.threshold == 200  # the escalation threshold that was crossed
    assert alert.id == alert_id(RULE, since) == f"al_r1_{int(since.timestamp())}"
    assert alert.fired_at == since and alert.level == 2


def test_spend_window() -> None:
    assert spend_window(RULE) == 900
    assert spend_window(replace(RULE, kind="projection")) == 3600
