"""``MemoryGovernanceStore``: the reference ``GovernanceStore``, dictionaries of one process.

It writes the plan's name into its ``MemoryStore``'s workspace records (``replace_plan``) and
tells the store of every change (``changed``), so the change feed moves as on SQLite. The shared
suite (``tests/unit/storage/test_governance_store.py``) checks the SQL backend against it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from keyroute.core.errors import NotFound
from keyroute.storage.base import (
    BudgetRecord,
    BudgetScope,
    GovernanceSettings,
    PlanSettingsRecord,
    RateLimitRecord,
    budget_order,
)

_Record = TypeVar("_Record", PlanSettingsRecord, RateLimitRecord, BudgetRecord)


def _in_utc(record: _Record) -> _Record:
    """``updated_at`` in UTC, as the SQL backends return it; naive times are refused."""
    at: datetime = record.updated_at
    if at.tzinfo is None:
        raise ValueError("keyroute stores timezone-aware datetimes only; got a naive one")
    return dataclasses.replace(record, updated_at=at.astimezone(UTC))


class MemoryGovernanceStore:
    def __init__(
        self,
        workspace_exists: Callable[[str], bool],
        replace_plan: Callable[[str, str], None],
        changed: Callable[[str], None],
    ) -> None:
        self._exists = workspace_exists
        self._replace_plan = replace_plan
        self._changed = changed
        self._plans: dict[str, PlanSettingsRecord] = {}
        self._limits: dict[tuple[str, str], RateLimitRecord] = {}
        self._budgets: dict[tuple[str, str, str], BudgetRecord] = {}

    def _require(self, workspace_id: str) -> None:
        if not self._exists(workspace_id):
            raise NotFound(f"workspace {workspace_id!r} does not exist")

    async def set_plan(self, workspace_id: str, plan: str, settings: PlanSettingsRecord) -> None:
        self._require(workspace_id)
        self._replace_plan(workspace_id, plan)
        self._plans[workspace_id] = _in_utc(
            dataclasses.replace(settings, workspace_id=workspace_id)
        )
        self._changed(workspace_id)

    async def set_rate_limit(self, record: RateLimitRecord) -> None:
        self._require(record.workspace_id)
        self._limits[(record.workspace_id, record.api_key_id)] = _in_utc(record)
        self._changed(record.workspace_id)

    async def delete_rate_limit(self, workspace_id: str, api_key_id: str) -> bool:
        if self._limits.pop((workspace_id, api_key_id), None) is None:
            return False
        self._changed(workspace_id)
        return True

    async def set_budget(self, record: BudgetRecord) -> None:
        self._require(record.workspace_id)
        self._budgets[(record.workspace_id, record.scope, record.subject)] = _in_utc(record)
        self._changed(record.workspace_id)

    async def delete_budget(self, workspace_id: str, scope: BudgetScope, subject: str) -> bool:
        if self._budgets.pop((workspace_id, scope, subject), None) is None:
            return False
        self._changed(workspace_id)
        return True

    async def governance(self, workspace_id: str) -> GovernanceSettings:
        limits = sorted(
            (r for (ws, _), r in self._limits.items() if ws == workspace_id),
            key=lambda r: r.api_key_id,
        )
        budgets = sorted(
            (b for (ws, _, _), b in self._budgets.items() if ws == workspace_id),
            key=budget_order,
        )
        return GovernanceSettings(
            plan=self._plans.get(workspace_id), rate_limits=tuple(limits), budgets=tuple(budgets)
        )

    def forget_workspace(self, workspace_id: str) -> None:
        self._plans.pop(workspace_id, None)
        self._limits = {k: v for k, v in self._limits.items() if k[0] != workspace_id}
        self._budgets = {k: v for k, v in self._budgets.items() if k[0] != workspace_id}
