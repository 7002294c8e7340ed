"""Plans, rate limits and budgets as JSON-ready documents (CLI ``--json``, the admin API).

Money is a plain decimal string of USD (``core.money.usd_text``), never a float; ``None`` is no
cap or no limit (``unlimited`` for a quota). Times are ISO 8601 UTC with a ``Z``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from keyroute.control.governance import WorkspaceUse
from keyroute.control.governance_use import BudgetUse, QuotaUse
from keyroute.control.plan_state import PlanState
from keyroute.core.money import usd_text
from keyroute.storage.base import BudgetRecord, RateLimitRecord


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def plan_view(state: PlanState) -> dict[str, Any]:
    return {
        "workspace_id": state.workspace.id,
        "workspace": state.workspace.name,
        "plan": state.plan,
        "monthly_requests": state.monthly_requests,
        "unlimited": state.monthly_requests is None,
        "timezone": state.timezone,
        "updated_at": _time(state.updated_at),
    }


def rate_limit_view(record: RateLimitRecord, key_names: Mapping[str, str]) -> dict[str, Any]:
    key = record.api_key_id or None
    return {
        "workspace_id": record.workspace_id,
        "scope": "key" if key else "workspace",
        "key_id": key,
        "key_name": None if key is None else key_names.get(key),
        "requests_per_minute": record.requests_per_minute,
        "tokens_per_minute": record.tokens_per_minute,
        "updated_at": _time(record.updated_at),
    }


def budget_view(record: BudgetRecord, key_names: Mapping[str, str]) -> dict[str, Any]:
    key = record.subject if record.scope == "key" else None
    return {
        "workspace_id": record.workspace_id,
        "scope": record.scope,
        "key_id": key,
        "key_name": None if key is None else key_names.get(key),
        "user": record.subject if record.scope == "user" else None,
        "daily_usd": usd_text(record.daily_pico),
        "monthly_usd": usd_text(record.monthly_pico),
        "action": record.action,
        "downgrade_to": record.downgrade_to,
        "thresholds": list(record.thresholds),
        "updated_at": _time(record.updated_at),
    }


def _left(cap: int | None, used: int) -> str | None:
    return None if cap is None else usd_text(max(cap - used, 0))


def quota_use_view(use: QuotaUse) -> dict[str, Any]:
    limit = use.plan.monthly_requests
    return {
        "plan": use.plan.plan,
        "limit": limit,
        "used": use.used,
        "remaining": None if limit is None else max(limit - use.used, 0),
        "timezone": use.plan.timezone,
        "period_start": _time(use.window.start),
        "resets_at": _time(use.window.end),
    }


def budget_use_view(use: BudgetUse, key_names: Mapping[str, str]) -> dict[str, Any]:
    b = use.budget
    return {
        **budget_view(b, key_names),
        "spent_today_usd": usd_text(use.today.paid_pico),
        "daily_remaining_usd": _left(b.daily_pico, use.today.paid_pico),
        "day_resets_at": _time(use.day_window.end),
        "spent_month_usd": usd_text(use.month.paid_pico),
        "monthly_remaining_usd": _left(b.monthly_pico, use.month.paid_pico),
        "month_resets_at": _time(use.month_window.end),
        "cost_unknown_requests": use.month.unknown_cost_requests,
    }


def use_view(use: WorkspaceUse) -> dict[str, Any]:
    """The limits and their use, as ``keyroute usage`` and the admin usage endpoint add them."""
    return {
        "quota": quota_use_view(use.quota),
        "budgets": [budget_use_view(b, use.key_names) for b in use.budgets],
        "rate_limits": [rate_limit_view(r, use.key_names) for r in use.rate_limits],
    }
