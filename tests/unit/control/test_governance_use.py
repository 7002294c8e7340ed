"""``keyroute.control.governance_use``: quota and budget use in the workspace's periods, read
from the usage store at an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from keyroute.control.governance_use import GovernanceUse, Spend
from keyroute.control.plan_state import plan_state
from keyroute.storage.base import BudgetRecord, PlanSettingsRecord, UsageRow, WorkspaceRecord
from keyroute.storage.memory import MemoryStore

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 12, 1, 3, tzinfo=UTC)  # Dec 1 in UTC and Paris, Nov 30 in New York
WS = WorkspaceRecord(
    id="w1", name="w", plan="free", created_at=NOW, wrapped_data_key=b"k", master_key_id="m"
)


def row(n: int, at: datetime, **fields: object) -> UsageRow:
    values: dict[str, object] = {
        "id": f"r{n}",
        "request_id": f"q{n}",
        "workspace_id": "w1",
        "time": at,
        "endpoint": "/v1/chat/completions",
        "inbound_format": "openai",
        "status": 200,
        "paid_pico": 10,
        "list_pico": 10,
        **fields,
    }
    return UsageRow(**values)  # type: ignore[arg-type]


def budget(scope: str = "workspace", subject: str = "") -> BudgetRecord:
    return BudgetRecord(
        workspace_id="w1",
        scope=scope,  # type: ignore[arg-type]
        subject=subject,
        daily_pico=100,
        monthly_pico=1000,
        action="block",
        downgrade_to=None,
        thresholds=(50, 80, 100),
        updated_at=NOW,
    )


@pytest.fixture
async def use() -> GovernanceUse:
    store = MemoryStore()
    await store.create_workspace(WS)
    await store.usage.append(
        [
            row(1, NOW - timedelta(hours=1), api_key_id="k1", end_user="alice"),
            row(2, NOW - timedelta(hours=4), api_key_id="k1"),  # Nov 30 23:00 UTC: Dec 1 in Paris
            row(3, NOW - timedelta(days=2), end_user="alice"),  # Nov 29
            row(4, NOW, status=429, error_code="quota_exceeded", paid_pico=0, list_pico=0),
            row(5, NOW, status=429, error_code="rate_limited", paid_pico=0, list_pico=0),
            row(6, NOW, status=502, error_code="upstream_error", paid_pico=0, list_pico=0),
            row(7, NOW, end_user="bob", paid_pico=None, list_pico=None),
        ]
    )
    return GovernanceUse(store.usage, lambda: NOW)


def state(zone: str) -> object:
    return plan_state(
        WS,
        PlanSettingsRecord(workspace_id="w1", monthly_requests=None, timezone=zone, updated_at=NOW),
    )


@pytest.mark.parametrize(
    ("zone", "used", "reset"),
    [
        ("UTC", 2, datetime(2027, 1, 1, tzinfo=UTC)),  # rows 1 and 7
        ("Europe/Paris", 3, datetime(2026, 12, 31, 23, tzinfo=UTC)),  # and row 2
        ("America/New_York", 4, datetime(2026, 12, 1, 5, tzinfo=UTC)),  # and row 3: November
    ],
)
async def test_quota_counts_admitted_requests_of_the_local_month(
    use: GovernanceUse, zone: str, used: int, reset: datetime
) -> None:
    # Refused (quota_exceeded, rate_limited) or failed upstream: no quota used, as admission
    # settles it; an answer of unknown price (row 7) used one.
    found = await use.quota(state(zone))  # type: ignore[arg-type]
    assert (found.used, found.window.end) == (used, reset)


async def test_budget_spend_per_scope_and_period(use: GovernanceUse) -> None:
    budgets = [budget(), budget("key", "k1"), budget("user", "alice"), budget("user", "bob")]
    found = await use.budgets("UTC", budgets)
    assert [(u.today, u.month) for u in found] == [
        (
            Spend(paid_pico=10, unknown_cost_requests=1),
            Spend(paid_pico=10, unknown_cost_requests=1),
        ),
        (
            Spend(paid_pico=10, unknown_cost_requests=0),
            Spend(paid_pico=10, unknown_cost_requests=0),
        ),
        (
            Spend(paid_pico=10, unknown_cost_requests=0),
            Spend(paid_pico=10, unknown_cost_requests=0),
        ),
        (Spend(paid_pico=0, unknown_cost_requests=1), Spend(paid_pico=0, unknown_cost_requests=1)),
    ]
    assert found[0].day_window.end == datetime(2026, 12, 2, tzinfo=UTC)
    assert await use.budgets("UTC", []) == []


async def test_budget_months_are_local(use: GovernanceUse) -> None:
    (paris,) = await use.budgets("Europe/Paris", [budget("key", "k1")])
    assert paris.month.paid_pico == 20  # 23:00 UTC on Nov 30 is Dec 1 in Paris
    (york,) = await use.budgets("America/New_York", [budget("user", "alice")])
    assert york.month.paid_pico == 20 and york.today.paid_pico == 10
