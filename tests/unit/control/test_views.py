"""``keyroute.control.views``: JSON views of records never hold secrets."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from keyroute.control.plane import ControlPlane
from keyroute.control.views import alias_view, api_key_view, provider_key_view, workspace_view
from keyroute.storage.base import AliasRecord, ApiKeyRecord, ProviderKeyRecord, WorkspaceRecord
from keyroute.storage.memory import MemoryStore
from keyroute.vault.keystore import KeyVault
from keyroute.vault.masterkey import MasterKeyring, new_master_key

T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
PROVIDER_KEY = "sk-ant-api03-verysecretvalue-WXYZ"

WORKSPACE = WorkspaceRecord(
    id="ws_1",
    name="team-a",
    plan="scale",
    created_at=T0,
    wrapped_data_key=b"wrapped-data-key",
    master_key_id="mk1",
)
API_KEY = ApiKeyRecord(
    id="key_1",
    workspace_id="ws_1",
    name="ci",
    prefix="kr-abcdef",
    key_hash="f" * 64,
    created_at=T0,
    last_used_at=T0 + timedelta(hours=1),
)
PROVIDER = ProviderKeyRecord(
    id="pk_1",
    workspace_id="ws_1",
    provider="anthropic",
    name="main",
    base_url=None,
    ciphertext=b"ciphertext",
    nonce=b"nonce-123456",
    fingerprint="ab12cd34",
    last4="WXYZ",
    created_at=T0,
    revoked_at=T0 + timedelta(days=1),
)
ALIAS = AliasRecord(workspace_id="ws_1", alias="fast", target="demo/fast", created_at=T0)

SECRET_FIELDS = {"key_hash", "ciphertext", "nonce", "wrapped_data_key", "master_key_id", "key"}


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        (
            workspace_view(WORKSPACE),
            {
                "id": "ws_1",
                "name": "team-a",
                "plan": "scale",
                "monthly_request_quota": 500_000,
                "created_at": "2025-01-02T03:04:05Z",
            },
        ),
        (
            workspace_view(
                WorkspaceRecord(
                    id="ws_1",
                    name="team-a",
                    plan="legacy",
                    created_at=T0,
                    wrapped_data_key=b"",
                    master_key_id="",
                )
            ),
            {
                "id": "ws_1",
                "name": "team-a",
                "plan": "legacy",
                "monthly_request_quota": None,
                "created_at": "2025-01-02T03:04:05Z",
            },
        ),
        (
            api_key_view(API_KEY),
            {
                "id": "key_1",
                "workspace_id": "ws_1",
                "name": "ci",
                "prefix": "kr-abcdef",
                "created_at": "2025-01-02T03:04:05Z",
                "last_used_at": "2025-01-02T04:04:05Z",
                "revoked_at": None,
                "paused_at": None,
                "active": True,
                "paused": False,
            },
        ),
        (
            provider_key_view(PROVIDER),
            {
                "id": "pk_1",
                "workspace_id": "ws_1",
                "provider": "anthropic",
                "name": "main",
                "base_url": None,
                "fingerprint": "ab12cd34",
                "last4": "WXYZ",
                "created_at": "2025-01-02T03:04:05Z",
                "revoked_at": "2025-01-03T03:04:05Z",
                "active": False,
            },
        ),
        (
            alias_view(ALIAS),
            {"alias": "fast", "target": "demo/fast", "created_at": "2025-01-02T03:04:05Z"},
        ),
    ],
)
def test_views(view: dict[str, object], expected: dict[str, object]) -> None:
    assert view == expected
    assert not SECRET_FIELDS & set(view)
    json.dumps(view)  # JSON-ready: no bytes, no datetimes


def test_non_utc_times_keep_their_offset() -> None:
    cet = timezone(timedelta(hours=1))
    view = alias_view(
        AliasRecord(
            workspace_id="w",
            alias="a",
            target="x/y",
            created_at=datetime(2025, 1, 1, 12, tzinfo=cet),
        )
    )
    assert view["created_at"] == "2025-01-01T12:00:00+01:00"


@pytest.mark.anyio
async def test_views_of_real_records_hold_no_secret() -> None:
    store = MemoryStore()
    plane = ControlPlane(store, KeyVault(store, MasterKeyring.from_env(new_master_key().hex())))
    ws = await plane.create_workspace("team-a")
    created = await plane.create_api_key("team-a", "ci")
    pk = await plane.add_provider_key("team-a", "anthropic", PROVIDER_KEY)
    text = json.dumps([workspace_view(ws), api_key_view(created.record), provider_key_view(pk)])
    for secret in (
        created.key,
        created.record.key_hash,
        PROVIDER_KEY,
        PROVIDER_KEY[:-4],
        pk.ciphertext.hex(),
        ws.wrapped_data_key.hex(),
    ):
        assert secret not in text
    assert "WXYZ" in text and created.record.prefix in text


def test_prices_are_exact_json_numbers() -> None:
    from datetime import date
    from decimal import Decimal

    import msgspec

    from keyroute.catalogue import builtin
    from keyroute.control.views import model_view, number, price_override_view
    from keyroute.storage.base import PriceOverrideRecord

    assert msgspec.json.encode([number(Decimal("0.10")), number(Decimal("1E+1"))]) == b"[0.10,10]"
    entry = builtin().find("gemini/gemini-4-argon")
    assert entry is not None
    view = msgspec.json.decode(msgspec.json.encode(model_view(entry, date(2026, 12, 3))))
    assert view["prices"]["input"] == 4 and view["prices"]["effective_date"] == "2026-12-01"
    assert [s["input"] for s in view["price_schedule"]] == [2, 4]
    assert model_view(entry, date(2026, 1, 1))["prices"] is None
    record = PriceOverrideRecord(
        workspace_id="w", provider="openai", model="", updated_at=T0, discount_percent=Decimal(15)
    )
    shown = msgspec.json.decode(msgspec.json.encode(price_override_view(record)))
    assert shown == {
        "workspace_id": "w",
        "provider": "openai",
        "model": None,
        "discount_percent": 15,
        "prices": None,
        "updated_at": "2025-01-02T03:04:05Z",
    }
