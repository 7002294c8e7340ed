"""One behavioural suite for every ``GovernanceStore`` backend (memory and SQLite)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import StatementError

from keyroute.core.errors import NotFound
from keyroute.storage.base import (
    BudgetRecord,
    BudgetScope,
    GovernanceSettings,
    PlanSettingsRecord,
    RateLimitRecord,
    Store,
    WorkspaceRecord,
)

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PARIS_NOON = datetime(2026, 12, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))


def workspace(id: str) -> WorkspaceRecord:
    return WorkspaceRecord(
        id=id, name=id, plan="free", created_at=T0, wrapped_data_key=b"k", master_key_id="m"
    )


def plan_row(ws: str = "w1", quota: int | None = 1000, tz: str = "UTC") -> PlanSettingsRecord:
    return PlanSettingsRecord(workspace_id=ws, monthly_requests=quota, timezone=tz, updated_at=T0)


def limit(
    ws: str = "w1", key: str = "", rpm: int | None = 60, tpm: int | None = None
) -> RateLimitRecord:
    return RateLimitRecord(
        workspace_id=ws,
        api_key_id=key,
        requests_per_minute=rpm,
        tokens_per_minute=tpm,
        updated_at=T0,
    )


def budget(
    ws: str = "w1", scope: BudgetScope = "workspace", subject: str = "", **changes: object
) -> BudgetRecord:
    fields = {
        "workspace_id": ws,
        "scope": scope,
        "subject": subject,
        "daily_pico": 10**12,
        "monthly_pico": 20 * 10**12,
        "action": "block",
        "downgrade_to": None,
        "thresholds": (50, 80, 100),
        "updated_at": T0,
        **changes,
    }
    return BudgetRecord(**fields)  # type: ignore[arg-type]


async def test_nothing_set(store: Store) -> None:
    assert await store.governance.governance("w1") == GovernanceSettings(plan=None)
    assert await store.governance.governance("nope") == GovernanceSettings(plan=None)


async def test_set_plan_writes_the_name_and_the_settings(store: Store) -> None:
    gov = store.governance
    await gov.set_plan("w1", "custom", plan_row(quota=None, tz="Europe/Paris"))
    assert (await store.get_workspace("w1")).plan == "custom"  # type: ignore[union-attr]
    assert (await gov.governance("w1")).plan == plan_row(quota=None, tz="Europe/Paris")
    later = PlanSettingsRecord(
        workspace_id="w1", monthly_requests=None, timezone="Asia/Kolkata", updated_at=PARIS_NOON
    )
    await gov.set_plan("w1", "build", later)
    settings = await gov.governance("w1")
    assert settings.plan is not None and settings.plan.timezone == "Asia/Kolkata"
    assert settings.plan.updated_at == T0 and settings.plan.updated_at.tzinfo == UTC
    assert (await store.get_workspace("w1")).plan == "build"  # type: ignore[union-attr]
    assert (await gov.governance("w2")).plan is None  # another workspace is untouched


async def test_rate_limits_replace_and_delete(store: Store) -> None:
    gov = store.governance
    await gov.set_rate_limit(limit(key="key_b", rpm=10, tpm=1000))
    await gov.set_rate_limit(limit())
    await gov.set_rate_limit(limit(key="key_a", rpm=None, tpm=500))
    await gov.set_rate_limit(limit(ws="w2", rpm=1))
    await gov.set_rate_limit(limit(key="key_b", rpm=20, tpm=None))  # replaces
    found = (await gov.governance("w1")).rate_limits
    assert found == (limit(), limit(key="key_a", rpm=None, tpm=500), limit(key="key_b", rpm=20))
    assert await gov.delete_rate_limit("w1", "key_a")
    assert not await gov.delete_rate_limit("w1", "key_a")
    assert not await gov.delete_rate_limit("w1", "key_zzz")
    assert [r.api_key_id for r in (await gov.governance("w1")).rate_limits] == ["", "key_b"]
    assert (await gov.governance("w2")).rate_limits == (limit(ws="w2", rpm=1),)


async def test_budgets_order_replace_and_delete(store: Store) -> None:
    gov = store.governance
    user = budget(scope="user", subject="alice@example.com", daily_pico=None)
    down = budget(
        scope="key", subject="key_1", action="downgrade", downgrade_to="openai/gpt-4o-mini"
    )
    await gov.set_budget(user)
    await gov.set_budget(down)
    await gov.set_budget(budget(thresholds=(90,)))
    await gov.set_budget(budget(scope="user", subject="bob", monthly_pico=None))
    assert (await gov.governance("w1")).budgets == (
        budget(thresholds=(90,)),
        down,
        user,
        budget(scope="user", subject="bob", monthly_pico=None),
    )
    await gov.set_budget(budget(daily_pico=0, monthly_pico=0))  # replaces, 0 is a cap
    assert (await gov.governance("w1")).budgets[0] == budget(daily_pico=0, monthly_pico=0)
    assert await gov.delete_budget("w1", "user", "bob")
    assert not await gov.delete_budget("w1", "user", "bob")
    assert not await gov.delete_budget("w1", "key", "alice@example.com")  # scope matters
    assert not await gov.delete_budget("w2", "workspace", "")
    assert len((await gov.governance("w1")).budgets) == 3


async def test_writes_need_the_workspace(store: Store) -> None:
    gov = store.governance
    with pytest.raises(NotFound):
        await gov.set_plan("nope", "build", plan_row(ws="nope"))
    with pytest.raises(NotFound):
        await gov.set_rate_limit(limit(ws="nope"))
    with pytest.raises(NotFound):
        await gov.set_budget(budget(ws="nope"))


async def test_every_write_moves_the_workspace_revision_only(store: Store) -> None:
    gov = store.governance
    writes: list[Callable[[], Awaitable[object]]] = [
        lambda: gov.set_plan("w1", "scale", plan_row()),
        lambda: gov.set_rate_limit(limit()),
        lambda: gov.delete_rate_limit("w1", ""),
        lambda: gov.set_budget(budget()),
        lambda: gov.delete_budget("w1", "workspace", ""),
    ]
    for write in writes:
        before, other = store.changes.revision("w1"), store.changes.revision("w2")
        await write()
        assert store.changes.revision("w1") > before
        assert store.changes.revision("w2") == other


async def test_deleting_the_workspace_deletes_its_settings(store: Store) -> None:
    gov = store.governance
    await gov.set_plan("w1", "custom", plan_row())
    await gov.set_rate_limit(limit())
    await gov.set_budget(budget())
    await gov.set_budget(budget(ws="w2"))
    await store.delete_workspace("w1")
    assert await gov.governance("w1") == GovernanceSettings(plan=None)
    await store.create_workspace(workspace("w1"))  # the same id again starts empty
    assert await gov.governance("w1") == GovernanceSettings(plan=None)
    assert (await gov.governance("w2")).budgets == (budget(ws="w2"),)


async def test_naive_times_are_refused(store: Store) -> None:
    with pytest.raises((ValueError, StatementError), match="naive"):
        await store.governance.set_rate_limit(
            RateLimitRecord(
                workspace_id="w1",
                api_key_id="",
                requests_per_minute=1,
                tokens_per_minute=None,
                updated_at=datetime(2026, 1, 1),
            )
        )
