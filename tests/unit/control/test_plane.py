"""``keyroute.control.plane.ControlPlane`` over a ``MemoryStore`` and a real ``KeyVault``."""

from __future__ import annotations

import hashlib
from dataclasses import fields
from datetime import UTC, datetime, timedelta

import pytest

from keyroute.control.base_url import BaseUrlPolicy
from keyroute.control.plane import ControlPlane
from keyroute.core.errors import Conflict, InvalidRequest, NotFound
from keyroute.storage.base import UsageRow
from keyroute.storage.memory import MemoryStore
from keyroute.vault.keystore import KeyVault
from keyroute.vault.masterkey import MasterKeyring, new_master_key

T0 = datetime(2025, 1, 1, tzinfo=UTC)
PROVIDER_KEY = "sk-proj-abcdefghijklmnop1234"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def plane() -> ControlPlane:
    store = MemoryStore()
    keyring = MasterKeyring.from_env(new_master_key().hex())
    return ControlPlane(store, KeyVault(store, keyring), clock=Clock())


async def check_error(coro: object, cls: type[Exception], param: str | None) -> None:
    with pytest.raises(cls) as info:
        await coro  # type: ignore[misc]
    assert type(info.value) is cls
    assert getattr(info.value, "param", None) == param


pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("name", ["a", "0", "team-a", "a.b_c-9", "x" * 63, "9lives"])
async def test_valid_workspace_names(plane: ControlPlane, name: str) -> None:
    assert (await plane.create_workspace(name)).name == name


@pytest.mark.parametrize(
    "name", ["", "Team", "-a", ".a", "_a", "a b", "x" * 64, "café", "a/b", "ws!", "\na"]
)
async def test_invalid_workspace_names(plane: ControlPlane, name: str) -> None:
    await check_error(plane.create_workspace(name), InvalidRequest, "name")


@pytest.mark.parametrize("name", ["a\n", "team-a\n"])
async def test_trailing_newline_is_not_a_valid_name(plane: ControlPlane, name: str) -> None:
    await check_error(plane.create_workspace(name), InvalidRequest, "name")


async def test_workspace_record(plane: ControlPlane) -> None:
    ws = await plane.create_workspace("team-a")
    assert ws.id.startswith("ws_") and len(ws.id) == 3 + 16
    assert (ws.plan, ws.created_at) == ("free", T0 + timedelta(seconds=1))
    assert ws.wrapped_data_key and ws.master_key_id == plane.vault.keyring.active_id
    assert await plane.workspace("team-a") == ws
    assert await plane.workspace(ws.id) == ws


async def test_duplicate_workspace_is_a_conflict(plane: ControlPlane) -> None:
    await plane.create_workspace("team-a")
    await check_error(plane.create_workspace("team-a"), Conflict, "name")
    assert len(await plane.list_workspaces()) == 1


@pytest.mark.parametrize(
    ("plan_name", "expected"), [(None, "free"), ("scale", "scale"), ("business", "business")]
)
async def test_plans(plane: ControlPlane, plan_name: str | None, expected: str) -> None:
    assert (await plane.create_workspace("w", plan_name)).plan == expected


async def test_unknown_plan(plane: ControlPlane) -> None:
    await check_error(plane.create_workspace("w", "gold"), InvalidRequest, "plan")
    assert await plane.list_workspaces() == []


async def test_list_and_delete_workspaces(plane: ControlPlane) -> None:
    for name in ("b", "a", "c"):
        await plane.create_workspace(name)
    assert [w.name for w in await plane.list_workspaces()] == ["a", "b", "c"]
    deleted = await plane.delete_workspace("b")
    assert deleted.name == "b"
    assert [w.name for w in await plane.list_workspaces()] == ["a", "c"]
    await check_error(plane.workspace("b"), NotFound, "workspace")
    await check_error(plane.delete_workspace("b"), NotFound, "workspace")


async def test_unknown_workspace(plane: ControlPlane) -> None:
    await check_error(plane.workspace("ghost"), NotFound, "workspace")
    await check_error(plane.create_api_key("ghost"), NotFound, "workspace")
    await check_error(plane.add_provider_key("ghost", "demo", ""), NotFound, "workspace")
    await check_error(plane.set_alias("ghost", "a", "demo/fast"), NotFound, "workspace")


async def test_api_key(plane: ControlPlane) -> None:
    ws = await plane.create_workspace("team-a")
    created = await plane.create_api_key("team-a", "ci")
    key, record = created.key, created.record
    assert key.startswith("kr-") and len(key) == 46
    assert record.prefix == key[:9]
    assert record.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert (record.workspace_id, record.name, record.revoked_at) == (ws.id, "ci", None)
    assert record.id.startswith("key_")
    assert all(key not in str(getattr(record, f.name)) for f in fields(record))
    assert await plane.list_api_keys("team-a") == [record]


async def test_api_key_default_name(plane: ControlPlane) -> None:
    await plane.create_workspace("w")
    name = (await plane.create_api_key("w")).record.name
    assert name.startswith("key-") and len(name) == 10


async def test_api_key_name_is_validated(plane: ControlPlane) -> None:
    await plane.create_workspace("w")
    await check_error(plane.create_api_key("w", "Bad Name"), InvalidRequest, "name")


async def test_revoke_api_key(plane: ControlPlane) -> None:
    await plane.create_workspace("w")
    await plane.create_workspace("other")
    record = (await plane.create_api_key("w", "k")).record
    await check_error(plane.revoke_api_key("other", record.id), NotFound, "id")
    await check_error(plane.revoke_api_key("w", "key_missing"), NotFound, "id")
    await plane.revoke_api_key("w", record.id)
    (revoked,) = await plane.list_api_keys("w")
    assert revoked.revoked_at is not None
    await check_error(plane.revoke_api_key("w", record.id), NotFound, "id")


async def test_keyless_demo_provider_key(plane: ControlPlane) -> None:
    ws = await plane.create_workspace("w")
    record = await plane.add_provider_key("w", "demo", "")
    assert (record.provider, record.name, record.base_url) == ("demo", "demo", None)
    assert (record.ciphertext, record.nonce, record.fingerprint, record.last4) == (b"", b"", "", "")
    assert record.workspace_id == ws.id and record.id.startswith("pk_")
    assert await plane.list_provider_keys("w") == [record]


async def test_sealed_provider_key(plane: ControlPlane) -> None:
    ws = await plane.create_workspace("w")
    record = await plane.add_provider_key("w", "openai", f"  {PROVIDER_KEY}\n", name="main")
    assert (record.name, record.last4) == ("main", "1234")
    assert record.fingerprint and PROVIDER_KEY not in record.fingerprint
    assert PROVIDER_KEY.encode() not in record.ciphertext and record.nonce
    assert plane.vault.open_provider_key(ws, record).reveal() == PROVIDER_KEY


@pytest.mark.parametrize(
    ("provider", "key", "base_url", "param"),
    [
        ("openai", "", None, "key"),
        ("openai", "   ", None, "key"),
        ("openai-compatible", "", None, "base_url"),
        ("demo", "", "https://x.test", "base_url"),
        ("openai", PROVIDER_KEY, "ftp://x.test", "base_url"),
        ("nope", PROVIDER_KEY, None, "provider"),
    ],
)
async def test_provider_key_errors(
    plane: ControlPlane, provider: str, key: str, base_url: str | None, param: str
) -> None:
    await plane.create_workspace("w")
    await check_error(
        plane.add_provider_key("w", provider, key, base_url=base_url), InvalidRequest, param
    )
    assert await plane.list_provider_keys("w") == []


@pytest.mark.parametrize(
    ("key", "position"),
    [
        ("sk-abc\r\nx-evil: 1", "U+000D at position 6"),
        ("sk-abc\ndef", "U+000A at position 6"),
        ("sk-\x00abc", "U+0000 at position 3"),
        ("sk-abc def", "U+0020 at position 6"),
        ("sk-abc\tdef", "U+0009 at position 6"),
        ("sk-\u0430bc", "U+0430 at position 3"),
        ("sk-caf\u00e9", "U+00E9 at position 6"),
        ("sk-abc\x7f", "U+007F at position 6"),
        ("sk-\x1b[2Jabc", "U+001B at position 3"),
    ],
)
async def test_provider_keys_with_control_or_non_ascii_characters_are_refused(
    plane: ControlPlane, key: str, position: str
) -> None:
    await plane.create_workspace("w")
    with pytest.raises(InvalidRequest) as info:
        await plane.add_provider_key("w", "openai", key)
    assert info.value.param == "key"
    assert position in info.value.message
    assert key.strip() not in info.value.message  # the key is never echoed
    assert await plane.list_provider_keys("w") == []


async def test_surrounding_whitespace_of_a_pasted_key_is_still_trimmed(plane: ControlPlane) -> None:
    await plane.create_workspace("w")
    record = await plane.add_provider_key("w", "openai", f"  {PROVIDER_KEY}\n")
    ws = await plane.workspace("w")
    assert plane.vault.open_provider_key(ws, record).reveal() == PROVIDER_KEY


@pytest.mark.parametrize(
    "base_url",
    [
        "http://[::1",
        "http://169.254.169.254",
        "http://metadata.google.internal",
        "http://user:pass@api.example.com",
        "http://2852039166",
        "http://0.0.0.0:8000",
        "http://x.test\r\nx-evil: 1",
    ],
)
async def test_base_urls_go_through_the_policy(plane: ControlPlane, base_url: str) -> None:
    await plane.create_workspace("w")
    await check_error(
        plane.add_provider_key("w", "openai-compatible", "", base_url=base_url),
        InvalidRequest,
        "base_url",
    )
    assert await plane.list_provider_keys("w") == []


async def test_the_base_url_policy_is_a_constructor_argument() -> None:
    store = MemoryStore()
    keyring = MasterKeyring.from_env(new_master_key().hex())
    strict = ControlPlane(
        store, KeyVault(store, keyring), base_urls=BaseUrlPolicy(allow_loopback=False)
    )
    await strict.create_workspace("w")
    await check_error(
        strict.add_provider_key("w", "ollama", "", base_url="http://127.0.0.1:11434"),
        InvalidRequest,
        "base_url",
    )


async def test_provider_key_name_is_validated(plane: ControlPlane) -> None:
    await plane.create_workspace("w")
    await check_error(plane.add_provider_key("w", "demo", "", name="Nope!"), InvalidRequest, "name")


@pytest.mark.parametrize(
    ("provider", "key", "base_url", "expected"),
    [
        ("openai-compatible", "", "http://localhost:8000", "http://localhost:8000/v1"),
        ("ollama", "", "http://10.0.0.2:11434/", "http://10.0.0.2:11434/v1"),
        ("anthropic", PROVIDER_KEY, "https://proxy.test/v1", "https://proxy.test"),
    ],
)
async def test_base_url_is_normalised(
    plane: ControlPlane, provider: str, key: str, base_url: str, expected: str
) -> None:
    await plane.create_workspace("w")
    record = await plane.add_provider_key("w", provider, key, base_url=base_url)
    assert record.base_url == expected


async def test_duplicate_provider_key_name_is_a_conflict(plane: ControlPlane) -> None:
    await plane.create_workspace("w")
    await plane.add_provider_key("w", "demo", "")
    with pytest.raises(Conflict):
        await plane.add_provider_key("w", "demo", "")


async def test_revoke_provider_key(plane: ControlPlane) -> None:
    await plane.create_workspace("w")
    record = await plane.add_provider_key("w", "demo", "")
    await check_error(plane.revoke_provider_key("w", "pk_missing"), NotFound, "id")
    await plane.revoke_provider_key("w", record.id)
    await check_error(plane.revoke_provider_key("w", record.id), NotFound, "id")
    await plane.add_provider_key("w", "demo", "")  # the name is free again


@pytest.mark.parametrize(
    ("alias", "target", "param"),
    [
        ("", "demo/fast", "alias"),
        ("a/b", "demo/fast", "alias"),
        ("x" * 129, "demo/fast", "alias"),
        ("fast\r\n", "demo/fast", "alias"),
        ("fa\x00st", "demo/fast", "alias"),
        ("fast\x1b[31m", "demo/fast", "alias"),
        ("f\u0430st", "demo/fast", "alias"),  # Cyrillic a
        ("fast", "demo/fast\n", "target"),
        ("fast", "demo/f ast", "target"),
        ("fast", "gemini/../../v1/files", "target"),
        ("fast", "fast", "target"),
        ("fast", "", "target"),
    ],
)
async def test_alias_errors(plane: ControlPlane, alias: str, target: str, param: str) -> None:
    await plane.create_workspace("w")
    await check_error(plane.set_alias("w", alias, target), InvalidRequest, param)


async def test_aliases(plane: ControlPlane) -> None:
    ws = await plane.create_workspace("w")
    record = await plane.set_alias("w", "fast", "demo/fast")
    assert (record.workspace_id, record.alias, record.target) == (ws.id, "fast", "demo/fast")
    await plane.set_alias("w", "x" * 128, "openai/gpt-4o")
    await plane.set_alias("w", "fast", "demo/smart")  # replaces
    assert [(a.alias, a.target) for a in await plane.list_aliases("w")] == [
        ("fast", "demo/smart"),
        ("x" * 128, "openai/gpt-4o"),
    ]
    await plane.delete_alias("w", "fast")
    await check_error(plane.delete_alias("w", "fast"), NotFound, "alias")


async def test_admin_token(plane: ControlPlane) -> None:
    assert not await plane.check_admin_token("kra-anything")
    token = await plane.set_admin_token()
    assert token.startswith("kra-")
    assert await plane.check_admin_token(token)
    assert not await plane.check_admin_token(token + "x")
    assert not await plane.check_admin_token(None)
    assert not await plane.check_admin_token("")
    stored = await plane.store.get_setting("admin_token_sha256")
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    newer = await plane.set_admin_token()
    assert not await plane.check_admin_token(token)
    assert await plane.check_admin_token(newer)


async def test_delete_workspace_forgets_its_keys(plane: ControlPlane) -> None:
    ws = await plane.create_workspace("w")
    record = await plane.add_provider_key("w", "openai", PROVIDER_KEY)
    await plane.delete_workspace("w")
    assert await plane.store.list_provider_keys(ws.id) == []
    assert await plane.store.get_workspace(ws.id) is None
    assert record.workspace_id == ws.id


# Usage


async def test_usage_report_by_workspace_name(plane: ControlPlane) -> None:
    ws = await plane.create_workspace("team")
    row = UsageRow(
        id="r1",
        request_id="req_1",
        workspace_id=ws.id,
        time=T0 - timedelta(hours=1),
        endpoint="/v1/chat/completions",
        inbound_format="openai",
        status=200,
        served_model="demo/fast",
        input_tokens=7,
        paid_pico=3,
        list_pico=4,
    )
    assert await plane.store.usage.append([row]) == 1
    result = await plane.usage("team", by="model", since="2024-12-31", until="2024-12-31")
    assert result.workspace_id == ws.id
    assert [(line.group, line.totals.input_tokens) for line in result.lines] == [("demo/fast", 7)]
    assert result.until == T0  # a bare date as ``until`` includes that day
    by_key = await plane.usage("team", by="key")
    assert by_key.names == {} and [line.group for line in by_key.lines] == [None]
    key = await plane.create_api_key("team", "ci")
    assert (await plane.usage("team", by="key")).names == {key.record.id: "ci"}
    later = await plane.usage(ws.id, since="30m")  # the clock is just past T0
    assert later.total.requests == 0


async def test_usage_errors_name_their_parameter(plane: ControlPlane) -> None:
    await plane.create_workspace("team")
    await check_error(plane.usage("nope"), NotFound, "workspace")
    await check_error(plane.usage("team", by="colour"), InvalidRequest, "by")
    await check_error(plane.usage("team", since="soon"), InvalidRequest, "since")
    await check_error(plane.usage("team", until="2025-13-01"), InvalidRequest, "until")
    await check_error(
        plane.usage("team", since="2025-01-02", until="2025-01-01T00:00Z"), InvalidRequest, "until"
    )
