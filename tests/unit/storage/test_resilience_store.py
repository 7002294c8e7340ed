"""One behavioural suite for every ``ResilienceStore`` backend (memory and SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from keyroute.core.errors import NotFound
from keyroute.storage.base import ResiliencePolicyRecord, Store, WorkspaceRecord

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def setting(kind: str, subject: str, value: str = "{}", ws: str = "w1") -> ResiliencePolicyRecord:
    return ResiliencePolicyRecord(
        workspace_id=ws, kind=kind, subject=subject, value=value, updated_at=T0
    )


def workspace(id: str) -> WorkspaceRecord:
    return WorkspaceRecord(
        id=id, name=id, plan="free", created_at=T0, wrapped_data_key=b"k", master_key_id="m"
    )


async def test_set_list_replace_delete_and_isolation(store: Store) -> None:
    policies = store.resilience
    await policies.set_resilience_policy(setting("timeouts", "*", '{"total": 30.0}'))
    await policies.set_resilience_policy(setting("fallback", "openai/gpt-4o", '{"models": []}'))
    await policies.set_resilience_policy(setting("fallback", "a", ws="w2"))
    listed = await policies.list_resilience_policies("w1")
    assert [(r.kind, r.subject) for r in listed] == [
        ("fallback", "openai/gpt-4o"),
        ("timeouts", "*"),
    ]
    assert listed[1] == setting("timeouts", "*", '{"total": 30.0}')
    await policies.set_resilience_policy(setting("timeouts", "*", '{"total": 9.0}'))
    (_, replaced) = await policies.list_resilience_policies("w1")
    assert replaced.value == '{"total": 9.0}'
    assert await policies.delete_resilience_policy("w1", "timeouts", "*")
    assert not await policies.delete_resilience_policy("w1", "timeouts", "*")
    assert [r.subject for r in await policies.list_resilience_policies("w2")] == ["a"]


async def test_every_write_moves_the_workspace_revision(store: Store) -> None:
    before = store.changes.revision("w1")
    other = store.changes.revision("w2")
    await store.resilience.set_resilience_policy(setting("key_weight", "pk_1", "3"))
    moved = store.changes.revision("w1")
    assert moved > before
    await store.resilience.delete_resilience_policy("w1", "key_weight", "pk_1")
    assert store.changes.revision("w1") > moved
    assert store.changes.revision("w2") == other


async def test_an_unknown_workspace_is_refused_and_a_deleted_one_takes_its_settings(
    store: Store,
) -> None:
    with pytest.raises(NotFound):
        await store.resilience.set_resilience_policy(setting("fallback", "m", ws="nope"))
    await store.resilience.set_resilience_policy(setting("fallback", "m", ws="w2"))
    assert await store.delete_workspace("w2")
    assert await store.resilience.list_resilience_policies("w2") == []
