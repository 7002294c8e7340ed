"""One behavioural suite for every ``AlertStore`` backend (memory and SQLite), and key pausing."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from keyroute.core.alert_store import (
    AlertChannelRecord,
    AlertEventRecord,
    AlertRuleRecord,
    AlertStateRecord,
)
from keyroute.core.errors import Conflict, NotFound
from keyroute.storage.base import ApiKeyRecord, Store, WorkspaceRecord

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def workspace(id: str) -> WorkspaceRecord:
    return WorkspaceRecord(
        id=id, name=id, plan="free", created_at=T0, wrapped_data_key=b"k", master_key_id="m"
    )


def channel(id: str, ws: str = "w1", name: str | None = None) -> AlertChannelRecord:
    return AlertChannelRecord(
        id=id,
        workspace_id=ws,
        name=name or id,
        kind="webhook",
        target="https://example.com/hook",
        created_at=T0,
        secret_nonce=b"n" * 12,
        secret_ciphertext=b"sealed",
    )


def rule(id: str, ws: str = "w1", channel_id: str = "c1", name: str | None = None):
    return AlertRuleRecord(
        id=id,
        workspace_id=ws,
        name=name or id,
        channel_id=channel_id,
        kind="burn_rate",
        params={"threshold": "100", "window_seconds": "900"},
        cooldown_seconds=1800,
        action="notify",
        created_at=T0,
    )


def event(id: str, minutes: int, ws: str = "w1") -> AlertEventRecord:
    return AlertEventRecord(
        id=id,
        workspace_id=ws,
        time=T0 + timedelta(minutes=minutes),
        rule="r1",
        kind="delivery",
        alert_id="al_1",
        channel="c1",
        attempt=1,
        outcome="failed",
        detail='{"error": "HTTP 500"}',
    )


async def test_channels_are_named_per_workspace(store: Store) -> None:
    alerts = store.alerts
    await alerts.add_alert_channel(channel("c1"))
    await alerts.add_alert_channel(channel("c2", ws="w2", name="c1"))  # same name elsewhere
    with pytest.raises(Conflict):
        await alerts.add_alert_channel(channel("c3", name="c1"))
    with pytest.raises(NotFound):
        await alerts.add_alert_channel(channel("c4", ws="nope"))
    assert await alerts.list_alert_channels("w1") == [channel("c1")]
    assert not await alerts.delete_alert_channel("w1", "missing")


async def test_a_channel_in_use_cannot_be_removed(store: Store) -> None:
    alerts = store.alerts
    await alerts.add_alert_channel(channel("c1"))
    await alerts.add_alert_rule(rule("r1"))
    with pytest.raises(Conflict, match="r1"):
        await alerts.delete_alert_channel("w1", "c1")
    assert await alerts.delete_alert_rule("w1", "r1")
    assert not await alerts.delete_alert_rule("w1", "r1")
    assert await alerts.delete_alert_channel("w1", "c1")
    assert await alerts.list_alert_channels("w1") == []


async def test_rules_round_trip_and_list_by_workspace(store: Store) -> None:
    alerts = store.alerts
    await alerts.add_alert_channel(channel("c1"))
    await alerts.add_alert_channel(channel("c2", ws="w2"))
    await alerts.add_alert_rule(rule("r2"))
    await alerts.add_alert_rule(rule("r1"))
    await alerts.add_alert_rule(rule("r3", ws="w2", channel_id="c2"))
    with pytest.raises(Conflict):
        await alerts.add_alert_rule(rule("r9", name="r1"))
    assert [r.id for r in await alerts.list_alert_rules("w1")] == ["r1", "r2"]
    assert [r.id for r in await alerts.list_alert_rules()] == ["r1", "r2", "r3"]
    assert (await alerts.list_alert_rules("w1"))[0] == rule("r1")


async def test_a_transition_is_claimed_once(store: Store) -> None:
    alerts = store.alerts
    await alerts.add_alert_channel(channel("c1"))
    await alerts.add_alert_rule(rule("r1"))
    first = AlertStateRecord(rule_id="r1", workspace_id="w1", level=1, version=1, since=T0)
    assert await alerts.claim_alert_transition(first)
    assert not await alerts.claim_alert_transition(first)  # a second worker, same reading
    second = dataclasses.replace(first, level=0, version=2, notified_at=T0)
    assert await alerts.claim_alert_transition(second)
    assert not await alerts.claim_alert_transition(dataclasses.replace(first, version=2))
    assert await alerts.alert_states("w1") == {"r1": second}
    assert await alerts.alert_states("w2") == {}
    ghost = AlertStateRecord(rule_id="gone", workspace_id="w1", level=1, version=1)
    assert not await alerts.claim_alert_transition(ghost)  # the rule was removed


async def test_removing_a_rule_forgets_its_state(store: Store) -> None:
    alerts = store.alerts
    await alerts.add_alert_channel(channel("c1"))
    await alerts.add_alert_rule(rule("r1"))
    await alerts.claim_alert_transition(
        AlertStateRecord(rule_id="r1", workspace_id="w1", level=1, version=1)
    )
    await alerts.delete_alert_rule("w1", "r1")
    await alerts.add_alert_rule(rule("r1"))
    assert await alerts.alert_states("w1") == {}


async def test_history_is_newest_limit_oldest_first(store: Store) -> None:
    alerts = store.alerts
    await alerts.append_alert_events([event("e3", 3), event("e1", 1), event("e2", 2)])
    await alerts.append_alert_events([event("x", 0, ws="gone")])  # no such workspace
    await alerts.append_alert_events([])
    assert [e.id for e in await alerts.list_alert_events("w1")] == ["e1", "e2", "e3"]
    assert [e.id for e in await alerts.list_alert_events("w1", limit=2)] == ["e2", "e3"]
    since = T0 + timedelta(minutes=2)
    assert [e.id for e in await alerts.list_alert_events("w1", since=since)] == ["e2", "e3"]
    assert (await alerts.list_alert_events("w1"))[0] == event("e1", 1)
    assert await alerts.list_alert_events("w2") == []


async def test_a_lease_has_one_holder_until_it_expires(store: Store) -> None:
    alerts = store.alerts
    assert await alerts.claim_lease("eval", "a", T0, 45)
    assert not await alerts.claim_lease("eval", "b", T0 + timedelta(seconds=44), 45)
    assert await alerts.claim_lease("eval", "a", T0 + timedelta(seconds=30), 45)  # renewal
    assert not await alerts.claim_lease("eval", "b", T0 + timedelta(seconds=74), 45)
    assert await alerts.claim_lease("eval", "b", T0 + timedelta(seconds=76), 45)
    assert await alerts.claim_lease("other", "a", T0, 45)


async def test_deleting_a_workspace_deletes_its_alerts(store: Store) -> None:
    alerts = store.alerts
    await alerts.add_alert_channel(channel("c1"))
    await alerts.add_alert_rule(rule("r1"))
    await alerts.claim_alert_transition(
        AlertStateRecord(rule_id="r1", workspace_id="w1", level=1, version=1)
    )
    await alerts.append_alert_events([event("e1", 1)])
    await store.delete_workspace("w1")
    assert await alerts.list_alert_rules() == []
    assert await alerts.list_alert_channels("w1") == []
    assert await alerts.list_alert_events("w1") == []
    assert await alerts.alert_states("w1") == {}


async def test_pausing_a_gateway_key_is_a_configuration_change(store: Store) -> None:
    key = ApiKeyRecord(
        id="k1", workspace_id="w1", name="agent", prefix="kr-abc", key_hash="h", created_at=T0
    )
    await store.create_api_key(key)
    before = store.changes.revision("w1")
    assert await store.pause_api_key("w1", "k1", T0)
    assert store.changes.revision("w1") > before
    assert not await store.pause_api_key("w1", "k1", T0)  # already paused
    assert not await store.pause_api_key("w2", "k1", T0)  # another workspace's
    assert (await store.find_api_key("h")).paused_at == T0
    assert await store.pause_api_key("w1", "k1", None)
    assert not await store.pause_api_key("w1", "k1", None)
    assert (await store.find_api_key("h")).paused_at is None
    await store.revoke_api_key("w1", "k1", T0)
    assert not await store.pause_api_key("w1", "k1", T0)  # revoked keys stay revoked
