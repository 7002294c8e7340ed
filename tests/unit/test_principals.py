"""``keyroute.principals``: gateway keys -> ``Principal`` over a real ``MemoryStore``."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import anyio
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
    await store.set_setting("anything", "x")  # a change outside the workspace
    await cache.authenticate(KEY)
    assert store.lookups == 2  # known keys stay
    with pytest.raises(AuthError):
        await cache.authenticate(OTHER)
    assert store.lookups == 3  # unknown keys are looked up again after any change
    await store.create_api_key(
        ApiKeyRecord(
            id="key_9",
            workspace_id="ws_1",
            name="key_9",
            prefix="kr-",
            key_hash="0" * 64,
            created_at=T0,
        )
    )
    await cache.authenticate(KEY)
    assert store.lookups == 4  # a change to its workspace reloads a known key


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
    revision = (store.changes.revision("ws_1"), store.changes.latest())
    clock.advance(10)
    await cache.authenticate(KEY)
    clock.advance(5)
    await cache.authenticate(KEY)
    await cache.authenticate(OTHER)
    assert [k.last_used_at for k in await store.list_api_keys("ws_1")] == [None, None]
    await cache.flush()
    used = {k.id: k.last_used_at for k in await store.list_api_keys("ws_1")}
    assert used == {"key_1": T0 + timedelta(seconds=15), "key_2": T0 + timedelta(seconds=15)}
    # bookkeeping does not drop anyone's cache
    assert (store.changes.revision("ws_1"), store.changes.latest()) == revision


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


async def add_workspace(store: MemoryStore, workspace_id: str, key: str) -> None:
    await store.create_workspace(
        WorkspaceRecord(
            id=workspace_id,
            name=workspace_id,
            plan="free",
            created_at=T0,
            wrapped_data_key=b"w",
            master_key_id="m",
        )
    )
    await store.create_api_key(
        ApiKeyRecord(
            id=f"key_{workspace_id}",
            workspace_id=workspace_id,
            name="k",
            prefix=display_prefix(key),
            key_hash=hash_api_key(key),
            created_at=T0,
        )
    )


@pytest.mark.anyio
async def test_a_change_to_one_workspace_keeps_the_others_cached() -> None:
    store = CountingStore()
    await setup(store)
    await add_workspace(store, "ws_2", OTHER)
    cache = PrincipalCache(store)
    await cache.authenticate(KEY)
    await cache.authenticate(OTHER)
    assert store.lookups == 2
    await store.revoke_api_key("ws_2", "key_ws_2", T0)
    assert (await cache.authenticate(KEY)).workspace_id == "ws_1"
    assert store.lookups == 2
    with pytest.raises(AuthError):
        await cache.authenticate(OTHER)
    assert store.lookups == 3


@pytest.mark.anyio
async def test_a_flood_of_unknown_keys_never_evicts_a_known_one() -> None:
    store = CountingStore()
    await setup(store)
    cache = PrincipalCache(store, capacity=2, unknown_capacity=3)
    await cache.authenticate(KEY)
    for n in range(50):
        with pytest.raises(AuthError):
            await cache.authenticate(f"kr-random-{n}")
    assert store.lookups == 51
    await cache.authenticate(KEY)
    assert store.lookups == 51  # still cached
    # The unknown side is bounded: the oldest random keys were forgotten, the newest were not.
    with pytest.raises(AuthError):
        await cache.authenticate("kr-random-49")
    assert store.lookups == 51
    with pytest.raises(AuthError):
        await cache.authenticate("kr-random-0")
    assert store.lookups == 52


@pytest.mark.anyio
async def test_known_keys_are_a_bounded_lru() -> None:
    store = CountingStore()
    keys = [f"kr-{n:043d}" for n in range(3)]
    for n, key in enumerate(keys):
        await add_workspace(store, f"ws_{n}", key)
    cache = PrincipalCache(store, capacity=2)
    for key in keys[:2]:
        await cache.authenticate(key)
    await cache.authenticate(keys[0])  # most recently used now
    await cache.authenticate(keys[2])  # evicts keys[1]
    assert store.lookups == 3
    await cache.authenticate(keys[0])
    assert store.lookups == 3
    await cache.authenticate(keys[1])
    assert store.lookups == 4


class GatedStore(MemoryStore):
    """Key look-ups wait for a gate, so a test can hold several requests in a miss at once."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0
        self.gate = anyio.Event()

    async def find_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        self.lookups += 1
        await self.gate.wait()
        return await super().find_api_key(key_hash)


@pytest.mark.anyio
async def test_concurrent_misses_share_one_read() -> None:
    store = GatedStore()
    store.gate.set()
    await setup(store)
    store.gate = anyio.Event()
    cache = PrincipalCache(store)
    results: list[Principal] = []
    failures: list[AuthError] = []

    async def known() -> None:
        results.append(await cache.authenticate(KEY))

    async def unknown() -> None:
        try:
            await cache.authenticate(OTHER)
        except AuthError as exc:
            failures.append(exc)

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(known)
            group.start_soon(unknown)
        await anyio.wait_all_tasks_blocked()
        store.gate.set()
    assert results == [EXPECTED] * 5 and len(failures) == 5
    assert store.lookups == 2


@pytest.mark.anyio
async def test_a_change_during_a_load_is_not_lost() -> None:
    store = GatedStore()
    store.gate.set()
    await setup(store)
    store.gate = anyio.Event()
    cache = PrincipalCache(store)
    async with anyio.create_task_group() as group:
        group.start_soon(cache.authenticate, KEY)
        await anyio.wait_all_tasks_blocked()
        # The key is revoked after the load began reading but before it is cached.
        await store.set_setting("anything", "x")
        store.gate.set()
    await cache.authenticate(KEY)
    assert store.lookups == 2  # the entry was cached as stale and read again
