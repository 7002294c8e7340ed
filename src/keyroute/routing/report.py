"""``RoutingReport``: how a workspace's routing did, per policy and chosen model.

For each (policy, served model) of the routed requests in a time range: request counts, cost
paid, cost at the policy's reference model and the saving (from the usage table), and the
feedback clients gave on those answers (from ``POST /v1/feedback``); and the same costs per
policy and day. Only routed requests (those with a policy) are counted.

Invariant: sums stay exact integers of pico-dollars; a request whose cost or reference cost is
unknown is counted in ``requests`` but not in the cost sums (``UsageTotals`` rules).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from keyroute.storage.base import (
    FeedbackTotals,
    RoutingStore,
    UsageQuery,
    UsageStore,
    UsageTotals,
)

_DAY = 86_400


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutedLine:
    policy: str
    model: str | None
    totals: UsageTotals
    feedback: FeedbackTotals


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutedDay:
    day: date
    policy: str
    totals: UsageTotals


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutingReportResult:
    workspace_id: str
    since: datetime | None
    until: datetime | None
    lines: tuple[RoutedLine, ...]
    days: tuple[RoutedDay, ...]


class RoutingReport:
    def __init__(self, usage: UsageStore, routing: RoutingStore) -> None:
        self._usage = usage
        self._routing = routing

    async def run(
        self, workspace_id: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> RoutingReportResult:
        query = UsageQuery(
            workspace_id=workspace_id, since=since, until=until, group_by=("policy", "model")
        )
        groups = await self._usage.totals(query)
        feedback = {
            (f.policy, f.model): f
            for f in await self._routing.feedback_totals(workspace_id, since, until)
        }
        lines = []
        for group in groups:
            policy, model = group.key
            if not isinstance(policy, str):
                continue  # not routed
            model_id = model if isinstance(model, str) else None
            lines.append(
                RoutedLine(
                    policy=policy,
                    model=model_id,
                    totals=group.totals,
                    feedback=feedback.get(
                        (policy, model_id), FeedbackTotals(policy=policy, model=model_id)
                    ),
                )
            )
        by_day = await self._usage.totals(
            UsageQuery(
                workspace_id=workspace_id,
                since=since,
                until=until,
                group_by=("policy",),
                bucket_seconds=_DAY,
            )
        )
        days = [
            RoutedDay(day=start.date(), policy=policy, totals=g.totals)
            for g in by_day
            if isinstance(start := g.key[0], datetime) and isinstance(policy := g.key[1], str)
        ]
        return RoutingReportResult(
            workspace_id=workspace_id,
            since=since,
            until=until,
            lines=tuple(lines),
            days=tuple(days),
        )
