"""``keyroute.principals``: gateway keys -> ``Principal`` over a real ``MemoryStore``."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest

from keyroute.core.errors import AuthError
from keyroute.principals import (
    KEY_PREFIX,
    Principal,
    PrincipalCache,
    display_prefix,
    hash_api_key,
    new_api_key,
)
from keyroute.storage.base import ApiKeyRecord, WorkspaceRecord
from keyroute.storage.memory import MemoryStore

T0 = datetime(2025, 1, 1, tzinfo=UTC)
KEY = "kr-" + "A" * 43
OTHER = "kr-" + "B" * 43


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class CountingStore(MemoryStore):
    """A ``MemoryStore`` that counts key look-ups (to see the cache work)."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    async def find_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        self.lookups += 1
        return await super().find_api_key(key_hash)


async def setup(store: MemoryStore, key: str = KEY, key_id: str = "key_1") -> None:
    if await store.get_workspace("ws_1") is None:
        await store.create_workspace(
            WorkspaceRecord(
                id="ws_1",
                name="team-a",
                plan="free",
                created_at=T0,
                wrapped_data_key=b"w",
                master_key_id="m",
            )
        )
    await store.create_api_key(
        ApiKeyRecord(
            id=key_id,
            workspace_id="ws_1",
            name=key_id,
            prefix=display_prefix(key),
            key_hash=hash_api_key(key),
            created_at=T0,
        )
    )


EXPECTED = Principal(
    workspace_id="ws_1", workspace_name="team-a", api_key_id="key_1", api_key_name="key_1"
)


def test_new_api_key_shape() -> None:
    key = new_api_key()
    assert re.fullmatch(r"kr-[A-Za-z0-9_-]{43}", key)
    assert key != new_api_key()


@pytest.mark.parametrize(("key", "prefix"), [(KEY, "kr-AAAAAA"), ("kr-abc", "kr-abc"), ("", "")])
def test_display_prefix(key: str, prefix: str) -> None:
    assert display_prefix(key) == prefix


def test_hash_is_sha256_hex() -> None:
    assert hash_api_key(KEY) == hashlib.sha256(KEY.encode()).hexdigest()
    assert KEY_PREFIX == "kr-"


@pytest.mark.anyio
@pytest.mark.parametrize("key", [None, ""])
async def test_missing_key(key: str | None) -> None:
    with pytest.raises(AuthError, match="Missing") as info:
        await PrincipalCache(MemoryStore()).authenticate(key)
    assert info.value.status_code() == 401


@pytest.mark.anyio
async def test_unknown_key_is_401() -> None:
    store = MemoryStore()
    await setup(store)
    with pytest.raises(AuthError, match="Invalid") as info:
        await PrincipalCache(store).authenticate(OTHER)
    assert info.value.status_code() == 401
    assert OTHER not in info.value.message


@pytest.mark.anyio
async def test_known_key() -> None:
    store = MemoryStore()
    await setup(store)
    assert await PrincipalCache(store).authenticate(KEY) == EXPECTED


@pytest.mark.anyio
async def test_answers_come_from_the_cache_until_the_revision_moves() -> None:
    store = CountingStore()
    await setup(store)
    cache = PrincipalCache(store)
    for _ in range(3):
        await cache.authenticate(KEY)
        with pytest.raises(AuthError):
            await cache.authenticate(OTHER)  # negative answers are cached too
    assert store.lookups == 2
    await store.set_setting("anything", "x")  # any committed change moves the revision
    await cache.authenticate(KEY)
    assert store.lookups == 3


@pytest.mark.anyio
async def test_revoked_key_is_refused_after_the_revision_changes() -> None:
    store = MemoryStore()
    await setup(store)
    cache = PrincipalCache(store)
    await cache.authenticate(KEY)
    assert await store.revoke_api_key("ws_1", "key_1", T0)
    with pytest.raises(AuthError, match="Invalid"):
        await cache.authenticate(KEY)


@pytest.mark.anyio
async def test_key_created_after_a_miss_works_on_the_next_request() -> None:
    store = MemoryStore()
    await setup(store)
    cache = PrincipalCache(store)
    with pytest.raises(AuthError):
        await cache.authenticate(OTHER)
    await setup(store, OTHER, "key_2")
    assert (await cache.authenticate(OTHER)).api_key_id == "key_2"


@pytest.mark.anyio
async def test_deleted_workspace_is_refused() -> None:
    store = MemoryStore()
    await setup(store)
    cache = PrincipalCache(store)
    await cache.authenticate(KEY)
    await store.delete_workspace("ws_1")
    with pytest.raises(AuthError):
        await cache.authenticate(KEY)


@pytest.mark.anyio
async def test_last_used_times_are_batched_until_flush() -> None:
    store = MemoryStore()
    await setup(store)
    await setup(store, OTHER, "key_2")
    clock = Clock()
    cache = PrincipalCache(store, clock=clock)
    revision = store.revision()
    clock.advance(10)
    await cache.authenticate(KEY)
    clock.advance(5)
    await cache.authenticate(KEY)
    await cache.authenticate(OTHER)
    assert [k.last_used_at for k in await store.list_api_keys("ws_1")] == [None, None]
    await cache.flush()
    used = {k.id: k.last_used_at for k in await store.list_api_keys("ws_1")}
    assert used == {"key_1": T0 + timedelta(seconds=15), "key_2": T0 + timedelta(seconds=15)}
    assert store.revision() == revision  # bookkeeping does not drop anyone's cache


@pytest.mark.anyio
async def test_flush_sends_each_use_once() -> None:
    store = MemoryStore()
    await setup(store)
    clock = Clock()
    cache = PrincipalCache(store, clock=clock)
    await cache.authenticate(KEY)
    await cache.flush()
    await cache.flush()  # nothing pending: a no-op
    # a later store write with an older time never lowers the stored one
    await store.record_api_key_use({"key_1": T0 - timedelta(days=1)})
    assert (await store.list_api_keys("ws_1"))[0].last_used_at == T0


@pytest.mark.anyio
async def test_failed_authentication_records_no_use() -> None:
    store = MemoryStore()
    await setup(store)
    cache = PrincipalCache(store, clock=Clock())
    with pytest.raises(AuthError):
        await cache.authenticate(OTHER)
    await cache.flush()
    assert (await store.list_api_keys("ws_1"))[0].last_used_at is None
