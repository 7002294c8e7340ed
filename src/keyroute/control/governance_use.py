"""How much of its quota and budgets a workspace has used in the current periods.

``keyroute usage``, ``keyroute budget show`` and the admin API show this next to the limits.
The amounts come from the usage store (one row per request, written in the background, so a
request is counted here within about a second of its end):

- quota use is the requests of the current calendar month in the workspace's time zone that an
  upstream answered, as admission counts them on the quota: a request refused (by admission or
  as invalid) or failed upstream used none;
- budget use is the paid cost (after the workspace's discount) of the current day and month in
  that time zone, of the whole workspace, one gateway key or one end-user tag. Requests of
  unknown price are counted apart (``unknown_cost_requests``), never as 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from keyroute.accounting.usage_row import stored_tag
from keyroute.control.plan_state import PlanState
from keyroute.governance.periods import Period, Window, window
from keyroute.storage.base import (
    BudgetRecord,
    UsageDimension,
    UsageQuery,
    UsageStore,
    UsageTotals,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class QuotaUse:
    plan: PlanState
    used: int
    window: Window  # the current month in the workspace's time zone; ``end`` is the reset


@dataclass(frozen=True, slots=True, kw_only=True)
class Spend:
    paid_pico: int
    unknown_cost_requests: int


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetUse:
    budget: BudgetRecord
    today: Spend
    month: Spend
    day_window: Window
    month_window: Window


class GovernanceUse:
    """Reads quota and budget use from the usage store at ``clock()``."""

    def __init__(self, usage: UsageStore, clock: Callable[[], datetime]) -> None:
        self._usage = usage
        self._clock = clock

    async def quota(self, plan: PlanState) -> QuotaUse:
        month = window("month", self._clock(), ZoneInfo(plan.timezone))
        query = UsageQuery(workspace_id=plan.workspace.id, since=month.start, until=month.end)
        used = sum(
            g.totals.requests - g.totals.failed_requests for g in await self._usage.totals(query)
        )
        return QuotaUse(plan=plan, used=used, window=month)

    async def budgets(self, timezone: str, budgets: Sequence[BudgetRecord]) -> list[BudgetUse]:
        if not budgets:
            return []
        zone = ZoneInfo(timezone)
        now = self._clock()
        periods: tuple[Period, ...] = ("day", "month")
        windows = {p: window(p, now, zone) for p in periods}
        spend: dict[tuple[Period, str, str], Spend] = {}
        workspace_id = budgets[0].workspace_id
        for period, span in windows.items():
            for scope in {b.scope for b in budgets}:
                spend.update(await self._spend(workspace_id, period, span, scope))
        return [
            BudgetUse(
                budget=b,
                today=spend.get(("day", b.scope, _subject(b)), _NOTHING),
                month=spend.get(("month", b.scope, _subject(b)), _NOTHING),
                day_window=windows["day"],
                month_window=windows["month"],
            )
            for b in budgets
        ]

    async def _spend(
        self, workspace_id: str, period: Period, span: Window, scope: str
    ) -> dict[tuple[Period, str, str], Spend]:
        dimension: tuple[UsageDimension, ...] = _DIMENSION[scope]
        query = UsageQuery(
            workspace_id=workspace_id, since=span.start, until=span.end, group_by=dimension
        )
        found: dict[tuple[Period, str, str], Spend] = {}
        for group in await self._usage.totals(query):
            subject = "" if not dimension else group.key[-1]
            if isinstance(subject, str):
                found[(period, scope, subject)] = _spend_of(group.totals)
        return found


_DIMENSION: dict[str, tuple[UsageDimension, ...]] = {
    "workspace": (),
    "key": ("key",),
    "user": ("user",),
}
_NOTHING = Spend(paid_pico=0, unknown_cost_requests=0)


def _spend_of(totals: UsageTotals) -> Spend:
    return Spend(paid_pico=totals.paid_pico, unknown_cost_requests=totals.unknown_cost_requests)


def _subject(budget: BudgetRecord) -> str:
    return (stored_tag(budget.subject) or "") if budget.scope == "user" else budget.subject
