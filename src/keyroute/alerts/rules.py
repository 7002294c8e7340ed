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
  Both read the workspace's budget, or one gateway key's (``scope`` ``key``) or end user's
  (``user``), in the workspace's time zone (admission's periods).
- ``error_rate``: failed requests over a window (and its short confirmation) at or above
  ``percent``, with a minimum of requests.
- ``request_rate``: requests per hour over a window (and its short confirmation).

An option that does not apply to a rule's kind is refused, naming its flag.

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
BudgetScope = Literal["workspace", "key", "user"]
_PER_HOUR = {"minute": Decimal(60), "hour": Decimal(1), "day": 1 / Decimal(24)}
"""How many of a period make an hour: a rate per ``per`` times this is a rate per hour."""
DEFAULT_COOLDOWN = 30 * 60


class RuleError(ValueError):
    """A rule setting is wrong; ``param`` names its field (the admin API's name, as in
    ``min_spend``), the message its CLI flag (``--min-spend``)."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


def flag(param: str) -> str:
    """The CLI flag of a rule field: ``min_spend`` -> ``--min-spend``."""
    return "--" + param.replace("_", "-")


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
    scope: BudgetScope = "workspace"  # budget rules: whose budget (a key id, an end-user tag)
    subject: str | None = None

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
        whose = {
            "workspace": "",
            "key": f" of gateway key {self.subject}",
            "user": f" of end user {self.subject}",
        }[self.scope]
        if self.kind == "budget_threshold":
            return f"budget use{whose} at or above {self.threshold}%"
        return f"monthly budget{whose} projected to run out before the month ends"


def _decimal(value: str | float | Decimal, param: str, *, low: Decimal = Decimal(0)) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise RuleError(f"{flag(param)} {value!r} is not a number", param) from None
    if not number.is_finite() or number <= low:
        raise RuleError(f"{flag(param)} must be a number above {low}; got {value}", param)
    return number


def _duration(text: str, param: str) -> int:
    try:
        return parse_duration(text, what=flag(param))
    except ValueError as exc:
        raise RuleError(str(exc), param) from None


_RATES: tuple[AlertRuleKind, ...] = ("burn_rate", "request_rate", "error_rate")
_BUDGETS: tuple[AlertRuleKind, ...] = ("budget_threshold", "projection")
_APPLIES: dict[str, tuple[AlertRuleKind, ...]] = {
    "per": ("burn_rate", "request_rate"),
    "window": _RATES,
    "baseline": ("anomaly",),
    "min_spend": ("anomaly",),
    "min_requests": ("error_rate",),
    "timezone": ("anomaly",),
    "escalate": tuple(k for k in KINDS if k != "projection"),
    "key": _BUDGETS,
    "user": _BUDGETS,
}
"""The rule kinds each option is for; any other kind refuses it, naming the flag."""

_WHY_NOT = {
    ("timezone", True): ": budgets count in the workspace's time zone "
    "(keyroute workspace set-plan --timezone)",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleInput:
    """What the CLI and admin API accept; ``settings`` turns it into stored params. ``key`` and
    ``user`` pick a per-key or per-user budget (the key already resolved to its id, the tag
    already checked, by the control plane)."""

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
    key: str | None = None
    user: str | None = None

    def cooldown_seconds(self) -> int:
        return DEFAULT_COOLDOWN if self.cooldown is None else _duration(self.cooldown, "cooldown")

    def checked_action(self) -> AlertAction:
        if self.action not in ACTIONS:
            raise RuleError(f"--action must be one of {', '.join(ACTIONS)}", "action")
        return self.action

    def settings(self) -> dict[str, str]:
        for option, kinds in _APPLIES.items():
            if getattr(self, option) is not None and self.kind not in kinds:
                why = _WHY_NOT.get((option, self.kind in _BUDGETS), "")
                raise RuleError(f"{flag(option)} does not apply to {flag(self.kind)}{why}", option)
        params: dict[str, str] = {}
        if self.kind != "projection":
            params["threshold"] = str(self._threshold())
        if self.kind in ("burn_rate", "request_rate"):
            params.update(self._per(params["threshold"]))
        if self.kind in _RATES:
            default = "6h" if self.per == "day" else ("5m" if self.kind == "error_rate" else "1h")
            window = _duration(self.window or default, "window")
            if window > 86_400:
                raise RuleError("--window is at most 1d (the velocity kept in memory)", "window")
            params["window_seconds"] = str(window)
        if self.kind == "error_rate":
            params["min_requests"] = self.min_requests or "20"
            if not params["min_requests"].isdigit():
                raise RuleError("--min-requests must be a whole number", "min_requests")
        if self.kind == "anomaly":
            params.update(self._anomaly())
        if self.kind in _BUDGETS:
            params.update(self._scope())
        if self.escalate is not None:
            params["escalate"] = str(self._escalation(self.escalate, params))
        return params

    def _threshold(self) -> Decimal:
        kind = self.kind
        if self.value is None:
            raise RuleError(f"{flag(kind)} needs a value", kind)
        value = _decimal(self.value, kind)
        top = {"error_rate": 100, "budget_threshold": 1000}.get(kind)
        if top is not None and value > top:
            raise RuleError(f"{flag(kind)} is a percentage up to {top}; got {self.value}", kind)
        return value

    def _per(self, threshold: str) -> dict[str, str]:
        allowed = ("minute", "hour", "day") if self.kind == "request_rate" else ("hour", "day")
        per = self.per or "hour"
        if per not in allowed:
            raise RuleError(f"--per must be one of {', '.join(allowed)}; got {per!r}", "per")
        return {"per": per, "threshold": str(_hourly(Decimal(threshold), per))}

    def _anomaly(self) -> dict[str, str]:
        days = _duration(self.baseline or "7d", "baseline")
        if days % 86_400 or not 1 <= days // 86_400 <= 28:
            raise RuleError("--baseline is whole days, 1d to 28d", "baseline")
        return {
            "baseline_days": str(days // 86_400),
            "min_spend_usd": str(_decimal(self.min_spend or "1", "min_spend", low=Decimal(-1))),
            "timezone": _zone(self.timezone or "UTC"),
        }

    def _scope(self) -> dict[str, str]:
        if self.key is not None and self.user is not None:
            raise RuleError("give --key or --user, not both: a budget has one subject", "user")
        if self.key is not None:
            return {"scope": "key", "subject": _subject(self.key, "key")}
        if self.user is not None:
            return {"scope": "user", "subject": _subject(self.user, "user")}
        return {}

    def _escalation(self, given: str, params: dict[str, str]) -> Decimal:
        escalate = _decimal(given, "escalate")
        if self.kind in ("burn_rate", "request_rate"):
            escalate = _hourly(escalate, params["per"])
        if escalate <= Decimal(params["threshold"]):
            raise RuleError("--escalate must be above the rule's threshold", "escalate")
        return escalate


OPTIONS: tuple[str, ...] = (
    "per",
    "window",
    "baseline",
    "min_spend",
    "min_requests",
    "timezone",
    "escalate",
    "cooldown",
    "key",
    "user",
)
"""A rule's settings besides its kind and action: CLI flags and admin API fields alike."""
FIELDS: frozenset[str] = frozenset({*KINDS, *OPTIONS, "action"})


def rule_input(fields: Mapping[str, str | bool | None]) -> RuleInput:
    """A rule from the CLI's options or the admin API's fields, which share their names
    (``burn_rate``, ``min_spend``...): exactly one kind (a value, or ``projection`` true), its
    settings as text, and ``action``. Unknown names are refused; ``None`` is "not given"."""
    unknown = sorted(set(fields) - FIELDS)
    if unknown:
        raise RuleError(f"unknown rule setting {unknown[0]!r}", unknown[0])
    chosen = [k for k in KINDS if fields.get(k) not in (None, False)]
    if len(chosen) != 1:
        kinds = ", ".join(flag(k) for k in KINDS)
        raise RuleError(f"give exactly one of {kinds}", chosen[1] if chosen else "burn_rate")
    kind = chosen[0]
    given = {k: fields.get(k) for k in (kind, *OPTIONS, "action")}
    for name, value in given.items():
        if value is not None and not isinstance(value, str) and name != "projection":
            raise RuleError(f"{flag(name)} must be text or a number", name)
    text = {k: v for k, v in given.items() if isinstance(v, str)}
    return RuleInput(
        kind=kind,
        value=text.get(kind),
        action=text.get("action") or "notify",
        **{k: text.get(k) for k in OPTIONS},
    )


def _subject(value: str, param: str) -> str:
    if not value.strip():
        raise RuleError(f"{flag(param)} must not be empty", param)
    return value


def _hourly(value: Decimal, per: str) -> Decimal:
    return value / 24 if per == "day" else value * _PER_HOUR[per]


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
        scope=p.get("scope", "workspace"),  # type: ignore[arg-type]
        subject=p.get("subject"),
    )
