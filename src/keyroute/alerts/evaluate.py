"""Readings and transitions: the pure part of evaluation (no I/O, no clock of its own).

A ``Reading`` is a rule's current value against its thresholds; every kind reduces to "value at
or above threshold" (a projection's value is the spend projected by the period's end against the
budget). Rules with a short confirmation window breach only while both windows do, so they
resolve as soon as the short window calms down.

``plan`` turns the stored state and a reading into at most one ``Transition``:

- quiet -> breaching: ``firing`` (level 1, or 2 at once above the escalation threshold);
- level 1 -> above the escalation threshold: ``escalated``, cooldown or not;
- still breaching once the cooldown since the last notification is over: ``reminder``;
- breaching -> quiet: ``resolved``;
- level 2 -> below the escalation threshold but breaching: ``deescalated``, silently, so a
  later rise escalates again.

Each transition's state carries the next ``version``: the store lets one worker claim it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from keyroute.alerts.durations import format_duration
from keyroute.alerts.rules import Rule
from keyroute.alerts.velocity import Window
from keyroute.core.alert_store import AlertStateRecord

PICO = Decimal(10**12)
TransitionKind = Literal["firing", "escalated", "reminder", "resolved", "deescalated"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    value: Decimal
    threshold: Decimal
    escalate: Decimal | None = None
    confirm: Decimal | None = None  # the short window's value, when the rule has one
    eligible: bool = True  # minimums met (spend, requests)
    unit: str  # usd_per_hour, x_baseline, percent, requests_per_hour, usd
    window: str
    exhausts_at: datetime | None = None

    def level(self) -> int:
        if not self.eligible or not self._above(self.threshold):
            return 0
        if self.escalate is not None and self._above(self.escalate):
            return 2
        return 1

    def _above(self, limit: Decimal) -> bool:
        return self.value >= limit and (self.confirm is None or self.confirm >= limit)


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    kind: TransitionKind
    state: AlertStateRecord

    @property
    def notifies(self) -> bool:
        return self.kind != "deescalated"


def _windows(rule: Rule) -> str:
    short = format_duration(rule.short_window_seconds)
    return f"{format_duration(rule.window_seconds)} (short {short})"


def _usd_per_hour(window: Window) -> Decimal:
    return Decimal(window.counts.spend_pico) * 3600 / PICO / Decimal(window.span_seconds)


def burn_rate(rule: Rule, long: Window, short: Window) -> Reading:
    return Reading(
        value=_usd_per_hour(long),
        confirm=_usd_per_hour(short),
        threshold=rule.threshold,
        escalate=rule.escalate,
        unit="usd_per_hour",
        window=_windows(rule),
    )


def request_rate(rule: Rule, long: Window, short: Window) -> Reading:
    def rate(w: Window) -> Decimal:
        return Decimal(w.counts.requests) * 3600 / Decimal(w.span_seconds)

    return Reading(
        value=rate(long),
        confirm=rate(short),
        threshold=rule.threshold,
        escalate=rule.escalate,
        unit="requests_per_hour",
        window=_windows(rule),
    )


def error_rate(rule: Rule, long: Window, short: Window) -> Reading:
    def percent(w: Window) -> Decimal:
        c = w.counts
        return Decimal(c.errors) * 100 / c.requests if c.requests else Decimal(0)

    return Reading(
        value=percent(long),
        confirm=percent(short),
        eligible=long.counts.requests >= rule.min_requests,
        threshold=rule.threshold,
        escalate=rule.escalate,
        unit="percent",
        window=_windows(rule),
    )


def anomaly(rule: Rule, last_hour: Window, short: Window, baseline_usd: Decimal) -> Reading:
    """The last hour's spend as a multiple of the baseline; the short window's hourly rate
    must agree. A zero baseline counts as one cent, so a first spike on a new workspace is
    measured (the minimum spend keeps a quiet one from paging)."""
    spent = Decimal(last_hour.counts.spend_pico) / PICO
    base = max(baseline_usd, Decimal("0.01"))
    return Reading(
        value=spent / base,
        confirm=_usd_per_hour(short) / base,
        eligible=spent >= rule.min_spend_usd,
        threshold=rule.threshold,
        escalate=rule.escalate,
        unit="x_baseline",
        window=f"1h vs the same hour's median over {rule.baseline_days}d ({rule.timezone})",
    )


def budget_use(
    rule: Rule, *, limit_usd: Decimal, spent_usd: Decimal, period: str, timezone: str
) -> Reading:
    used = spent_usd * 100 / limit_usd if limit_usd > 0 else Decimal(0)
    return Reading(
        value=used,
        threshold=rule.threshold,
        escalate=rule.escalate,
        unit="percent",
        window=f"this {period} ({timezone})",
    )


def projected(
    rule: Rule,
    now: datetime,
    *,
    limit_usd: Decimal,
    spent_usd: Decimal,
    usd_per_hour: Decimal,
    period_end: datetime,
    timezone: str,
    exhausts_at: datetime | None,
) -> Reading:
    hours_left = Decimal((period_end - now).total_seconds()) / 3600
    return Reading(
        value=spent_usd + usd_per_hour * max(hours_left, Decimal(0)),
        threshold=limit_usd,
        unit="usd",
        window=f"this month ({timezone}) at the last hour's rate",
        exhausts_at=exhausts_at if exhausts_at is not None and exhausts_at < period_end else None,
    )


def plan(
    rule: Rule, stored: AlertStateRecord | None, reading: Reading, now: datetime
) -> Transition | None:
    state = stored or AlertStateRecord(
        rule_id=rule.id, workspace_id=rule.workspace_id, level=0, version=0
    )
    level = reading.level()
    nxt = replace(state, version=state.version + 1)
    if state.level == 0:
        if level == 0:
            return None
        return Transition(
            kind="firing", state=replace(nxt, level=level, since=now, notified_at=now)
        )
    if level == 0:
        return Transition(kind="resolved", state=replace(nxt, level=0, notified_at=now))
    if level > state.level:
        return Transition(kind="escalated", state=replace(nxt, level=level, notified_at=now))
    if level < state.level:
        return Transition(kind="deescalated", state=replace(nxt, level=level))
    last = state.notified_at or state.since or now
    if now - last >= timedelta(seconds=rule.cooldown_seconds):
        return Transition(kind="reminder", state=replace(nxt, notified_at=now))
    return None
