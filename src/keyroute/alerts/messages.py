"""What a notification says, and its three renderings: webhook JSON, Slack, email.

Every message names the rule and what it watches, the current value against the threshold, the
window, the gateway keys, models and end users driving the spend, and how to act (the CLI
command that pauses the top key). The webhook body is signed: ``x-keyroute-signature`` is
``sha256=`` and the hex HMAC-SHA256, under the channel's secret, of ``<timestamp>.<body>``,
where ``x-keyroute-timestamp`` carries the timestamp (Unix seconds), so a receiver can refuse
replays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from email.message import EmailMessage
from typing import Any, Literal

_UNITS = {
    "usd_per_hour": ("${:,.2f}/hour", 2),
    "requests_per_hour": ("{:,.0f} requests/hour", 0),
    "percent": ("{:.1f}%", 1),
    "x_baseline": ("{:.1f}x baseline", 1),
    "usd": ("${:,.2f}", 2),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Spender:
    """One of the top gateway keys, models or end users of the rule's window."""

    id: str | None
    name: str | None
    spend_usd: Decimal
    requests: int

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "spend_usd": float(round(self.spend_usd, 6)),
            "requests": self.requests,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    id: str  # the firing's id: its reminders, escalation and resolution share it
    rule: str
    rule_id: str
    kind: str
    workspace: str
    workspace_id: str
    event: Literal["firing", "escalated", "reminder", "resolved", "test"]
    level: int
    description: str
    value: Decimal
    threshold: Decimal
    unit: str
    window: str
    fired_at: datetime
    sent_at: datetime
    top_keys: list[Spender] = field(default_factory=list)
    top_models: list[Spender] = field(default_factory=list)
    top_users: list[Spender] = field(default_factory=list)
    exhausts_at: datetime | None = None
    action: str = "notify"
    action_taken: str | None = None

    @property
    def state(self) -> Literal["firing", "resolved"]:
        return "resolved" if self.event == "resolved" else "firing"

    def how_to_act(self) -> str:
        if not self.top_keys or self.top_keys[0].id is None:
            return f"keyroute usage --workspace {self.workspace} --by key --since 1d"
        return f"keyroute api-key pause --workspace {self.workspace} {self.top_keys[0].id}"

    def headline(self) -> str:
        verb = {
            "firing": "FIRING",
            "escalated": "ESCALATED",
            "reminder": "STILL FIRING",
            "resolved": "RESOLVED",
            "test": "TEST",
        }[self.event]
        return (
            f"[keyroute] {verb}: {self.rule} in workspace {self.workspace}: "
            f"{show(self.value, self.unit)} (threshold {show(self.threshold, self.unit)})"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "rule_id": self.rule_id,
            "kind": self.kind,
            "workspace": self.workspace,
            "workspace_id": self.workspace_id,
            "state": self.state,
            "event": self.event,
            "escalated": self.level >= 2,
            "alert_id": self.id,
            "description": self.description,
            "value": float(round(self.value, 6)),
            "threshold": float(round(self.threshold, 6)),
            "unit": self.unit,
            "window": self.window,
            "top_keys": [s.as_json() for s in self.top_keys],
            "top_models": [s.as_json() for s in self.top_models],
            "top_users": [s.as_json() for s in self.top_users],
            "fired_at": _iso(self.fired_at),
            "sent_at": _iso(self.sent_at),
            "exhausts_at": _iso(self.exhausts_at) if self.exhausts_at else None,
            "action": self.action,
            "action_taken": self.action_taken,
            "how_to_act": self.how_to_act(),
        }


def show(value: Decimal, unit: str) -> str:
    pattern, places = _UNITS.get(unit, ("{}", 2))
    return pattern.format(round(value, places))


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def webhook_body(alert: Alert) -> bytes:
    return json.dumps(alert.as_json(), separators=(",", ":"), sort_keys=True).encode()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``<timestamp>.<body>``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def text_lines(alert: Alert) -> list[str]:
    """The plain-text body shared by Slack and email."""
    lines = [
        alert.headline(),
        f"Rule: {alert.rule} ({alert.description})",
        f"Current: {show(alert.value, alert.unit)}   Threshold: {show(alert.threshold, alert.unit)}"
        f"   Window: {alert.window}",
        f"Fired at: {_iso(alert.fired_at)}",
    ]
    if alert.exhausts_at is not None:
        lines.append(f"At this rate the budget runs out at {_iso(alert.exhausts_at)}.")
    for title, spenders in (
        ("Top keys", alert.top_keys),
        ("Top models", alert.top_models),
        ("Top users", alert.top_users),
    ):
        if spenders:
            shown = ", ".join(
                f"{s.name or s.id or '(none)'}{f' [{s.id}]' if s.id and s.name else ''}: "
                f"${s.spend_usd:,.2f} in {s.requests} req"
                for s in spenders
            )
            lines.append(f"{title}: {shown}")
    if alert.action_taken:
        lines.append(f"Action taken: {alert.action_taken}")
    if alert.state == "firing":
        lines.append(f"To act: {alert.how_to_act()}")
    return lines


def slack_body(alert: Alert) -> bytes:
    """A Slack incoming-webhook payload: ``text`` (the fallback) and one section block."""
    lines = text_lines(alert)
    payload = {
        "text": lines[0],
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "*" + lines[0] + "*"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines[1:])}},
        ],
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def email(alert: Alert, *, sender: str, to: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = alert.headline()
    message["From"] = sender
    message["To"] = to
    message["X-Keyroute-Alert"] = alert.id
    message.set_content("\n".join(text_lines(alert)) + "\n")
    return message
