"""``keyroute.control.governance_views`` and ``plan_state``: money as exact USD strings, no
cap as ``None``, times as UTC with a ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime

from keyroute.control.governance_use import BudgetUse, QuotaUse, Spend
from keyroute.control.governance_views import budget_use_view, quota_use_view, rate_limit_view
from keyroute.control.plan_state import plan_state
from keyroute.governance.periods import Window
from keyroute.storage.base import (
    BudgetRecord,
    PlanSettingsRecord,
    RateLimitRecord,
    WorkspaceRecord,
)

T0 = datetime(2026, 12, 1, tzinfo=UTC)
T1 = datetime(2027, 1, 1, tzinfo=UTC)
WS = WorkspaceRecord(
    id="w1", name="w", plan="custom", created_at=T0, wrapped_data_key=b"k", master_key_id="m"
)


def test_quota_use_view() -> None:
    stored = PlanSettingsRecord(
        workspace_id="w1", monthly_requests=10, timezone="Europe/Paris", updated_at=T0
    )
    view = quota_use_view(QuotaUse(plan=plan_state(WS, stored), used=12, window=Window(T0, T1)))
    assert view == {
        "plan": "custom",
        "limit": 10,
        "used": 12,
        "remaining": 0,
        "timezone": "Europe/Paris",
        "period_start": "2026-12-01T00:00:00Z",
        "resets_at": "2027-01-01T00:00:00Z",
    }


def test_budget_and_rate_limit_views() -> None:
    record = BudgetRecord(
        workspace_id="w1",
        scope="key",
        subject="key_1",
        daily_pico=None,
        monthly_pico=2_500_000_000_000,
        action="downgrade",
        downgrade_to="openai/gpt-4o-mini",
        thresholds=(50, 100),
        updated_at=T0,
    )
    use = BudgetUse(
        budget=record,
        today=Spend(paid_pico=1, unknown_cost_requests=0),
        month=Spend(paid_pico=333_333_333_333, unknown_cost_requests=2),
        day_window=Window(T0, T1),
        month_window=Window(T0, T1),
    )
    view = budget_use_view(use, {"key_1": "ci"})
    assert (view["key_id"], view["key_name"], view["user"]) == ("key_1", "ci", None)
    assert (view["daily_usd"], view["daily_remaining_usd"]) == (None, None)
    assert (view["monthly_usd"], view["spent_month_usd"]) == ("2.5", "0.333333333333")
    assert view["monthly_remaining_usd"] == "2.166666666667"
    assert (view["spent_today_usd"], view["cost_unknown_requests"]) == ("0.000000000001", 2)
    assert view["thresholds"] == [50, 100] and view["month_resets_at"] == "2027-01-01T00:00:00Z"
    limit = RateLimitRecord(
        workspace_id="w1",
        api_key_id="",
        requests_per_minute=None,
        tokens_per_minute=9,
        updated_at=T0,
    )
    assert rate_limit_view(limit, {})["scope"] == "workspace"
    assert rate_limit_view(limit, {})["key_id"] is None
