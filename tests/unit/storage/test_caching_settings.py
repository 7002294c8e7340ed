"""One behavioural suite for the caching settings of every ``Store`` backend (memory, SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from keyroute.core.errors import NotFound
from keyroute.storage.base import CachingSettingsRecord, Store, WorkspaceRecord
from keyroute.storage.caching_settings import dump_caching, parse_caching

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def workspace(id: str) -> WorkspaceRecord:
    return WorkspaceRecord(
        id=id, name=id, plan="free", created_at=T0, wrapped_data_key=b"k", master_key_id="m"
    )


async def test_defaults_until_set_then_per_workspace(store: Store) -> None:
    assert await store.caching.get_caching("w1") == CachingSettingsRecord()
    assert CachingSettingsRecord().prompt_cache == "auto"
    assert CachingSettingsRecord().response_cache is False
    changed = CachingSettingsRecord(prompt_cache="off", response_cache=True)
    await store.caching.put_caching("w1", changed)
    assert await store.caching.get_caching("w1") == changed
    assert await store.caching.get_caching("w2") == CachingSettingsRecord()


async def test_a_write_is_a_configuration_change_of_its_workspace(store: Store) -> None:
    before = store.changes.revision("w1"), store.changes.revision("w2")
    await store.caching.put_caching("w1", CachingSettingsRecord(prompt_cache_ttl="1h"))
    assert store.changes.revision("w1") > before[0]
    assert store.changes.revision("w2") == before[1]


async def test_unknown_workspace_and_deletion(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.caching.put_caching("gone", CachingSettingsRecord())
    await store.caching.put_caching("w1", CachingSettingsRecord(response_cache=True))
    await store.delete_workspace("w1")
    await store.create_workspace(workspace("w1"))
    assert await store.caching.get_caching("w1") == CachingSettingsRecord()


def test_rows_round_trip_and_tolerate_newer_fields() -> None:
    record = CachingSettingsRecord(prompt_cache="off", response_cache_ttl_seconds=60)
    assert parse_caching(dump_caching(record), "w") == record
    assert parse_caching('{"prompt_cache": "off", "future": 1}', "w").prompt_cache == "off"
    assert parse_caching(None, "w") == CachingSettingsRecord()
    for bad in ("[]", "nope", '{"prompt_cache_ttl": "5m", "x": 1, "response_cache": 1}'[:5]):
        with pytest.raises(ValueError, match="workspace w"):
            parse_caching(bad, "w")
