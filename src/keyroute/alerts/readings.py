"""``Reader``: a rule's current ``Reading`` from the velocity board, the usage store and budgets.

Rate rules read only the board. The anomaly baseline (seven one-hour totals) and the part of a
budget period older than the board's day are read from the usage store and cached: the baseline
for five minutes, a period's older part until the hour moves. A budget rule reads the budget of
its scope (the workspace's, a gateway key's or an end user's) and that scope's spend.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from keyroute.alerts import evaluate
from keyroute.alerts.baseline import baseline, same_hour_windows
from keyroute.alerts.evaluate import PICO, Reading
from keyroute.alerts.projection import exhaustion, period_bounds
from keyroute.alerts.rules import Rule
from keyroute.alerts.sources import Budget, BudgetSource
from keyroute.alerts.velocity import Subject, VelocityBoard
from keyroute.storage.base import UsageQuery, UsageStore

_BASELINE_TTL = timedelta(minutes=5)


class Reader:
    def __init__(self, board: VelocityBoard, usage: UsageStore, budgets: BudgetSource) -> None:
        self._board = board
        self._usage = usage
        self._budgets = budgets
        self._baselines: dict[tuple[str, str, int], tuple[datetime, Decimal]] = {}
        self._older: dict[tuple[str, datetime, datetime, Subject | None], int] = {}

    async def read(self, rule: Rule, now: datetime) -> Reading | None:
        """``None`` when the rule cannot be read (a budget rule without a budget)."""
        board, ws = self._board, rule.workspace_id
        if rule.kind in ("burn_rate", "request_rate", "error_rate"):
            long = board.window(ws, now, rule.window_seconds)
            short = board.window(ws, now, rule.short_window_seconds)
            return {
                "burn_rate": evaluate.burn_rate,
                "request_rate": evaluate.request_rate,
                "error_rate": evaluate.error_rate,
            }[rule.kind](rule, long, short)
        if rule.kind == "anomaly":
            base = await self._baseline(rule, now)
            hour = board.window(ws, now, 3600)
            short = board.window(ws, now, 300)
            return evaluate.anomaly(rule, hour, short, base)
        budgets = [
            b
            for b in await self._budgets.budgets(ws)
            if (b.scope, b.subject) == (rule.scope, rule.subject)
        ]
        if rule.kind == "budget_threshold":
            return await self._budget_use(rule, budgets, now)
        return await self._projection(rule, budgets, now)

    async def _budget_use(self, rule: Rule, budgets: list[Budget], now: datetime) -> Reading | None:
        readings = []
        for budget in budgets:
            start, _ = period_bounds(now, budget.period, budget.timezone)
            spent = Decimal(await self.spent_since(rule.workspace_id, start, now, _of(rule))) / PICO
            readings.append(
                evaluate.budget_use(
                    rule,
                    limit_usd=budget.limit_usd,
                    spent_usd=spent,
                    period=budget.period,
                    timezone=budget.timezone,
                )
            )
        return max(readings, key=lambda r: r.value, default=None)

    async def _projection(self, rule: Rule, budgets: list[Budget], now: datetime) -> Reading | None:
        monthly = [b for b in budgets if b.period == "month"]
        if not monthly:
            return None
        budget = min(monthly, key=lambda b: b.limit_usd)
        start, end = period_bounds(now, "month", budget.timezone)
        of = _of(rule)
        spent = Decimal(await self.spent_since(rule.workspace_id, start, now, of)) / PICO
        hour = self._board.window(rule.workspace_id, now, 3600, of)
        rate = Decimal(hour.counts.spend_pico) * 3600 / PICO / Decimal(hour.span_seconds)
        return evaluate.projected(
            rule,
            now,
            limit_usd=budget.limit_usd,
            spent_usd=spent,
            usd_per_hour=rate,
            period_end=end,
            timezone=budget.timezone,
            exhausts_at=exhaustion(
                now, limit_usd=budget.limit_usd, spent_usd=spent, usd_per_hour=rate
            ),
        )

    async def spent_since(
        self, workspace_id: str, start: datetime, now: datetime, of: Subject | None = None
    ) -> int:
        """Pico-dollars since ``start`` of the workspace, or of one gateway key or end user
        (``of``): the board's last day, the usage store for what is older."""
        hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        cut = hour - timedelta(hours=22)
        if start >= cut:
            return self._board.spend_since(workspace_id, self._aligned(start), of)
        key = (workspace_id, start, cut, of)
        if key not in self._older:
            self._older = {
                k: v for k, v in self._older.items() if k[0] != workspace_id or k[3] != of
            }
            query = UsageQuery(
                workspace_id=workspace_id,
                since=start,
                until=cut,
                group_by=(of[0],) if of is not None else (),
            )
            groups = await self._usage.totals(query)
            self._older[key] = sum(
                g.totals.paid_pico for g in groups if of is None or g.key[-1] == of[1]
            )
        return self._older[key] + self._board.spend_since(workspace_id, cut, of)

    def _aligned(self, start: datetime) -> datetime:
        """``start`` itself when it falls on a bucket boundary (budget periods start on whole
        minutes in every time zone); the board cannot split a bucket."""
        return datetime.fromtimestamp(self._board.bucket(start), UTC)

    async def _baseline(self, rule: Rule, now: datetime) -> Decimal:
        key = (rule.workspace_id, rule.timezone, rule.baseline_days)
        cached = self._baselines.get(key)
        if cached is not None and now - cached[0] < _BASELINE_TTL:
            return cached[1]
        spends = []
        for start, end in same_hour_windows(now, rule.timezone, rule.baseline_days):
            groups = await self._usage.totals(
                UsageQuery(workspace_id=rule.workspace_id, since=start, until=end)
            )
            spends.append(sum(g.totals.paid_pico for g in groups))
        value = baseline(spends)
        self._baselines[key] = (now, value)
        return value


def _of(rule: Rule) -> Subject | None:
    """Whose spend a budget rule reads: the workspace's (``None``), a key's or an end user's."""
    if rule.scope == "workspace" or rule.subject is None:
        return None
    return (rule.scope, rule.subject)
