"""``PlanState``: a workspace's plan as shown, with its effective monthly request quota."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from keyroute.governance import rules
from keyroute.plans import PLANS
from keyroute.storage.base import PlanSettingsRecord, WorkspaceRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanState:
    """A workspace's plan as shown: the effective quota (``None``: unlimited)."""

    workspace: WorkspaceRecord
    plan: str
    monthly_requests: int | None
    timezone: str
    updated_at: datetime | None


def plan_state(workspace: WorkspaceRecord, stored: PlanSettingsRecord | None) -> PlanState:
    quota = (
        PLANS[workspace.plan].monthly_requests
        if workspace.plan in PLANS
        else (None if stored is None else stored.monthly_requests)
    )
    return PlanState(
        workspace=workspace,
        plan=workspace.plan,
        monthly_requests=quota,
        timezone=rules.DEFAULT_TIMEZONE if stored is None else stored.timezone,
        updated_at=None if stored is None else stored.updated_at,
    )
