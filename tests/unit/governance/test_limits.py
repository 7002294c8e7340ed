"""``keyroute.governance.limits``: stored settings as the limits admission enforces."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from keyroute.admission.policy import Budget, Limits, PlanQuota, RateLimit
from keyroute.governance.limits import limits_of, plan_quota
from keyroute.storage.base import (
    BudgetRecord,
    GovernanceSettings,
    PlanSettingsRecord,
    RateLimitRecord,
    WorkspaceRecord,
)

T0 = datetime(2026, 12, 1, tzinfo=UTC)
NOTHING = GovernanceSettings(plan=None)


def workspace(plan: str) -> WorkspaceRecord:
    return WorkspaceRecord(
        id="w1", name="w", plan=plan, created_at=T0, wrapped_data_key=b"k", master_key_id="m"
    )


def stored(quota: int | None, tz: str = "UTC") -> GovernanceSettings:
    return GovernanceSettings(
        plan=PlanSettingsRecord(
            workspace_id="w1", monthly_requests=quota, timezone=tz, updated_at=T0
        )
    )


@pytest.mark.parametrize(
    ("plan", "settings", "expected"),
    [
        ("free", NOTHING, PlanQuota(name="free", monthly_requests=2_500)),
        ("business", stored(7), PlanQuota(name="business", monthly_requests=5_000_000)),
        ("custom", stored(7), PlanQuota(name="custom", monthly_requests=7)),
        ("custom", stored(None), PlanQuota(name="custom", monthly_requests=None)),
        ("custom", NOTHING, PlanQuota(name="custom", monthly_requests=None)),
    ],
)
def test_plan_quota(plan: str, settings: GovernanceSettings, expected: PlanQuota) -> None:
    assert plan_quota(plan, settings) == expected


def test_unknown_plan() -> None:
    with pytest.raises(ValueError, match="unknown plan"):
        plan_quota("platinum", NOTHING)


def test_everything_maps() -> None:
    settings = GovernanceSettings(
        plan=stored(None, "Asia/Kolkata").plan,
        rate_limits=(
            RateLimitRecord(
                workspace_id="w1",
                api_key_id="",
                requests_per_minute=100,
                tokens_per_minute=None,
                updated_at=T0,
            ),
            RateLimitRecord(
                workspace_id="w1",
                api_key_id="key_1",
                requests_per_minute=None,
                tokens_per_minute=9000,
                updated_at=T0,
            ),
        ),
        budgets=(
            BudgetRecord(
                workspace_id="w1",
                scope="workspace",
                subject="",
                daily_pico=1,
                monthly_pico=None,
                action="block",
                downgrade_to=None,
                thresholds=(50, 80, 100),
                updated_at=T0,
            ),
            BudgetRecord(
                workspace_id="w1",
                scope="user",
                subject="alice",
                daily_pico=None,
                monthly_pico=5,
                action="downgrade",
                downgrade_to="openai/gpt-4o-mini",
                thresholds=(90,),
                updated_at=T0,
            ),
        ),
    )
    assert limits_of(workspace("custom"), settings) == Limits(
        plan=PlanQuota(name="custom", monthly_requests=None),
        timezone="Asia/Kolkata",
        rate_limits=(
            RateLimit(requests_per_minute=100),
            RateLimit(scope="key", subject="key_1", tokens_per_minute=9000),
        ),
        budgets=(
            Budget(daily_pico=1),
            Budget(
                scope="user",
                subject="alice",
                monthly_pico=5,
                action="downgrade",
                downgrade_to="openai/gpt-4o-mini",
                thresholds=(90,),
            ),
        ),
    )


def test_a_time_zone_the_system_lost_counts_in_utc(caplog: pytest.LogCaptureFixture) -> None:
    limits = limits_of(workspace("free"), stored(None, "Atlantis/Capital"))
    assert limits.timezone == "UTC"
    assert "Atlantis/Capital" in caplog.text
