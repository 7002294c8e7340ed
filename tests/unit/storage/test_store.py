"""One behavioural suite for every ``Store`` backend, plus SQLite-only checks."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import anyio
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from keyroute.core.errors import ConfigError, Conflict, NotFound
from keyroute.storage.base import (
    AliasRecord,
    ApiKeyRecord,
    PriceOverrideRecord,
    ProviderKeyRecord,
    Store,
    WorkspaceRecord,
    workspace_setting_key,
)
from keyroute.storage.registry import open_store
from keyroute.storage.schema import metadata
from keyroute.storage.sqlite import SqliteStore, sqlite_path

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def minutes(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def workspace(id: str = "w1", name: str | None = None, at: int = 0) -> WorkspaceRecord:
    return WorkspaceRecord(
        id=id,
        name=name or f"name-{id}",
        plan="free",
        created_at=minutes(at),
        wrapped_data_key=b"wrapped-" + id.encode(),
        master_key_id="m1",
    )


def api_key(id: str, ws: str = "w1", name: str | None = None, at: int = 0) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=id,
        workspace_id=ws,
        name=name or f"name-{id}",
        prefix="kr-" + id,
        key_hash="hash-" + id,
        created_at=minutes(at),
    )


def provider_key(
    id: str, ws: str = "w1", name: str | None = None, at: int = 0
) -> ProviderKeyRecord:
    return ProviderKeyRecord(
        id=id,
        workspace_id=ws,
        provider="openai",
        name=name or f"name-{id}",
        base_url=None,
        ciphertext=b"\x00ct-" + id.encode(),
        nonce=b"\x01" * 12,
        fingerprint="sha256:0123456789abcdef",
        last4="abcd",
        created_at=minutes(at),
    )


def alias(name: str, target: str = "openai/gpt-4o", ws: str = "w1") -> AliasRecord:
    return AliasRecord(workspace_id=ws, alias=name, target=target, created_at=T0)


def price(
    provider: str = "anthropic",
    model: str = "",
    ws: str = "w1",
    discount: str | None = None,
    **prices: str,
) -> PriceOverrideRecord:
    return PriceOverrideRecord(
        workspace_id=ws,
        provider=provider,
        model=model,
        updated_at=T0,
        discount_percent=None if discount is None else Decimal(discount),
        prices={k: Decimal(v) for k, v in prices.items()} or None,
    )


async def open_sqlite(path: Path) -> SqliteStore:
    store = SqliteStore(f"sqlite:///{path}")
    await store.migrate()
    await store.open()
    return store


@pytest.fixture(params=["memory", "sqlite"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, anyio_backend: str
) -> AsyncIterator[Store]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'k.db'}"
    backend = open_store(url)  # fresh database per test
    await backend.migrate()
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


# Workspaces


async def test_workspace_round_trip(store: Store) -> None:
    await store.create_workspace(workspace("w2", "beta"))
    await store.create_workspace(workspace("w1", "alpha"))
    assert await store.get_workspace("w1") == workspace("w1", "alpha")
    assert await store.find_workspace("beta") == workspace("w2", "beta")
    assert await store.get_workspace("nope") is None
    assert await store.find_workspace("nope") is None
    assert [w.name for w in await store.list_workspaces()] == ["alpha", "beta"]


async def test_times_come_back_timezone_aware_utc(store: Store) -> None:
    local = datetime(2026, 5, 1, 14, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    await store.create_workspace(dataclasses.replace(workspace(), created_at=local))
    found = await store.get_workspace("w1")
    assert found is not None and found.created_at == local
    assert found.created_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize("clash", [workspace("w1", "other"), workspace("w9", "name-w1")])
async def test_workspace_id_and_name_are_unique(store: Store, clash: WorkspaceRecord) -> None:
    await store.create_workspace(workspace())
    with pytest.raises(Conflict):
        await store.create_workspace(clash)
    assert await store.list_workspaces() == [workspace()]


async def test_delete_workspace_cascades(store: Store) -> None:
    await store.create_workspace(workspace("w1"))
    await store.create_workspace(workspace("w2"))
    for ws in ("w1", "w2"):
        await store.create_api_key(api_key("a-" + ws, ws))
        await store.add_provider_key(provider_key("p-" + ws, ws))
        await store.set_alias(alias("fast", ws=ws))
    assert await store.delete_workspace("w1") is True
    assert await store.get_workspace("w1") is None
    assert await store.list_api_keys("w1") == []
    assert await store.find_api_key("hash-a-w1") is None
    assert await store.list_provider_keys("w1") == []
    assert await store.list_aliases("w1") == []
    assert await store.delete_workspace("w1") is False
    assert [k.id for k in await store.list_api_keys("w2")] == ["a-w2"]
    assert [k.id for k in await store.list_provider_keys("w2")] == ["p-w2"]
    assert [a.alias for a in await store.list_aliases("w2")] == ["fast"]


async def test_rewrap_data_keys_replaces_every_workspace(store: Store) -> None:
    await store.create_workspace(workspace("w1"))
    await store.create_workspace(workspace("w2"))

    async def rewrap(record: WorkspaceRecord) -> tuple[bytes, str]:
        return record.wrapped_data_key + b"!", "m2"

    assert await store.rewrap_data_keys(rewrap) == 2
    for ws in ("w1", "w2"):
        assert await store.get_workspace(ws) == dataclasses.replace(
            workspace(ws), wrapped_data_key=b"wrapped-" + ws.encode() + b"!", master_key_id="m2"
        )


async def test_rewrap_data_keys_is_all_or_nothing(store: Store) -> None:
    await store.create_workspace(workspace("w1"))
    await store.create_workspace(workspace("w2"))

    async def rewrap(record: WorkspaceRecord) -> tuple[bytes, str]:
        if record.id == "w2":
            raise ConfigError("cannot unwrap")
        return b"new", "m2"

    with pytest.raises(ConfigError):
        await store.rewrap_data_keys(rewrap)
    assert await store.list_workspaces() == [workspace("w1"), workspace("w2")]


# Gateway API keys


async def test_api_keys_round_trip(store: Store) -> None:
    await store.create_workspace(workspace())
    await store.create_api_key(api_key("k2", at=2))
    await store.create_api_key(api_key("k1", at=1))
    assert [k.id for k in await store.list_api_keys("w1")] == ["k1", "k2"]
    assert await store.find_api_key("hash-k2") == api_key("k2", at=2)
    assert await store.find_api_key("hash-nope") is None
    assert await store.list_api_keys("nope") == []


@pytest.mark.parametrize(
    "clash",
    [
        api_key("k9", name="name-k1"),  # active name
        dataclasses.replace(api_key("k9"), key_hash="hash-k1"),  # hash
        api_key("k1", name="other"),  # id
    ],
)
async def test_api_key_conflicts(store: Store, clash: ApiKeyRecord) -> None:
    await store.create_workspace(workspace())
    await store.create_api_key(api_key("k1"))
    with pytest.raises(Conflict):
        await store.create_api_key(clash)


async def test_api_key_name_is_free_again_once_revoked(store: Store) -> None:
    await store.create_workspace(workspace("w1"))
    await store.create_workspace(workspace("w2"))
    await store.create_api_key(api_key("k1", name="ci"))
    await store.create_api_key(api_key("k2", ws="w2", name="ci"))  # other workspace: fine
    assert await store.revoke_api_key("w1", "k1", minutes(5)) is True
    await store.create_api_key(api_key("k3", name="ci", at=6))
    keys = await store.list_api_keys("w1")
    assert [(k.id, k.revoked_at) for k in keys] == [("k1", minutes(5)), ("k3", None)]


async def test_revoke_api_key(store: Store) -> None:
    await store.create_workspace(workspace("w1"))
    await store.create_workspace(workspace("w2"))
    await store.create_api_key(api_key("k1"))
    assert await store.revoke_api_key("w2", "k1", minutes(1)) is False  # wrong workspace
    assert await store.revoke_api_key("w1", "nope", minutes(1)) is False
    assert await store.revoke_api_key("w1", "k1", minutes(1)) is True
    assert await store.revoke_api_key("w1", "k1", minutes(2)) is False  # keeps the first time
    found = await store.find_api_key("hash-k1")
    assert found is not None and found.revoked_at == minutes(1)


async def test_create_api_key_needs_the_workspace(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.create_api_key(api_key("k1", ws="nope"))


async def test_record_api_key_use_never_lowers_a_time(store: Store) -> None:
    await store.create_workspace(workspace())
    await store.create_api_key(api_key("k1"))
    await store.create_api_key(api_key("k2"))
    await store.record_api_key_use({})
    await store.record_api_key_use({"k1": minutes(10), "nope": minutes(10)})
    await store.record_api_key_use({"k1": minutes(5), "k2": minutes(7)})
    used = {k.id: k.last_used_at for k in await store.list_api_keys("w1")}
    assert used == {"k1": minutes(10), "k2": minutes(7)}
    await store.record_api_key_use({"k1": minutes(11)})
    found = await store.find_api_key("hash-k1")
    assert found is not None and found.last_used_at == minutes(11)


# Provider keys


async def test_provider_keys_round_trip_and_order(store: Store) -> None:
    await store.create_workspace(workspace())
    with_url = dataclasses.replace(provider_key("p1", at=3), base_url="https://llm.example/v1")
    for record in (with_url, provider_key("p2", at=1), provider_key("p3", at=2)):
        await store.add_provider_key(record)
    assert await store.revoke_provider_key("w1", "p2", minutes(9)) is True
    listed = await store.list_provider_keys("w1")
    assert [k.id for k in listed] == ["p3", "p1", "p2"]  # active by creation, then revoked
    assert listed[1] == with_url
    assert listed[2].revoked_at == minutes(9)


@pytest.mark.parametrize(
    "clash", [provider_key("p9", name="name-p1"), provider_key("p1", name="x")]
)
async def test_provider_key_conflicts(store: Store, clash: ProviderKeyRecord) -> None:
    await store.create_workspace(workspace())
    await store.add_provider_key(provider_key("p1"))
    with pytest.raises(Conflict):
        await store.add_provider_key(clash)


async def test_provider_key_name_is_free_again_once_revoked(store: Store) -> None:
    await store.create_workspace(workspace())
    await store.add_provider_key(provider_key("p1", name="main"))
    assert await store.revoke_provider_key("w1", "p1", minutes(1)) is True
    assert await store.revoke_provider_key("w1", "p1", minutes(2)) is False
    assert await store.revoke_provider_key("w2", "p1", minutes(2)) is False
    await store.add_provider_key(provider_key("p2", name="main"))
    with pytest.raises(NotFound):
        await store.add_provider_key(provider_key("p3", ws="nope"))


# Aliases and settings


async def test_aliases(store: Store) -> None:
    await store.create_workspace(workspace())
    await store.set_alias(alias("smart"))
    await store.set_alias(alias("fast", "openai/gpt-4o-mini"))
    await store.set_alias(alias("smart", "anthropic/claude"))  # replaces
    assert await store.list_aliases("w1") == [
        alias("fast", "openai/gpt-4o-mini"),
        alias("smart", "anthropic/claude"),
    ]
    assert await store.delete_alias("w1", "fast") is True
    assert await store.delete_alias("w1", "fast") is False
    assert [a.alias for a in await store.list_aliases("w1")] == ["smart"]
    with pytest.raises(NotFound):
        await store.set_alias(alias("x", ws="nope"))


async def test_price_overrides(store: Store) -> None:
    await store.create_workspace(workspace())
    await store.create_workspace(workspace("w2"))
    exact = price("openai", "gpt-6.2-sol", input="1.234567", output="10", cached_input="0.1")
    await store.set_price_override(price(discount="15"))
    await store.set_price_override(exact)
    await store.set_price_override(price(ws="w2", discount="5"))
    await store.set_price_override(price(discount="12.5"))  # replaces
    assert await store.list_price_overrides("w1") == [price(discount="12.5"), exact]
    listed = await store.list_price_overrides("w1")
    assert listed[1].prices == {
        "input": Decimal("1.234567"),
        "output": Decimal("10"),
        "cached_input": Decimal("0.1"),
    }
    assert await store.delete_price_override("w1", "anthropic", "") is True
    assert await store.delete_price_override("w1", "anthropic", "") is False
    assert await store.list_price_overrides("w1") == [exact]
    assert await store.list_price_overrides("w2") == [price(ws="w2", discount="5")]
    with pytest.raises(NotFound):
        await store.set_price_override(price(ws="nope", discount="1"))
    await store.delete_workspace("w1")
    assert await store.list_price_overrides("w1") == []


async def test_settings(store: Store) -> None:
    assert await store.get_setting("admin_token_hash") is None
    await store.set_setting("admin_token_hash", "abc")
    await store.set_setting("admin_token_hash", "def")
    assert await store.get_setting("admin_token_hash") == "def"


async def test_workspace_settings_are_changes_of_their_workspace(store: Store) -> None:
    await store.create_workspace(workspace("w1"))
    await store.create_workspace(workspace("w2"))
    before = store.changes.revision("w1"), store.changes.revision("w2")
    await store.set_workspace_setting("w1", "responses", "off")
    assert await store.get_setting(workspace_setting_key("w1", "responses")) == "off"
    assert store.changes.revision("w1") > before[0]
    assert store.changes.revision("w2") == before[1]
    with pytest.raises(NotFound):
        await store.set_workspace_setting("nope", "responses", "off")
    await store.delete_workspace("w1")
    assert await store.get_setting(workspace_setting_key("w1", "responses")) is None


# Change feed


async def test_every_mutation_moves_only_its_workspace(store: Store) -> None:
    async def rewrap(record: WorkspaceRecord) -> tuple[bytes, str]:
        return b"new", "m2"

    await store.create_workspace(workspace("w2", at=1))
    mutations: list[tuple[str | None, Callable[[], Awaitable[object]]]] = [
        ("w1", lambda: store.create_workspace(workspace())),
        ("w1", lambda: store.create_api_key(api_key("k1"))),
        ("w1", lambda: store.revoke_api_key("w1", "k1", minutes(2))),
        ("w1", lambda: store.add_provider_key(provider_key("p1"))),
        ("w1", lambda: store.revoke_provider_key("w1", "p1", minutes(2))),
        ("w1", lambda: store.set_alias(alias("fast"))),
        ("w1", lambda: store.delete_alias("w1", "fast")),
        ("w1", lambda: store.set_price_override(price(discount="10"))),
        ("w1", lambda: store.delete_price_override("w1", "anthropic", "")),
        (None, lambda: store.set_setting("k", "v")),
        ("w1", lambda: store.delete_workspace("w1")),
    ]
    feed = store.changes
    for changed, mutate in mutations:
        before = (feed.revision("w1"), feed.revision("w2"), feed.latest())
        await mutate()
        w1, w2, latest = feed.revision("w1"), feed.revision("w2"), feed.latest()
        assert latest > before[2]
        assert w2 == before[1], "another workspace's change must not move w2"
        assert (w1 > before[0]) is (changed == "w1")
        if changed == "w1":
            assert w1 == latest
    await store.list_workspaces()
    await store.get_setting("k")
    assert (feed.revision("w1"), feed.latest()) == (w1, latest)
    # A re-wrap touches every workspace it re-wraps.
    before_w2 = feed.revision("w2")
    await store.rewrap_data_keys(rewrap)
    assert feed.revision("w2") > before_w2


async def test_last_used_bookkeeping_moves_no_revision(store: Store) -> None:
    await store.create_workspace(workspace())
    await store.create_api_key(api_key("k1"))
    before = (store.changes.revision("w1"), store.changes.latest())
    await store.record_api_key_use({"k1": minutes(1)})
    await store.changes.refresh()
    assert (store.changes.revision("w1"), store.changes.latest()) == before


# SQLite only


async def test_sqlite_feed_sees_commits_of_another_store_at_refresh(
    tmp_path: Path, anyio_backend: str
) -> None:
    first = await open_sqlite(tmp_path / "k.db")
    second = SqliteStore(str(tmp_path / "k.db"))  # e.g. a CLI command in another process
    await second.open()
    try:
        await second.create_workspace(workspace("w1"))
        await second.create_workspace(workspace("w2", at=1))
        await first.changes.refresh()
        w1, w2 = first.changes.revision("w1"), first.changes.revision("w2")
        assert 0 < w1 < w2 == first.changes.latest()
        await second.create_api_key(api_key("k1"))
        # Reading a revision does no I/O: the other store's commit shows only at the refresh.
        assert first.changes.revision("w1") == w1
        await first.changes.refresh()
        assert first.changes.revision("w1") > w2 and first.changes.revision("w2") == w2
        await second.set_setting("k", "v")
        await first.changes.refresh()
        assert first.changes.latest() > first.changes.revision("w1")
        # A store opened later starts in step with the file.
        third = await open_sqlite(tmp_path / "k.db")
        assert third.changes.revision("w1") == first.changes.revision("w1")
        await third.close()
    finally:
        await second.close()
        await first.close()


async def test_sqlite_concurrent_writers_wait_for_each_other(
    tmp_path: Path, anyio_backend: str
) -> None:
    first = await open_sqlite(tmp_path / "k.db")
    second = await open_sqlite(tmp_path / "k.db")
    try:
        await first.create_workspace(workspace())
        async with anyio.create_task_group() as group:
            for n in range(10):
                writer = first if n % 2 else second
                group.start_soon(writer.create_api_key, api_key(f"k{n}"))
        assert len(await second.list_api_keys("w1")) == 10
    finally:
        await second.close()
        await first.close()


async def test_sqlite_migration_matches_schema(tmp_path: Path, anyio_backend: str) -> None:
    store = SqliteStore(str(tmp_path / "k.db"))
    await store.migrate()
    await store.migrate()  # idempotent
    engine = create_engine(f"sqlite:///{tmp_path / 'k.db'}")
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


async def test_sqlite_runs_in_wal_mode(tmp_path: Path, anyio_backend: str) -> None:
    store = SqliteStore(str(tmp_path / "k.db"))
    await store.migrate()  # the file is in WAL mode from its creation
    with sqlite3.connect(tmp_path / "k.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()


def make_empty_database(path: Path) -> None:
    sqlite3.connect(path).close()


def make_old_database(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
    conn.execute("INSERT INTO alembic_version VALUES ('0000')")
    conn.commit()
    conn.close()


def make_garbage_file(path: Path) -> None:
    path.write_bytes(b"this is not a database" * 100)


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        (None, "keyroute init"),
        (make_empty_database, "keyroute migrate"),
        (make_old_database, "keyroute migrate"),
        (make_garbage_file, "cannot read"),
    ],
)
async def test_sqlite_open_refuses_a_database_that_is_not_migrated(
    tmp_path: Path, anyio_backend: str, prepare: Callable[[Path], None] | None, message: str
) -> None:
    path = tmp_path / "k.db"
    if prepare is not None:
        prepare(path)
    store = SqliteStore(str(path))
    with pytest.raises(ConfigError, match=message):
        await store.open()
    assert store.changes.latest() == 0
    await store.close()


async def test_sqlite_store_must_be_opened(tmp_path: Path, anyio_backend: str) -> None:
    with pytest.raises(RuntimeError, match="open"):
        await SqliteStore(str(tmp_path / "k.db")).get_setting("k")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:////data/keyroute.db", "/data/keyroute.db"),
        ("sqlite+aiosqlite:////data/keyroute.db", "/data/keyroute.db"),
        ("/data/keyroute.db", "/data/keyroute.db"),
    ],
)
def test_sqlite_path(url: str, expected: str) -> None:
    assert sqlite_path(url) == Path(expected)


def test_sqlite_relative_path() -> None:
    assert sqlite_path("sqlite:///keyroute.db") == Path.cwd() / "keyroute.db"


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///:memory:", "postgresql://h/db", "::bad://"]
)
def test_sqlite_path_rejects(url: str) -> None:
    with pytest.raises(ConfigError):
        sqlite_path(url)
