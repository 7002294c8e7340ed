"""The control plane's audit operations and admin events: who did what, secrets masked,
exports audited, one workspace's chain at a time."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from keyroute.audit.entries import AdminEvent
from keyroute.control.audit_log import Actor, ExportFilters, acting_as
from keyroute.control.plane import ControlPlane
from keyroute.core.errors import InvalidRequest, NotFound
from keyroute.storage.memory import MemoryStore
from keyroute.vault.keystore import KeyVault
from keyroute.vault.masterkey import MasterKeyring, new_master_key

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 1, 1, tzinfo=UTC)
PROVIDER_KEY = "sk-proj-abcdefghijklmnop1234"


class Events:
    def __init__(self) -> None:
        self.events: list[AdminEvent] = []

    def log_event(self, event: AdminEvent) -> None:
        self.events.append(event)


@pytest.fixture
def setup() -> tuple[ControlPlane, Events]:
    store = MemoryStore()
    events = Events()
    keyring = MasterKeyring.from_env(new_master_key().hex())
    plane = ControlPlane(store, KeyVault(store, keyring), clock=lambda: T0, events=events)
    return plane, events


async def test_every_change_is_an_event_with_secrets_masked(
    setup: tuple[ControlPlane, Events],
) -> None:
    plane, events = setup
    ws = await plane.create_workspace("team")
    created = await plane.create_api_key("team", "ci")
    with acting_as(Actor("admin-token", "10.1.2.3")):
        pk = await plane.add_provider_key("team", "openai", PROVIDER_KEY)
        await plane.set_alias("team", "fast", "openai/gpt-4o-mini")
        await plane.set_alias("team", "fast", "openai/gpt-4o")
    await plane.revoke_api_key("team", created.record.id)
    await plane.revoke_provider_key("team", pk.id)
    await plane.delete_alias("team", "fast")
    await plane.set_prices("team", provider="openai", discount="15")
    await plane.clear_prices("team", provider="openai")
    await plane.audit.set_retention("team", "30")
    await plane.delete_workspace("team")
    actions = [e.action for e in events.events]
    assert actions == [
        "workspace.create",
        "key.add",
        "provider_key.add",
        "alias.set",
        "alias.set",
        "key.revoke",
        "provider_key.revoke",
        "alias.delete",
        "prices.set",
        "prices.clear",
        "audit.retention",
        "workspace.delete",
    ]
    assert all(e.workspace_id == ws.id for e in events.events)
    text = json.dumps([e.new for e in events.events] + [e.old for e in events.events], default=str)
    assert PROVIDER_KEY not in text and created.key not in text and "key_hash" not in text
    added = events.events[2]
    assert (added.actor, added.client_ip) == ("admin-token", "10.1.2.3")
    assert added.new is not None and added.new["last4"] == "1234"
    assert events.events[4].old == {"target": "openai/gpt-4o-mini"}
    assert events.events[4].new == {"target": "openai/gpt-4o"}
    assert events.events[0].actor.startswith("cli")
    assert events.events[10].new == {"days": "30"}


async def test_an_export_is_audited_and_bad_filters_are_named(
    setup: tuple[ControlPlane, Events],
) -> None:
    plane, events = setup
    ws = await plane.create_workspace("team")
    lines = await plane.audit.export("team", ExportFilters(status="404"), "csv")
    assert [line async for line in lines][0].startswith("seq,kind,time")
    assert events.events[-1].action == "audit.export"
    assert events.events[-1].details == {"format": "csv", "filters": {"status": "404"}}
    for filters, fmt, param in (
        (ExportFilters(), "xml", "format"),
        (ExportFilters(status="abc"), "jsonl", "status"),
        (ExportFilters(status="700"), "jsonl", "status"),
        (ExportFilters(since="yesterday-ish"), "jsonl", "since"),
    ):
        with pytest.raises(InvalidRequest) as info:
            await plane.audit.export("team", filters, fmt)
        assert info.value.param == param
    with pytest.raises(NotFound):
        await plane.audit.export("nobody", ExportFilters(), "jsonl")
    assert (await plane.audit.head("team"))[0] == ws.id


async def test_verify_and_retention_check_their_input(setup: tuple[ControlPlane, Events]) -> None:
    plane, _ = setup
    await plane.create_workspace("team")
    with pytest.raises(InvalidRequest) as info:
        await plane.audit.verify("team", expect="12")
    assert info.value.param == "expect"
    assert (await plane.audit.verify("team")).ok
    with pytest.raises(InvalidRequest) as info:
        await plane.audit.set_retention("team", "-1")
    assert info.value.param == "days"
    assert await plane.audit.retention("team") is None
    assert await plane.audit.set_retention("team", "1.5") == await plane.audit.retention("team")
    assert await plane.audit.set_retention("team", None) is None
