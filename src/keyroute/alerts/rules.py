"""Alert rules: what each kind measures and its settings, checked once, stored as text.

Kinds (``AlertRuleKind``):

- ``burn_rate``: spend per hour over a long window (``window``, 1 h by default for a per-hour
  rule, 6 h for a per-day one) and, as confirmation, over a short window of a twelfth of it
  (the multiwindow rule of the SRE workbook: it fires fast when both burn, and resolves as soon
  as the short window calms down).
- ``anomaly``: the last hour's spend against ``factor`` times the median of the same hour on
  each of the last ``baseline_days`` days (local wall-clock hour in ``timezone``), with a
  minimum spend so quiet workspaces do not page.
- ``budget_threshold``: spend in a budget's period at or above ``percent`` of the budget.
- ``projection``: at the last hour's rate the monthly budget runs out before the month ends.
- ``error_rate``: failed requests over a window (and its short confirmation) at or above
  ``percent``, with a minimum of requests.
- ``request_rate``: requests per hour over a window (and its short confirmation).

Escalation: a second threshold (``escalate``; twice the first by default for rate rules, 100 %
for a budget threshold below it) notifies again at once, cooldown or not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from keyroute.alerts.durations import format_duration, parse_duration
from keyroute.core.alert_store import AlertAction, AlertRuleKind, AlertRuleRecord

KINDS: tuple[AlertRuleKind, ...] = get_args(AlertRuleKind)
ACTIONS: tuple[AlertAction, ...] = get_args(AlertAction)
Per = Literal["minute", "hour", "day"]
_PER_HOUR = {"minute": Decimal(60), "hour": Decimal(1), "day": 1 / Decimal(24)}
"""How many of a period make an hour: a rate per ``per`` times this is a rate per hour."""
DEFAULT_COOLDOWN = 30 * 60


class RuleError(ValueError):
    """A rule setting is wrong; ``param`` names it (the CLI flag without dashes)."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """A rule read back from storage, with typed settings."""

    id: str
    workspace_id: str
    name: str
    channel_id: str
    kind: AlertRuleKind
    cooldown_seconds: int
    action: AlertAction
    threshold: Decimal  # USD/h, x baseline, percent, requests/h; 0 for projection
    escalate: Decimal | None
    per: Per = "hour"
    window_seconds: int = 3600
    baseline_days: int = 7
    min_spend_usd: Decimal = Decimal(0)
    min_requests: int = 0
    timezone: str = "UTC"

    @property
    def short_window_seconds(self) -> int:
        return max(self.window_seconds // 12, 1)

    def describe(self) -> str:
        """One line a person reads: ``burn rate above $100/hour over 1h (short 5m)``."""
        window = f"over {format_duration(self.window_seconds)}"
        shown = self.threshold / _PER_HOUR[self.per]
        if self.kind == "burn_rate":
            return f"spend above ${shown:.2f}/{self.per} {window}"
        if self.kind == "request_rate":
            return f"more than {shown:.0f} requests/{self.per} {window}"
        if self.kind == "error_rate":
            return f"error rate at or above {self.threshold}% {window}"
        if self.kind == "anomaly":
            return (
                f"last hour's spend above {self.threshold}x the same hour's median over "
                f"{self.baseline_days} days (min ${self.min_spend_usd})"
            )
        if self.kind == "budget_threshold":
            return f"budget use at or above {self.threshold}%"
        return "monthly budget projected to run out before the month ends"


def _decimal(value: str | float | Decimal, param: str, *, low: Decimal = Decimal(0)) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise RuleError(f"--{param} {value!r} is not a number", param) from None
    if not number.is_finite() or number <= low:
        raise RuleError(f"--{param} must be a number above {low}; got {value}", param)
    return number


def _duration(text: str, param: str) -> int:
    try:
        return parse_duration(text, what=f"--{param}")
    except ValueError as exc:
        raise RuleError(str(exc), param) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleInput:
    """What the CLI and admin API accept; ``settings`` turns it into stored params."""

    kind: AlertRuleKind
    value: str | None = None  # USD, factor or percent, by kind; None for projection
    per: str | None = None
    window: str | None = None
    baseline: str | None = None
    min_spend: str | None = None
    min_requests: str | None = None
    timezone: str | None = None
    escalate: str | None = None
    cooldown: str | None = None
    action: str = "notify"

    def cooldown_seconds(self) -> int:
        return DEFAULT_COOLDOWN if self.cooldown is None else _duration(self.cooldown, "cooldown")

    def checked_action(self) -> AlertAction:
        if self.action not in ACTIONS:
            raise RuleError(f"--action must be one of {', '.join(ACTIONS)}", "action")
        return self.action

    def settings(self) -> dict[str, str]:  # noqa: C901 - one branch per kind, flat
        params: dict[str, str] = {}
        flag = _FLAGS[self.kind]
        if self.kind != "projection":
            if self.value is None:
                raise RuleError(f"--{flag} needs a value", flag)
            value = _decimal(self.value, flag)
            if self.kind in ("error_rate", "budget_threshold") and value > 1000:
                raise RuleError(f"--{flag} is a percentage; got {self.value}", flag)
            params["threshold"] = str(value)
        if self.kind in ("burn_rate", "request_rate"):
            allowed = ("minute", "hour", "day") if self.kind == "request_rate" else ("hour", "day")
            per = self.per or "hour"
            if per not in allowed:
                raise RuleError(f"--per must be one of {', '.join(allowed)}", "per")
            params["per"] = per
            params["threshold"] = str(_hourly(Decimal(params["threshold"]), per))
        if self.kind in ("burn_rate", "request_rate", "error_rate"):
            default = "6h" if self.per == "day" else ("5m" if self.kind == "error_rate" else "1h")
            params["window_seconds"] = str(_duration(self.window or default, "window"))
        elif self.window is not None:
            raise RuleError(f"--window does not apply to --{flag}", "window")
        if self.kind == "error_rate":
            params["min_requests"] = self.min_requests or "20"
            if not params["min_requests"].isdigit():
                raise RuleError("--min-requests must be a whole number", "min-requests")
        if self.kind == "anomaly":
            days = _duration(self.baseline or "7d", "baseline")
            if days % 86_400 or not 1 <= days // 86_400 <= 28:
                raise RuleError("--baseline is whole days, 1d to 28d", "baseline")
            params["baseline_days"] = str(days // 86_400)
            params["min_spend_usd"] = str(
                _decimal(self.min_spend or "1", "min-spend", low=Decimal(-1))
            )
        if self.kind in ("anomaly", "budget_threshold", "projection"):
            params["timezone"] = _zone(self.timezone or "UTC")
        if self.escalate is not None:
            if self.kind == "projection":
                raise RuleError("--escalate does not apply to --projection", "escalate")
            escalate = _decimal(self.escalate, "escalate")
            if self.kind in ("burn_rate", "request_rate"):
                escalate = _hourly(escalate, params["per"])
            if escalate <= Decimal(params["threshold"]):
                raise RuleError("--escalate must be above the rule's threshold", "escalate")
            params["escalate"] = str(escalate)
        return params


def _hourly(value: Decimal, per: str) -> Decimal:
    return value / 24 if per == "day" else value * _PER_HOUR[per]


_FLAGS: dict[AlertRuleKind, str] = {
    "burn_rate": "burn-rate",
    "anomaly": "anomaly",
    "budget_threshold": "budget-threshold",
    "projection": "projection",
    "error_rate": "error-rate",
    "request_rate": "request-rate",
}


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RuleError(f"--timezone {name!r} is not a known time zone", "timezone") from None
    return name


def _default_escalation(kind: AlertRuleKind, threshold: Decimal) -> Decimal | None:
    if kind in ("burn_rate", "anomaly", "request_rate"):
        return threshold * 2
    if kind == "error_rate":
        return min(threshold * 2, Decimal(100)) if threshold < 100 else None
    if kind == "budget_threshold":
        return Decimal(100) if threshold < 100 else None
    return None


def rule_from_record(record: AlertRuleRecord) -> Rule:
    p: Mapping[str, str] = record.params
    threshold = Decimal(p.get("threshold", "0"))
    escalate = Decimal(p["escalate"]) if "escalate" in p else None
    return Rule(
        id=record.id,
        workspace_id=record.workspace_id,
        name=record.name,
        channel_id=record.channel_id,
        kind=record.kind,
        cooldown_seconds=record.cooldown_seconds,
        action=record.action,
        threshold=threshold,
        escalate=escalate if escalate is not None else _default_escalation(record.kind, threshold),
        per=p.get("per", "hour"),  # type: ignore[arg-type]
        window_seconds=int(p.get("window_seconds", "3600")),
        baseline_days=int(p.get("baseline_days", "7")),
        min_spend_usd=Decimal(p.get("min_spend_usd", "0")),
        min_requests=int(p.get("min_requests", "0")),
        timezone=p.get("timezone", "UTC"),
    )
