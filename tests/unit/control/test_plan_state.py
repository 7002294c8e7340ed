"""``keyroute.control.plan_state``: the effective quota of a named or custom plan."""

from __future__ import annotations

from datetime import UTC, datetime

from keyroute.control.plan_state import plan_state
from keyroute.storage.base import PlanSettingsRecord, WorkspaceRecord

T0 = datetime(2026, 12, 1, tzinfo=UTC)
WS = WorkspaceRecord(
    id="w1", name="w", plan="custom", created_at=T0, wrapped_data_key=b"k", master_key_id="m"
)


def test_plan_state() -> None:
    assert plan_state(WS, None).monthly_requests is None  # custom, never set: unlimited
    stored = PlanSettingsRecord(
        workspace_id="w1", monthly_requests=7, timezone="UTC", updated_at=T0
    )
    assert plan_state(WS, stored).monthly_requests == 7
    named = plan_state(
        WorkspaceRecord(
            id="w1", name="w", plan="scale", created_at=T0, wrapped_data_key=b"k", master_key_id="m"
        ),
        stored,
    )
    assert (named.monthly_requests, named.timezone) == (500_000, "UTC")
