"""Turning a rule's transition into the ``Alert`` a channel receives: names, top spenders."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from keyroute.alerts.evaluate import PICO, Reading, Transition
from keyroute.alerts.messages import Alert, Spender
from keyroute.alerts.rules import Rule
from keyroute.alerts.velocity import Dimension, VelocityBoard


def alert_id(rule: Rule, since: datetime) -> str:
    """One id per firing: its reminders, escalation and resolution share it."""
    return f"al_{rule.id}_{int(since.timestamp())}"


def spend_window(rule: Rule) -> int:
    """The window the top spenders are ranked over."""
    if rule.kind in ("burn_rate", "request_rate", "error_rate"):
        return rule.window_seconds
    return 3600


def top_spenders(
    board: VelocityBoard,
    rule: Rule,
    dim: Dimension,
    now: datetime,
    names: dict[str, str],
    limit: int = 3,
) -> list[Spender]:
    ranked = board.top(rule.workspace_id, dim, now, spend_window(rule), limit)
    return [
        Spender(
            id=value,
            name=names.get(value or "", value) if dim == "key" else value,
            spend_usd=Decimal(c.spend_pico) / PICO,
            requests=c.requests,
        )
        for value, c in ranked
    ]


def compose(
    rule: Rule,
    transition: Transition,
    reading: Reading,
    *,
    board: VelocityBoard,
    workspace_name: str,
    key_names: dict[str, str],
    now: datetime,
) -> Alert:
    since = transition.state.since or now
    event = transition.kind if transition.kind != "deescalated" else "reminder"
    return Alert(
        id=alert_id(rule, since),
        rule=rule.name,
        rule_id=rule.id,
        kind=rule.kind,
        workspace=workspace_name,
        workspace_id=rule.workspace_id,
        event=event,
        level=transition.state.level,
        description=rule.describe(),
        value=reading.value,
        threshold=reading.escalate
        if transition.kind == "escalated" and reading.escalate is not None
        else reading.threshold,
        unit=reading.unit,
        window=reading.window,
        fired_at=since,
        sent_at=now,
        top_keys=top_spenders(board, rule, "key", now, key_names),
        top_models=top_spenders(board, rule, "model", now, key_names),
        top_users=top_spenders(board, rule, "user", now, key_names),
        exhausts_at=reading.exhausts_at,
        action=rule.action,
    )
