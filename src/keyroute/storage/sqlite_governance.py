"""``SqliteGovernanceStore``: plan settings, rate limits and budgets on a ``SqliteStore``'s file.

It shares its store's engines and its configuration-write transaction (``write``): every
change is one ``BEGIN IMMEDIATE`` transaction that checks the workspace exists, writes, and
moves the workspace's change-feed revision, so every worker's ``WorkspaceState`` reloads the
limits. ``governance`` reads the three tables in one read transaction (a consistent snapshot).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy import Row, delete, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from keyroute.core.errors import NotFound
from keyroute.storage.base import (
    BudgetRecord,
    BudgetScope,
    GovernanceSettings,
    PlanSettingsRecord,
    RateLimitRecord,
    budget_order,
)
from keyroute.storage.schema import budgets, rate_limits, workspace_plans, workspaces

Write = Callable[[str], AbstractAsyncContextManager[AsyncConnection]]


def thresholds_text(values: Sequence[int]) -> str:
    return ",".join(str(v) for v in values)


def thresholds_parse(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part)


def _budget_row(record: BudgetRecord) -> dict[str, Any]:
    return {
        "workspace_id": record.workspace_id,
        "scope": record.scope,
        "subject": record.subject,
        "daily_pico": record.daily_pico,
        "monthly_pico": record.monthly_pico,
        "action": record.action,
        "downgrade_to": record.downgrade_to,
        "thresholds": thresholds_text(record.thresholds),
        "updated_at": record.updated_at,
    }


def _budget(row: Row[Any]) -> BudgetRecord:
    fields = dict(row._mapping)
    fields["thresholds"] = thresholds_parse(fields["thresholds"])
    return BudgetRecord(**fields)


class SqliteGovernanceStore:
    def __init__(
        self, engines: Callable[[], tuple[AsyncEngine, AsyncEngine]], write: Write
    ) -> None:
        self._engines = engines
        self._write = write

    @staticmethod
    async def _require_workspace(conn: AsyncConnection, workspace_id: str) -> None:
        found = await conn.scalar(select(workspaces.c.id).where(workspaces.c.id == workspace_id))
        if found is None:
            raise NotFound(f"workspace {workspace_id!r} does not exist")

    async def set_plan(self, workspace_id: str, plan: str, settings: PlanSettingsRecord) -> None:
        statement = sqlite_insert(workspace_plans).values(
            workspace_id=workspace_id,
            monthly_requests=settings.monthly_requests,
            timezone=settings.timezone,
            updated_at=settings.updated_at,
        )
        statement = statement.on_conflict_do_update(
            index_elements=[workspace_plans.c.workspace_id],
            set_={
                name: statement.excluded[name]
                for name in ("monthly_requests", "timezone", "updated_at")
            },
        )
        async with self._write(workspace_id) as conn:
            await self._require_workspace(conn, workspace_id)
            await conn.execute(
                update(workspaces).where(workspaces.c.id == workspace_id).values(plan=plan)
            )
            await conn.execute(statement)

    async def set_rate_limit(self, record: RateLimitRecord) -> None:
        statement = sqlite_insert(rate_limits).values(
            workspace_id=record.workspace_id,
            api_key_id=record.api_key_id,
            requests_per_minute=record.requests_per_minute,
            tokens_per_minute=record.tokens_per_minute,
            updated_at=record.updated_at,
        )
        statement = statement.on_conflict_do_update(
            index_elements=[rate_limits.c.workspace_id, rate_limits.c.api_key_id],
            set_={
                name: statement.excluded[name]
                for name in ("requests_per_minute", "tokens_per_minute", "updated_at")
            },
        )
        async with self._write(record.workspace_id) as conn:
            await self._require_workspace(conn, record.workspace_id)
            await conn.execute(statement)

    async def delete_rate_limit(self, workspace_id: str, api_key_id: str) -> bool:
        async with self._write(workspace_id) as conn:
            result = await conn.execute(
                delete(rate_limits).where(
                    rate_limits.c.workspace_id == workspace_id,
                    rate_limits.c.api_key_id == api_key_id,
                )
            )
        return bool(result.rowcount)

    async def set_budget(self, record: BudgetRecord) -> None:
        row = _budget_row(record)
        statement = sqlite_insert(budgets).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=[budgets.c.workspace_id, budgets.c.scope, budgets.c.subject],
            set_={
                name: statement.excluded[name]
                for name in row
                if name not in ("workspace_id", "scope", "subject")
            },
        )
        async with self._write(record.workspace_id) as conn:
            await self._require_workspace(conn, record.workspace_id)
            await conn.execute(statement)

    async def delete_budget(self, workspace_id: str, scope: BudgetScope, subject: str) -> bool:
        async with self._write(workspace_id) as conn:
            result = await conn.execute(
                delete(budgets).where(
                    budgets.c.workspace_id == workspace_id,
                    budgets.c.scope == scope,
                    budgets.c.subject == subject,
                )
            )
        return bool(result.rowcount)

    async def governance(self, workspace_id: str) -> GovernanceSettings:
        async with self._engines()[0].connect() as conn:
            plan_row = (
                await conn.execute(
                    select(workspace_plans).where(workspace_plans.c.workspace_id == workspace_id)
                )
            ).first()
            limit_rows = (
                await conn.execute(
                    select(rate_limits)
                    .where(rate_limits.c.workspace_id == workspace_id)
                    .order_by(rate_limits.c.api_key_id)
                )
            ).all()
            budget_rows = (
                await conn.execute(select(budgets).where(budgets.c.workspace_id == workspace_id))
            ).all()
        return GovernanceSettings(
            plan=None if plan_row is None else PlanSettingsRecord(**dict(plan_row._mapping)),
            rate_limits=tuple(RateLimitRecord(**dict(r._mapping)) for r in limit_rows),
            budgets=tuple(sorted((_budget(r) for r in budget_rows), key=budget_order)),
        )
