import base64
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from keyroute.core.errors import ConfigError, InvalidRequest
from keyroute.storage.base import ProviderKeyRecord, Store, WorkspaceRecord
from keyroute.storage.memory import MemoryStore
from keyroute.storage.sqlite import SqliteStore
from keyroute.vault.crypto import legacy_provider_key_aad, seal, unwrap_data_key
from keyroute.vault.keystore import KeyVault
from keyroute.vault.masterkey import MasterKeyring, master_key_id, new_master_key

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ENV_KEY = bytes(range(32))


def plaintext(workspace_id: str) -> str:
    return f"sk-{workspace_id}-0123456789abcdefXYZ9"


@pytest.fixture(params=["memory", "sqlite"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, anyio_backend: str
) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    sqlite = SqliteStore(str(tmp_path / "k.db"))
    await sqlite.migrate()
    await sqlite.open()
    try:
        yield sqlite
    finally:
        await sqlite.close()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "master.key"


@pytest.fixture
def keyring(path: Path) -> MasterKeyring:
    return MasterKeyring.generate(path)


async def add_workspace(vault: KeyVault, store: Store, workspace_id: str) -> WorkspaceRecord:
    wrapped, master_id = vault.new_workspace_key(workspace_id)
    record = WorkspaceRecord(
        id=workspace_id,
        name=workspace_id,
        plan="free",
        created_at=T0,
        wrapped_data_key=wrapped,
        master_key_id=master_id,
    )
    await store.create_workspace(record)
    return record


async def add_key(vault: KeyVault, store: Store, workspace: WorkspaceRecord) -> ProviderKeyRecord:
    key_id = "pk-" + workspace.id
    nonce, ciphertext, fingerprint, last4 = vault.seal_provider_key(
        workspace, key_id, plaintext(workspace.id), provider="openai", base_url=None
    )
    record = ProviderKeyRecord(
        id=key_id,
        workspace_id=workspace.id,
        provider="openai",
        name="main",
        base_url=None,
        ciphertext=ciphertext,
        nonce=nonce,
        fingerprint=fingerprint,
        last4=last4,
        created_at=T0,
    )
    await store.add_provider_key(record)
    return record


async def populate(vault: KeyVault, store: Store, *ids: str) -> None:
    for workspace_id in ids:
        await add_key(vault, store, await add_workspace(vault, store, workspace_id))


async def assert_all_open(store: Store, keyring: MasterKeyring) -> None:
    """A fresh vault (empty cache) opens every stored key with ``keyring``."""
    vault = KeyVault(store, keyring)
    for workspace in await store.list_workspaces():
        for record in await store.list_provider_keys(workspace.id):
            assert vault.open_provider_key(workspace, record).reveal() == plaintext(workspace.id)


async def test_seal_and_open(store: Store, keyring: MasterKeyring, path: Path) -> None:
    vault = KeyVault(store, keyring)
    workspace = await add_workspace(vault, store, "w1")
    assert workspace.master_key_id == keyring.active_id
    record = await add_key(vault, store, workspace)
    assert record.last4 == "XYZ9"
    assert record.fingerprint.startswith("sha256:")
    assert plaintext("w1").encode() not in record.ciphertext
    secret = vault.open_provider_key(workspace, record)
    assert secret.reveal() == plaintext("w1")
    assert plaintext("w1") not in repr(secret) + str(secret)
    vault.forget("w1")
    assert vault.open_provider_key(workspace, record).reveal() == plaintext("w1")
    await assert_all_open(store, MasterKeyring.load(path))


async def test_a_key_only_opens_where_it_was_sealed(store: Store, keyring: MasterKeyring) -> None:
    vault = KeyVault(store, keyring)
    await populate(vault, store, "w1", "w2")
    w1, w2 = await store.list_workspaces()
    (key_x,) = await store.list_provider_keys("w1")
    as_other_id = dataclasses.replace(key_x, id="pk-other")
    as_other_workspace = dataclasses.replace(key_x, workspace_id="w2")
    with pytest.raises(ConfigError, match="cannot decrypt") as caught:
        vault.open_provider_key(w1, as_other_id)
    assert plaintext("w1") not in str(caught.value)
    with pytest.raises(ConfigError, match="cannot decrypt"):
        vault.open_provider_key(w2, as_other_workspace)
    with pytest.raises(ConfigError, match="another workspace"):
        vault.open_provider_key(w2, key_x)


async def test_a_recreated_workspace_does_not_reuse_a_cached_data_key(
    store: Store, keyring: MasterKeyring
) -> None:
    vault = KeyVault(store, keyring)
    await populate(vault, store, "w1")
    await store.delete_workspace("w1")
    await populate(vault, store, "w1")  # same id, new data key; forget() was not called
    await assert_all_open(store, keyring)
    (workspace,) = await store.list_workspaces()
    (record,) = await store.list_provider_keys("w1")
    assert vault.open_provider_key(workspace, record).reveal() == plaintext("w1")


async def test_empty_key_is_refused(keyring: MasterKeyring) -> None:
    store = MemoryStore()
    vault = KeyVault(store, keyring)
    with pytest.raises(InvalidRequest):
        vault.seal_provider_key(
            await add_workspace(vault, store, "w1"), "pk", "", provider="openai", base_url=None
        )


async def test_rotate_keyring_file(store: Store, keyring: MasterKeyring, path: Path) -> None:
    server_keyring = MasterKeyring.load(path)  # another process, loaded before the rotation
    server = KeyVault(store, server_keyring)
    await populate(server, store, "w1", "w2")
    for workspace in await store.list_workspaces():  # warm the server's cache
        for record in await store.list_provider_keys(workspace.id):
            server.open_provider_key(workspace, record)
    old_id = keyring.active_id

    result = await KeyVault(store, keyring).rotate_master()

    assert (result.rewrapped, result.old_id) == (2, old_id)
    assert result.new_id != old_id
    on_disk = MasterKeyring.load(path)
    assert (on_disk.active_id, on_disk.ids) == (result.new_id, (result.new_id,))
    assert {w.master_key_id for w in await store.list_workspaces()} == {result.new_id}
    await assert_all_open(store, on_disk)
    await assert_all_open(store, server_keyring)  # picks the new key up through key(id)
    await populate(server, store, "w3")  # created after: wrapped under the new key
    w3 = await store.get_workspace("w3")
    assert w3 is not None and w3.master_key_id == result.new_id


async def test_rotate_with_a_given_key(store: Store, keyring: MasterKeyring) -> None:
    vault = KeyVault(store, keyring)
    await populate(vault, store, "w1")
    new_key = new_master_key()
    result = await vault.rotate_master(new_key)
    assert result.new_id == master_key_id(new_key)
    with pytest.raises(ConfigError, match="already in use"):
        await vault.rotate_master(new_key)


async def test_rotate_env_key(store: Store) -> None:
    old = base64.b64encode(ENV_KEY).decode()
    vault = KeyVault(store, MasterKeyring.from_env(old))
    await populate(vault, store, "w1", "w2")
    with pytest.raises(ConfigError, match="needs the new key"):
        await vault.rotate_master()
    new_key = new_master_key()
    result = await vault.rotate_master(new_key)
    assert (result.rewrapped, result.old_id) == (2, master_key_id(ENV_KEY))
    assert vault.keyring.ids == (result.new_id,)
    await assert_all_open(store, MasterKeyring.from_env(new_key.hex()))
    with pytest.raises(ConfigError, match="KEYROUTE_MASTER_KEY"):
        await assert_all_open(store, MasterKeyring.from_env(old))


async def run_rotation_steps(vault: KeyVault, new_id: str, steps_after_stage: int) -> None:
    """The steps of ``rotate_master`` after ``_stage``, stopping after ``steps_after_stage``."""
    if steps_after_stage >= 1:
        await vault._rewrap(new_id)
    if steps_after_stage >= 2:
        vault._activate(new_id)
    if steps_after_stage >= 3:
        await vault._rewrap(new_id)
    if steps_after_stage >= 4:
        vault._retire()


@pytest.mark.parametrize("steps_after_stage", range(5))
async def test_rotation_survives_a_crash_between_steps(
    store: Store, keyring: MasterKeyring, path: Path, steps_after_stage: int
) -> None:
    vault = KeyVault(store, keyring)
    await populate(vault, store, "w1", "w2")
    new_id = vault._stage(new_master_key())
    await run_rotation_steps(vault, new_id, steps_after_stage)
    # "Crash": a new process starts from what is on disk and in the database.
    restarted = MasterKeyring.load(path)
    await assert_all_open(store, restarted)
    result = await KeyVault(store, restarted).rotate_master()  # running it again finishes
    assert MasterKeyring.load(path).ids == (result.new_id,)
    await assert_all_open(store, MasterKeyring.load(path))


async def test_rotation_sweeps_workspaces_created_meanwhile(
    store: Store, keyring: MasterKeyring, path: Path
) -> None:
    server = KeyVault(store, MasterKeyring.load(path))
    rotating = KeyVault(store, keyring)
    await populate(rotating, store, "w1")
    new_id = rotating._stage(new_master_key())
    assert await rotating._rewrap(new_id) == 1
    await populate(server, store, "w2")  # still under the old (active) key
    rotating._activate(new_id)
    assert await rotating._rewrap(new_id) == 1  # the sweep catches it
    rotating._retire()
    await assert_all_open(store, MasterKeyring.load(path))


async def test_failed_rewrap_changes_nothing(
    store: Store, keyring: MasterKeyring, path: Path
) -> None:
    vault = KeyVault(store, keyring)
    await populate(vault, store, "w1")
    lost = WorkspaceRecord(
        id="w0",
        name="w0",
        plan="free",
        created_at=T0,
        wrapped_data_key=b"\x00" * 60,
        master_key_id="0" * 16,  # a master key nobody has
    )
    await store.create_workspace(lost)
    before = await store.list_workspaces()
    with pytest.raises(ConfigError, match="0000000000000000"):
        await vault.rotate_master()
    assert await store.list_workspaces() == before
    assert MasterKeyring.load(path).active_id == before[1].master_key_id
    await store.delete_workspace("w0")
    await assert_all_open(store, MasterKeyring.load(path))


async def test_a_warm_server_keeps_serving_after_another_process_rotates(store: Store) -> None:
    old = base64.b64encode(ENV_KEY).decode()
    server = KeyVault(store, MasterKeyring.from_env(old))
    await populate(server, store, "w1", "w2")
    assert await server.warm() == []
    # Another process (the CLI) re-wraps every data key under a key the server does not hold.
    cli = KeyVault(store, MasterKeyring.from_env(old))
    await cli.rotate_master(new_master_key())
    for workspace in await store.list_workspaces():
        for record in await store.list_provider_keys(workspace.id):
            assert server.open_provider_key(workspace, record).reveal() == plaintext(workspace.id)
    # A cold process with the old key cannot, and says which workspaces fail.
    assert sorted(await KeyVault(store, MasterKeyring.from_env(old)).warm()) == ["w1", "w2"]


@pytest.mark.parametrize(
    "change",
    [
        {"base_url": "https://attacker.example/v1"},
        {"base_url": ""},
        {"provider": "mistral"},
        {"provider": "openai-compatible", "base_url": "https://attacker.example/v1"},
    ],
)
async def test_a_repointed_key_does_not_open(
    store: Store, keyring: MasterKeyring, change: dict[str, str]
) -> None:
    vault = KeyVault(store, keyring)
    record = await add_key(vault, store, await add_workspace(vault, store, "w1"))
    (workspace,) = await store.list_workspaces()
    repointed = dataclasses.replace(record, **change)
    with pytest.raises(ConfigError, match="provider or base URL was changed") as caught:
        vault.open_provider_key(workspace, repointed)
    assert plaintext("w1") not in str(caught.value)
    assert vault.open_provider_key(workspace, record).reveal() == plaintext("w1")


async def add_legacy_key(
    store: Store, keyring: MasterKeyring, workspace: WorkspaceRecord, key_id: str, key: str
) -> ProviderKeyRecord:
    """A row as keyroute 0.1 wrote it: sealed under AAD v1 (workspace and key id only)."""
    data_key = unwrap_data_key(keyring.active_key, workspace.wrapped_data_key, workspace.id)
    nonce, ciphertext = (
        seal(data_key, key, legacy_provider_key_aad(workspace.id, key_id)) if key else (b"", b"")
    )
    record = ProviderKeyRecord(
        id=key_id,
        workspace_id=workspace.id,
        provider="openai",
        name=key_id,
        base_url="https://api.example/v1",
        ciphertext=ciphertext,
        nonce=nonce,
        fingerprint="",
        last4="",
        created_at=T0,
        aad_version=1,
    )
    await store.add_provider_key(record)
    return record


async def test_keys_sealed_by_0_1_are_refused_until_resealed(
    store: Store, keyring: MasterKeyring
) -> None:
    vault = KeyVault(store, keyring)
    workspace = await add_workspace(vault, store, "w1")
    legacy = await add_legacy_key(store, keyring, workspace, "pk-old", plaintext("w1"))
    await add_legacy_key(store, keyring, workspace, "pk-keyless", "")
    current = await add_key(vault, store, workspace)
    with pytest.raises(ConfigError, match="keyroute migrate"):
        vault.open_provider_key(workspace, legacy)
    before = store.changes.revision("w1")
    assert await vault.reseal_provider_keys() == 2
    assert store.changes.revision("w1") > before  # a running server drops the records it cached
    assert await vault.reseal_provider_keys() == 0
    by_id = {k.id: k for k in await store.list_provider_keys("w1")}
    assert {k.aad_version for k in by_id.values()} == {2}
    assert by_id[current.id] == current  # already v2: untouched
    assert by_id["pk-keyless"].ciphertext == b""
    resealed = by_id["pk-old"]
    assert vault.open_provider_key(workspace, resealed).reveal() == plaintext("w1")
    with pytest.raises(ConfigError, match="provider or base URL was changed"):
        vault.open_provider_key(workspace, dataclasses.replace(resealed, base_url="https://x/v1"))


async def test_a_failed_reseal_changes_nothing(store: Store, keyring: MasterKeyring) -> None:
    vault = KeyVault(store, keyring)
    workspace = await add_workspace(vault, store, "w1")
    good = await add_legacy_key(store, keyring, workspace, "pk-a", plaintext("w1"))
    other = await add_workspace(vault, store, "w2")
    await add_legacy_key(store, keyring, other, "pk-z", plaintext("w2"))
    # A v1 row whose ciphertext was copied from another workspace: the whole re-seal fails.
    forged = dataclasses.replace(
        good, id="pk-forged", name="forged", workspace_id="w2", nonce=good.nonce
    )
    await store.add_provider_key(forged)
    with pytest.raises(ConfigError, match="cannot decrypt"):
        await vault.reseal_provider_keys()
    rows = await store.list_provider_keys("w1") + await store.list_provider_keys("w2")
    assert {k.aad_version for k in rows} == {1}


async def test_audit_bodies_are_bound_to_their_workspace_and_request(
    store: Store, keyring: MasterKeyring
) -> None:
    vault = KeyVault(store, keyring)
    a = await add_workspace(vault, store, "ws_a")
    b = await add_workspace(vault, store, "ws_b")
    sealed = vault.seal_audit_body(a, "req_1", '{"request": "hi"}')
    assert b"hi" not in sealed
    assert vault.open_audit_body(a, "req_1", sealed) == '{"request": "hi"}'
    with pytest.raises(ConfigError):
        vault.open_audit_body(a, "req_2", sealed)
    with pytest.raises(ConfigError):
        vault.open_audit_body(b, "req_1", sealed)
