"""``keyroute.control.resilience``: fallback chains, timeouts and key weights, checked and
audited."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from keyroute.audit.entries import AdminEvent
from keyroute.control.plane import ControlPlane
from keyroute.core.errors import InvalidRequest, NotFound
from keyroute.storage.memory import MemoryStore
from keyroute.vault.keystore import KeyVault
from keyroute.vault.masterkey import MasterKeyring, new_master_key

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Events:
    def __init__(self) -> None:
        self.events: list[AdminEvent] = []

    def log_event(self, event: AdminEvent) -> None:
        self.events.append(event)


@pytest.fixture
async def setup() -> tuple[ControlPlane, Events]:
    store = MemoryStore()
    events = Events()
    keyring = MasterKeyring.from_env(new_master_key().hex())
    plane = ControlPlane(store, KeyVault(store, keyring), clock=lambda: T0, events=events)
    await plane.create_workspace("team")
    return plane, events


async def test_fallback_set_show_clear_with_events(setup: tuple[ControlPlane, Events]) -> None:
    plane, events = setup
    control = plane.resilience
    await control.set_fallback("team", "openai/gpt-4o", ["anthropic/claude-sonnet-5"])
    await control.set_fallback("team", "openai/gpt-4o", ["gemini/gemini-4-neon", "next-best"])
    await control.set_fallback("team", None, ["next-best"], on_refusal=True)
    views = [s.view() for s in await control.fallbacks("team")]
    assert [(v["model"], v["chain"], v["on_refusal"]) for v in views] == [
        ("*", ["next-best"], True),
        ("openai/gpt-4o", ["gemini/gemini-4-neon", "next-best"], False),
    ]
    (only,) = await control.fallbacks("team", "openai/gpt-4o")
    assert only.subject == "openai/gpt-4o"
    assert await control.clear_fallback("team", "openai/gpt-4o") == "openai/gpt-4o"
    with pytest.raises(NotFound):
        await control.clear_fallback("team", "openai/gpt-4o")
    with pytest.raises(NotFound):
        await control.fallbacks("team", "openai/gpt-4o")
    fallback_events = [e for e in events.events if e.action.startswith("fallback.")]
    assert [e.action for e in fallback_events] == [
        "fallback.set",
        "fallback.set",
        "fallback.set",
        "fallback.clear",
    ]
    second = fallback_events[1]
    assert second.old is not None and "claude-sonnet-5" in str(second.old["value"])
    assert second.new is not None and "next-best" in str(second.new["value"])


@pytest.mark.parametrize(
    ("model", "chain", "param"),
    [
        ("openai/gpt-4o", [], "chain"),
        ("openai/gpt-4o", ["bad id"], "chain[0]"),
        ("openai/gpt-4o", ["a/b", "openai/gpt-4o"], "chain[1]"),
        ("bad id", ["a/b"], "model"),
        ("openai/gpt-4o", "a/b", "chain"),
    ],
)
async def test_a_bad_chain_is_refused_by_name(
    setup: tuple[ControlPlane, Events], model: str, chain: object, param: str
) -> None:
    plane, _ = setup
    with pytest.raises(InvalidRequest) as caught:
        await plane.resilience.set_fallback("team", model, chain)  # type: ignore[arg-type]
    assert caught.value.param == param


async def test_timeouts_set_show_clear(setup: tuple[ControlPlane, Events]) -> None:
    plane, _ = setup
    control = plane.resilience
    await control.set_timeouts("team", None, {"total": 60, "first_byte": 10})
    await control.set_timeouts("team", "openai/gpt-4o", {"idle": 5})
    views = [t.view() for t in await control.timeouts("team")]
    assert views[0]["model"] == "*" and views[0]["total_seconds"] == 60.0
    assert views[1]["idle_seconds"] == 5.0 and views[1]["total_seconds"] is None
    with pytest.raises(InvalidRequest) as caught:
        await control.set_timeouts("team", None, {"total": -1})
    assert caught.value.param == "timeouts" and "total" in caught.value.message
    assert await control.clear_timeouts("team", "*") == "*"
    assert [t.subject for t in await control.timeouts("team")] == ["openai/gpt-4o"]


async def test_key_weights_name_an_active_key(setup: tuple[ControlPlane, Events]) -> None:
    plane, events = setup
    key = await plane.add_provider_key("team", "openai", "sk-proj-abcdefghijklmnop1234")
    row = await plane.resilience.set_key_weight("team", key.name, 3)
    assert row == {"id": key.id, "name": key.name, "provider": "openai", "weight": 3}
    assert await plane.resilience.key_weights("team") == {key.id: 3}
    for bad in (-1, 1001, True, 1.5, "2"):
        with pytest.raises(InvalidRequest):
            await plane.resilience.set_key_weight("team", key.id, bad)
    await plane.revoke_provider_key("team", key.id)
    with pytest.raises(NotFound):
        await plane.resilience.set_key_weight("team", key.id, 2)
    assert "key_weight.set" in [e.action for e in events.events]
