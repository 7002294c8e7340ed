"""``keyroute.control.caching.CachingSettings``: show, validated updates, one admin event each."""

from __future__ import annotations

from typing import Any

import pytest

from keyroute.audit.entries import AdminEvent
from keyroute.control.plane import ControlPlane
from keyroute.core.errors import InvalidRequest, NotFound
from keyroute.storage.base import CachingSettingsRecord
from keyroute.storage.memory import MemoryStore
from keyroute.vault.keystore import KeyVault
from keyroute.vault.masterkey import MasterKeyring, new_master_key

pytestmark = pytest.mark.anyio


class Events:
    def __init__(self) -> None:
        self.logged: list[AdminEvent] = []

    def log_event(self, event: AdminEvent) -> None:
        self.logged.append(event)


@pytest.fixture
def setup() -> tuple[ControlPlane, Events]:
    store = MemoryStore()
    keyring = MasterKeyring.from_env(new_master_key().hex())
    events = Events()
    return ControlPlane(store, KeyVault(store, keyring), events=events), events


async def test_defaults_then_a_partial_update(setup: tuple[ControlPlane, Events]) -> None:
    plane, events = setup
    ws = await plane.create_workspace("team")
    _, shown = await plane.caching.show("team")
    assert shown == CachingSettingsRecord()
    _, changed = await plane.caching.update("team", {"response_cache": True})
    assert changed == CachingSettingsRecord(response_cache=True)
    _, again = await plane.caching.update(ws.id, {"prompt_cache_ttl": "1h"})
    assert again == CachingSettingsRecord(response_cache=True, prompt_cache_ttl="1h")
    updates = [e for e in events.logged if e.action == "caching.update"]
    assert len(updates) == 2 and updates[0].workspace_id == ws.id
    assert updates[0].old is not None and updates[0].old["response_cache"] is False
    assert updates[0].new is not None and updates[0].new["response_cache"] is True
    await plane.caching.update("team", {"response_cache": True})  # no change, no event
    assert len([e for e in events.logged if e.action == "caching.update"]) == 2


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"prompt_cache": "on"}, "prompt_cache"),
        ({"prompt_cache_ttl": "10m"}, "prompt_cache_ttl"),
        ({"response_cache": "yes"}, "response_cache"),
        ({"response_cache_ttl_seconds": 0}, "response_cache_ttl_seconds"),
        ({"response_cache_ttl_seconds": True}, "response_cache_ttl_seconds"),
        ({"response_cache_ttl_seconds": 1.5}, "response_cache_ttl_seconds"),
        ({"response_cache_ttl_seconds": 10**9}, "response_cache_ttl_seconds"),
        ({"bogus": 1}, "bogus"),
    ],
)
async def test_bad_values_are_refused_by_name(
    setup: tuple[ControlPlane, Events], changes: dict[str, Any], param: str
) -> None:
    plane, _ = setup
    await plane.create_workspace("team")
    with pytest.raises(InvalidRequest) as info:
        await plane.caching.update("team", changes)
    assert info.value.param == param
    assert (await plane.caching.show("team"))[1] == CachingSettingsRecord()


async def test_unknown_workspace(setup: tuple[ControlPlane, Events]) -> None:
    plane, _ = setup
    with pytest.raises(NotFound):
        await plane.caching.show("nobody")
