"""The stored governance settings of a workspace as the ``Limits`` admission enforces.

Called on every ``WorkspaceState`` load (so after every settings change, through the change
feed), never per request. The named plans' quotas come from ``keyroute.plans``; ``custom`` takes
the stored quota (``None``: unlimited). Values were checked by ``governance.rules`` before they
were stored; a stored time zone the system no longer knows (a tz database upgrade) falls back to
UTC with a warning rather than refusing the workspace's traffic.
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from keyroute.admission.policy import Budget, Limits, PlanQuota, RateLimit
from keyroute.governance.rules import DEFAULT_TIMEZONE
from keyroute.plans import CUSTOM, PLANS
from keyroute.storage.base import (
    BudgetRecord,
    GovernanceSettings,
    RateLimitRecord,
    WorkspaceRecord,
)

log = logging.getLogger("keyroute.governance")


def plan_quota(plan: str, settings: GovernanceSettings) -> PlanQuota:
    """The plan's quota: a named plan's fixed one, or the custom plan's stored one."""
    if plan in PLANS:
        return PlanQuota(name=plan, monthly_requests=PLANS[plan].monthly_requests)
    if plan != CUSTOM:
        raise ValueError(f"unknown plan {plan!r}")
    return PlanQuota(
        name=CUSTOM,
        monthly_requests=None if settings.plan is None else settings.plan.monthly_requests,
    )


def timezone_of(settings: GovernanceSettings, workspace_id: str) -> str:
    name = DEFAULT_TIMEZONE if settings.plan is None else settings.plan.timezone
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        log.warning(
            "workspace %s: unknown time zone %r, counting periods in UTC", workspace_id, name
        )
        return DEFAULT_TIMEZONE
    return name


def rate_limit(record: RateLimitRecord) -> RateLimit:
    return RateLimit(
        scope="key" if record.api_key_id else "workspace",
        subject=record.api_key_id or None,
        requests_per_minute=record.requests_per_minute,
        tokens_per_minute=record.tokens_per_minute,
    )


def budget(record: BudgetRecord) -> Budget:
    return Budget(
        scope=record.scope,
        subject=record.subject if record.scope != "workspace" else None,
        daily_pico=record.daily_pico,
        monthly_pico=record.monthly_pico,
        action=record.action,
        downgrade_to=record.downgrade_to if record.action == "downgrade" else None,
        thresholds=record.thresholds,
    )


def limits_of(workspace: WorkspaceRecord, settings: GovernanceSettings) -> Limits:
    """Everything admission enforces for ``workspace``."""
    return Limits(
        plan=plan_quota(workspace.plan, settings),
        timezone=timezone_of(settings, workspace.id),
        rate_limits=tuple(rate_limit(r) for r in settings.rate_limits),
        budgets=tuple(budget(b) for b in settings.budgets),
    )
