from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Dialect
from sqlalchemy.dialects import postgresql, sqlite

from keyroute.storage.schema import UtcDateTime, metadata

UTC_TIME = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
PLUS_TWO = datetime(2026, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
SQLITE: Dialect = sqlite.dialect()
POSTGRES: Dialect = postgresql.dialect()  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(
    ("dialect", "value", "expected"),
    [
        (SQLITE, None, None),
        (SQLITE, PLUS_TWO, datetime(2026, 1, 1, 12, 0)),  # UTC, stored without an offset
        (POSTGRES, PLUS_TWO, UTC_TIME),
    ],
)
def test_bind(dialect: Dialect, value: datetime | None, expected: datetime | None) -> None:
    bound = UtcDateTime().process_bind_param(value, dialect)
    assert bound == expected
    if bound is not None:
        assert (bound.tzinfo is None) == (dialect is SQLITE)


def test_bind_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="naive"):
        UtcDateTime().process_bind_param(datetime(2026, 1, 1), SQLITE)


@pytest.mark.parametrize("value", [None, datetime(2026, 1, 1, 12, 0), PLUS_TWO, UTC_TIME])
def test_result_is_aware_utc(value: datetime | None) -> None:
    result = UtcDateTime().process_result_value(value, SQLITE)
    if value is None:
        assert result is None
    else:
        assert result == UTC_TIME and result.utcoffset() == timedelta(0)


def test_every_workspace_row_cascades_with_its_workspace() -> None:
    tables = metadata.tables
    owned = {
        "api_keys",
        "provider_keys",
        "aliases",
        "price_overrides",
        "usage",
        "tool_signatures",
        "response_states",
        "workspace_plans",
        "rate_limits",
        "budgets",
        "routing_policies",
        "routing_feedback",
        "resilience_policies",
        "alert_channels",
        "alert_rules",
        "alert_states",
        "alert_events",
    }
    # The audit log outlives its workspace on purpose (its deletion is the log's last record);
    # leases are the gateway's (the alert evaluator's), not a workspace's.
    shared = {"workspaces", "settings", "workspace_changes", "audit_log", "leases"}
    assert set(tables) == shared | owned
    assert not tables["audit_log"].foreign_keys
    for name in owned:
        (fk,) = [f for f in tables[name].foreign_keys if f.column.table.name == "workspaces"]
        assert (fk.target_fullname, fk.ondelete) == ("workspaces.id", "CASCADE")
